"""Blocking commands (BLPOP & co.): waiters parked per key in the owner of the DB.

A blocking command that finds nothing to pop calls ``block``: it parks a
Waiter in ``db.blocked[key]`` for each of its keys and returns a Deferred, so
the worker goes on serving other clients. Database.put_meta marks a key with
waiters ready (``db.ready``, and the DB in ``database.READY``); after each
command the worker calls ``serve_all``, which hands the new data to the waiters of each ready key in
the order they blocked (as Redis does), in the same event-loop turn, so their
pops are committed with the write that fed them. A timer on the worker loop
answers a null array when the timeout passes first.

The client's socket may sit on another worker: the command was forwarded, the
Deferred is resolved here and its reply travels back over the IPC link.
"""
from __future__ import annotations

import logging
import re
from collections import deque
from typing import Callable

from pikamp.commands.table import ALL, command
from pikamp.errors import RespError
from pikamp.resp import NULL_ARRAY
from pikamp.storage.database import READY

log = logging.getLogger("pikamp.blocking")

# What a waiter's serve function returns when the key cannot serve it (yet).
NOT_READY = object()

TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
TIMEOUT_NEGATIVE = "ERR timeout is negative"
UNBLOCKED = "UNBLOCKED client unblocked via CLIENT UNBLOCK"

ServeFn = Callable[[object, bytes], object]


class Waiter:
    """One blocked command: the keys it waits on and how to serve it from one of them."""

    __slots__ = ("keys", "serve", "deferred", "conn", "client_id", "timer")

    def __init__(self, keys: list[bytes], serve: ServeFn, deferred, conn, client_id: int) -> None:
        self.keys = keys
        self.serve = serve  # serve(db, key) -> reply value, or NOT_READY
        self.deferred = deferred
        self.conn = conn  # the local Client, or None when the command was forwarded
        self.client_id = client_id  # wherever its socket is (see client_gone)
        self.timer = None

    def gone(self) -> bool:
        """True when the client (on this worker) has disconnected."""
        return self.conn is not None and self.conn.transport is None


def block(ctx, keys: list[bytes], timeout_ms: int, serve: ServeFn, empty: object = NULL_ARRAY):
    """Park the current command on ``keys`` (0 ms: no timeout); returns its
    Deferred. Inside EXEC nothing blocks: the answer is ``empty`` at once (what
    the command answers for no data: a null array, a null bulk for BLMOVE)."""
    from pikamp.deferred import Deferred

    if ctx.worker.in_exec:
        return empty
    deferred = Deferred(ctx.resp3)
    waiter = Waiter(list(dict.fromkeys(keys)), serve, deferred, ctx.conn, ctx.client_id)
    db = ctx.db
    for key in waiter.keys:
        queue = db.blocked.get(key)
        if queue is None:
            queue = db.blocked[key] = deque()
        queue.append(waiter)
    if timeout_ms > 0:
        waiter.timer = ctx.worker.loop.call_later(timeout_ms / 1000, _time_out, ctx.worker, db, waiter)
    return deferred


def _time_out(worker, db, waiter: Waiter) -> None:
    _unpark(db, waiter)
    worker.begin_turn()  # the reply goes out at the end of this turn
    waiter.deferred.resolve(NULL_ARRAY)


def _unpark(db, waiter: Waiter) -> None:
    if waiter.timer is not None:
        waiter.timer.cancel()
    for key in waiter.keys:
        queue = db.blocked[key]
        queue.remove(waiter)
        if not queue:
            del db.blocked[key]


@command("__client_gone", 2, "fast", internal=True, route=ALL,
         summary="A client disconnected: drop its blocked commands in the DBs this worker owns")
def client_gone(ctx, args):
    """Unpark every waiter of client ``args[1]`` so no data is popped for a
    client that is gone (its socket may be on another worker)."""
    client_id = int(args[1])
    for db in ctx.worker.dbs.values():
        mine = {w for queue in db.blocked.values() for w in queue if w.client_id == client_id}
        for waiter in mine:
            _unpark(db, waiter)
            waiter.deferred.resolve_raw(b"")  # nobody reads it; completes the request
    return "OK"


def unblock(worker, client_id: int, error: bool) -> bool:
    """CLIENT UNBLOCK: answer client ``client_id``'s blocked command as if it
    timed out, or with an UNBLOCKED error; False if it is not blocked here."""
    for db in worker.dbs.values():
        for queue in db.blocked.values():
            for waiter in queue:
                if waiter.client_id == client_id:
                    _unpark(db, waiter)
                    worker.begin_turn()
                    waiter.deferred.resolve(RespError(UNBLOCKED) if error else NULL_ARRAY)
                    return True
    return False


def serve_all(worker) -> None:
    """Serve the blocked clients of every DB with ready keys (database.READY)."""
    while READY:
        serve_ready(worker, READY.pop())


def serve_ready(worker, db) -> None:
    """Serve the clients blocked on keys of ``db`` that were written.

    Serving one waiter may write other keys with waiters (BLMOVE's
    destination); those are appended to ``db.ready`` and served in turn.
    """
    ready = db.ready
    i = 0
    while i < len(ready):
        _serve_key(db, ready[i])
        i += 1
    ready.clear()


def _serve_key(db, key: bytes) -> None:
    queue = db.blocked.get(key)
    while queue:
        waiter = queue[0]
        if waiter.gone():
            _unpark(db, waiter)
            continue
        try:
            reply = waiter.serve(db, key)
        except RespError as e:  # e.g. BLMOVE's destination now holds another type
            reply = e
        except Exception as e:  # a bug must not leave the client hanging or stop the worker
            log.exception("serving a blocked client on %r failed", key)
            reply = RespError(f"ERR internal error: {type(e).__name__}")
        if reply is NOT_READY:
            return
        _unpark(db, waiter)
        waiter.deferred.resolve(reply)


# strtold's syntax, as Redis parses a timeout: decimal or hex float, or inf.
_DECIMAL = re.compile(rb"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?")
_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?")
_INF = re.compile(rb"[+-]?inf(?:inity)?", re.IGNORECASE)
_LLONG = 2**63
# (base, log of the largest and of the smallest long double (x86 80-bit), and a
# log beyond which value * 1000 surely exceeds a long long) for each syntax.
_DECIMAL_RANGE = (10, 4932.07, -4951.44, 20)
_HEX_RANGE = (2, 16384, -16445, 66)
_SIGNIFICANT = 40


def parse_timeout(arg: bytes) -> int:
    """A blocking command's timeout in ms (0: wait forever), checked like Redis 7.0.

    Redis reads a long double with strtold, multiplies by 1000 and truncates
    to a long long; a value that does not fit becomes LLONG_MIN ("negative").
    """
    if _INF.fullmatch(arg):
        raise RespError(TIMEOUT_NEGATIVE)
    hexa = _HEX.fullmatch(arg)
    m = hexa or _DECIMAL.fullmatch(arg)
    if m is None or not (m.group(2) or m.group(3)):
        raise RespError(TIMEOUT_NOT_FLOAT)
    sign, frac, exp = m.group(1), m.group(3) or b"", m.group(4)
    digits = (m.group(2) + frac).lstrip(b"0")
    shift = (int(exp) if exp else 0) - len(frac) * (4 if hexa else 1)
    if len(digits) > _SIGNIFICANT:  # more digits cannot change a whole number of ms
        shift += (len(digits) - _SIGNIFICANT) * (4 if hexa else 1)
        digits = digits[:_SIGNIFICANT]
    if hexa:
        mantissa = int(digits or b"0", 16)
        ms = _scaled_ms(mantissa, shift, mantissa.bit_length(), _HEX_RANGE)
    else:
        ms = _scaled_ms(int(digits or b"0"), shift, len(digits), _DECIMAL_RANGE)
    if ms is None:
        raise RespError(TIMEOUT_NOT_FLOAT)
    if ms >= _LLONG or (sign == b"-" and ms > 0):
        raise RespError(TIMEOUT_NEGATIVE)
    return ms


def _scaled_ms(mantissa: int, exp: int, digits: int, limits: tuple) -> int | None:
    """trunc(mantissa * base**exp * 1000), or None where strtold reports a range error."""
    base, highest, lowest, big = limits
    if mantissa == 0:
        return 0
    top = digits + exp  # base**(top-1) <= value < base**top
    if top - 1 > highest or top < lowest:
        return None
    if top - 1 > big:
        return _LLONG
    if exp >= 0:
        return mantissa * base**exp * 1000
    return mantissa * 1000 // base**-exp
