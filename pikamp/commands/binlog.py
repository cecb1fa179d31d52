"""PURGELOGSTO (Pika): delete a DB's binlog files up to a number, in the purge
process (pikamp.services.purge), which never deletes the file being written."""
from __future__ import annotations

import re

from pikamp import servicecall
from pikamp.commands.table import LOCAL, command
from pikamp.deferred import Deferred
from pikamp.errors import RespError
from pikamp.services.purge import socket_path

UNAVAILABLE = b"-ERR the purge process is not available; try again\r\n"
INVALID = "ERR Invalid Argument"  # Pika's kInvalidParameter
_FILE = re.compile(rb"^write2file(\d{1,10})$")
_DB = re.compile(rb"^db(\d{1,5})$")


@command("purgelogsto", -2, "admin", route=LOCAL, group="server",
         summary="Delete a DB's binlog files up to write2file<N> (Pika)")
def purgelogsto(ctx, args):
    """PURGELOGSTO write2fileN [dbI] (db0 when no DB is named)."""
    if len(args) > 3:
        raise RespError("ERR wrong number of arguments for 'purgelogsto' command")
    found = _FILE.match(args[1])
    if found is None:
        raise RespError(INVALID)
    db = 0
    if len(args) == 3:
        named = _DB.match(args[2].lower())
        if named is None or int(named.group(1)) >= ctx.worker.ndbs:
            raise RespError("ERR DB not found")
        db = int(named.group(1))
    d = Deferred(ctx.resp3)
    servicecall.ask(ctx.worker, socket_path(ctx.worker.run_dir), [b"PURGE", b"%d" % db, found.group(1)],
                    d.resolve_raw, 30.0, UNAVAILABLE)
    return d
