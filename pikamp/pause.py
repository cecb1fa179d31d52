"""CLIENT PAUSE: every worker holds back its clients' commands until the pause ends.

CLIENT PAUSE sets the pause in every worker (internal ``__pause``) before it
answers OK, so a command is held wherever its client's socket is. A held
command and the ones its client sends after it wait in the client's backlog,
as they do behind a blocking command, and run in order once the pause ends
(its time is up, or CLIENT UNPAUSE). As in Redis 7.0:

- WRITE holds the commands that may write or replicate (PUBLISH ...), and an
  EXEC or a queued command of that kind; ALL holds every command, CLIENT
  UNPAUSE included (the replication stream is not a client: never held);
- a command refused before it would run (arity, NOAUTH) is answered at once;
- a second pause keeps the later end and the stricter mode;
- while paused, no key expires: reads see an expired key as gone, but nothing
  is deleted (no expired event, no expired_keys), so the data stays as it was.
"""
from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING

from pikamp.commands.table import ALL as ROUTE_ALL, COMMANDS, Command, command

if TYPE_CHECKING:  # the worker imports this module
    from pikamp.worker import Client, Worker

WRITE, ALL = 1, 2
# Redis' CMD_MAY_REPLICATE commands (not a COMMAND INFO flag in 7.0); the ones
# pikamp does not serve yet are listed for when it does.
MAY_REPLICATE = frozenset({"publish", "spublish", "pfcount", "eval", "evalsha", "fcall"})


def _writes(cmd: Command | None) -> bool:
    return cmd is not None and (cmd.is_write or cmd.name in MAY_REPLICATE)


def holds(conn: Client, cmd: Command) -> bool:
    """Whether the pause in force holds ``cmd`` of ``conn`` back."""
    w = conn.worker
    if cmd.name == "quit":  # Redis 7.0 answers QUIT before any other check
        return False
    if w.pause_kind == ALL:
        return True
    if _writes(cmd):
        return True
    if cmd.name == "exec" and conn.multi:
        return any(_writes(COMMANDS.get(args[0].lower())) for args in conn.multi)
    return False


def hold(conn: Client, args: list[bytes]) -> None:
    """Park the command; it and what the client sends next run at the end."""
    conn.backlog = deque([args])
    conn.worker.paused_clients.append(conn)


def start(w: Worker, end: float, kind: int) -> None:
    """Pause until ``end`` (time.monotonic, the same clock in every process)."""
    w.pause_kind = max(w.pause_kind, kind)
    if end > w.pause_end:
        w.pause_end = end
        if w.pause_timer is not None:
            w.pause_timer.cancel()
        w.pause_timer = w.loop.call_at(end, finish, w)  # the loop's clock is time.monotonic
    w.update_expiry()


def finish(w: Worker) -> None:
    """End the pause: held clients run what they sent, in the order they were held."""
    if w.pause_timer is not None:
        w.pause_timer.cancel()
        w.pause_timer = None
    w.pause_kind, w.pause_end = 0, 0.0
    w.update_expiry()
    clients, w.paused_clients = w.paused_clients, []
    if clients:  # not inside the command that ended the pause: in a turn of their own
        w.loop.call_soon(_resume, w, clients)


def _resume(w: Worker, clients: list[Client]) -> None:
    w.begin_turn()
    for c in clients:
        backlog, c.backlog = c.backlog, None
        if c.transport is None or backlog is None:
            continue
        c.run_commands(list(backlog))
        w.mark_client(c)


def held_count(w: Worker) -> int:
    """Clients held by the pause (INFO blocked_clients counts them, as Redis does)."""
    return sum(1 for c in w.paused_clients if c.transport is not None)


def end_time(ms: int) -> float:
    return time.monotonic() + ms / 1000


@command("__pause", 3, internal=True, route=ROUTE_ALL, summary="CLIENT PAUSE in this worker")
def _pause_here(ctx, args):
    start(ctx.worker, float(args[1]), int(args[2]))
    return "OK"


@command("__unpause", 1, internal=True, route=ROUTE_ALL, summary="CLIENT UNPAUSE in this worker")
def _unpause_here(ctx, args):
    finish(ctx.worker)
    return "OK"
