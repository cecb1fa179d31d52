"""MONITOR: the connection is handed to the monitor process
(pikamp.services.monitor), which answers +OK and streams every command
executed by any worker from then on."""
from __future__ import annotations

from pikamp.commands.table import LOCAL, command
from pikamp.resp import Raw
from pikamp.services.monitor import handover_path


@command("monitor", 1, "admin noscript loading stale", route=LOCAL, group="server",
         summary="Listen for all requests received by the server in real time", complexity="")
def monitor_(ctx, args):
    conn = ctx.conn
    # The replies before this one are written first; the +OK comes from the
    # monitor process once every worker feeds it.
    conn.start_handover(handover_path(conn.worker.run_dir))
    return Raw(b"")
