"""Transactions (MULTI / EXEC / DISCARD) and optimistic locking (WATCH).

A transaction runs inside one worker: the owner of every DB it touches and of
every key its client WATCHes. The client's worker queues the commands, then
sends them to that owner as one internal ``__exec``, which runs them back to
back in one event-loop turn: no other command of any client runs in between,
and their writes go into one write batch per DB (one atomic commit per DB;
range reads inside merge the pending writes rather than commit them; only
FLUSHDB/FLUSHALL inside a transaction commit what precedes them). A
transaction whose DBs (SELECT inside MULTI, WATCH in another DB, FLUSHALL
with several workers) are owned by different workers is refused at EXEC,
and nothing of it runs: running it piecewise could not be atomic.

WATCH registers the keys at their owner (Database.watch). From then on every
write to such a key, whoever makes it (any client, lazy or active expiry, a
pop for a blocked client, FLUSHDB, SWAPDB), marks the watching clients dirty
(database.DIRTY_CAS); so does the expiry of a key that was live at WATCH.
``__exec`` of a dirty client runs nothing and EXEC answers a null array.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pikamp import acl
from pikamp.commands.table import ALL, COMMANDS, OWNER, Command
from pikamp.deferred import Deferred, Pending
from pikamp.errors import RespError
from pikamp.numbers import parse_int
from pikamp.resp import NULL_ARRAY, Raw, decode, encode
from pikamp.storage import codec
from pikamp.storage.database import DIRTY_CAS, Database

if TYPE_CHECKING:  # the worker imports this module
    from pikamp.worker import Client, Worker

EXECABORT = "EXECABORT Transaction discarded because of previous errors."
SPANS_WORKERS = ("ERR this transaction needs DBs owned by different workers (db %% %d); pikamp runs a "
                 "transaction inside one worker: keep its DBs and WATCHed keys to one of them")
ACL_CHANGED = (b"-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC "
               b"call. This command is no longer allowed for the following reason: ")
_ACL_REASONS = {
    acl.DENIED_CMD: b"no permission to execute the command or subcommand\r\n",
    acl.DENIED_KEY: b"no permission to touch the specified keys\r\n",
    acl.DENIED_CHANNEL: b"no permission to access one of the channels used as arguments\r\n",
}


# What runs at once inside MULTI instead of being queued (as in Redis 7.0).
RUN_AT_ONCE = frozenset({"exec", "discard", "multi", "watch", "quit", "reset"})


def _lookup(name: bytes) -> Command:
    return COMMANDS.get(name) or COMMANDS[name.lower()]


# -- the client's side ---------------------------------------------------------
def queue(conn: Client, cmd: Command, args: list[bytes]) -> bytes:
    """Queue a command of a client in MULTI; the reply it gets now."""
    if "no_multi" in cmd.flags:
        conn.multi_failed = True
        return b"-ERR Command not allowed inside a transaction\r\n"
    conn.multi.append(args)  # type: ignore[union-attr]
    return b"+QUEUED\r\n"


def abort(conn: Client, error: bytes) -> bytes:
    """EXEC refused before it runs (wrong arity ...): the transaction is
    discarded, and the error says so in Redis' words."""
    conn.multi, conn.multi_failed = None, False
    unwatch_all(conn)
    reason = error[1:]
    if reason.startswith(b"ERR "):
        reason = reason[4:]
    return b"-EXECABORT Transaction discarded because of: " + reason


def unwatch_all(conn: Client) -> None:
    """Forget every key the client WATCHes, at each owner."""
    if not conn.watch_dbs:
        return
    w = conn.worker
    seen = set()
    for db in conn.watch_dbs:
        owner = db % w.nworkers
        if owner not in seen:
            seen.add(owner)
            w.call_owner(db, [b"__unwatch"], _ignore, client_id=conn.id)
    conn.watch_dbs.clear()


def db_index(arg: bytes) -> int | None:
    """SELECT's argument as SELECT reads it (None: SELECT will refuse it)."""
    try:
        return parse_int(arg)
    except RespError:
        return None


def _ignore(reply: bytes) -> None:
    pass


def writes(conn: Client) -> bool:
    """Whether the transaction queued a write (EXEC is then refused where
    writes are: Redis checks the transaction's flags the same way)."""
    for args in conn.multi or ():
        cmd = _lookup(args[0])
        if cmd is not None and cmd.is_write:
            return True
    return False


def execute(conn: Client, queued: list[list[bytes]]) -> Deferred:
    """EXEC: run the queued commands in their owner; the reply comes later."""
    w = conn.worker
    n = w.nworkers
    plan: list[tuple[Command, list[bytes], int | None]] = []  # db None: runs here, after the rest
    owners = {d % n for d in conn.watch_dbs}
    anchor = min(conn.watch_dbs) if conn.watch_dbs else None
    db = conn.db_index
    for args in queued:
        cmd = _lookup(args[0])
        if not conn.user.free and (refusal := conn.acl_refusal(cmd, args, b"multi")) is not None:
            # As Redis: the rules may have changed since the command was queued
            # (a SORT BY / GET refused: its own error, as the command gives it).
            why, error = refusal
            plan.append((None, error if why == acl.OK else ACL_CHANGED + _ACL_REASONS[why], None))
            continue
        if cmd.route == OWNER:
            plan.append((cmd, args, db))
            owners.add(db % n)
            anchor = db if anchor is None else anchor
        elif cmd.route == ALL:
            plan.append((cmd, args, -1))
            owners.update(range(n))
        else:
            if cmd.name == "select":
                index = db_index(args[1])
                if index is not None and index < w.ndbs:
                    db = index  # the commands after it run there
            plan.append((cmd, args, None))
    d = Deferred(conn.resp3)
    if len(owners) > 1:
        unwatch_all(conn)  # nothing runs: the watches go too
        d.resolve(RespError(SPANS_WORKERS % n))
        return d
    conn.watch_dbs.clear()  # the owner unwatches in __exec
    remote = [(args, db) for _, args, db in plan if db is not None]
    if not owners:  # only commands of this worker (PING, ECHO ...), no WATCH
        _finish(conn, d, plan, [])
        return d
    owner = owners.pop()
    if anchor is None:
        anchor = owner  # only ALL-route commands: any DB of the owner will do
    payload = [b"__exec"]
    for args, db in remote:
        payload += [b"%d" % db, b"%d" % len(args), *args]

    def done(reply: bytes) -> None:
        if reply[:1] == b"-":  # refused there (a DB refusing writes ...): drop the watches too
            w.call_owner(anchor, [b"__unwatch"], _ignore, client_id=conn.id)
            d.resolve_raw(reply)
            return
        # A null array (a WATCHed key changed), or one bulk per command: its reply.
        value = decode(reply)
        if value is None:
            d.resolve(NULL_ARRAY)
            return
        _finish(conn, d, plan, value, reply if type(reply) is Pending else None)

    w.call_owner(anchor, payload, done, conn.resp3, conn.id, conn.restricted())
    return d


def _finish(conn: Client, d: Deferred, plan, remote_replies: list[bytes], tainted: bytes | None = None) -> None:
    """Run this worker's commands of the transaction in order between the
    owner's replies, and answer the whole array."""
    replies: list[bytes] = []
    remote = iter(remote_replies)
    steps = iter(plan)

    def step() -> None:
        for cmd, args, db in steps:
            if db is not None:
                replies.append(next(remote))
                continue
            if cmd is None:  # refused by the ACL at EXEC: args is the error
                replies.append(args)
                continue
            w = conn.worker
            w.in_exec = True  # (WAIT answers at once inside EXEC, as in Redis)
            try:
                r = cmd.handler(conn.local_ctx(), args)
            except RespError as e:
                r = e
            finally:
                w.in_exec = False
            if type(r) is Deferred:
                r.then(lambda reply: (replies.append(reply), step()))
                return
            replies.append(encode(r, conn.resp3))
        out = b"*%d\r\n" % len(replies) + b"".join(replies)
        if tainted is not None:
            out = _retaint(conn.worker, tainted, out)
        d.resolve_raw(out)

    step()


def _retaint(w: Worker, old: bytes, new: bytes) -> bytes:
    """The owner's reply showed uncommitted writes (it ran here): the reply
    built from it takes its place in the worker's taint list."""
    new = Pending(new)
    w.tainted[:] = [(e, new if r is old else r, k) for e, r, k in w.tainted]
    return new


# -- the owner's side ------------------------------------------------------------
def watch(w: Worker, db: Database, client_id: int, keys: list[bytes]) -> None:
    """WATCH at the owner of ``db``: any write to these keys from now on
    makes the client's EXEC fail, and so does the expiry of a key live now."""
    records = w.watches.setdefault(client_id, [])
    for key in keys:
        raw = db.lookup(key)  # an expired key goes first, so its removal is no change
        records.append((db.index, key, codec.meta_expire(raw) if raw is not None else 0))
        db.watch(key, client_id)


def unwatch(w: Worker, client_id: int) -> None:
    """Forget the client's WATCHed keys in the DBs of this worker."""
    for index, key, _ in w.watches.pop(client_id, ()):
        db = w.dbs.get(index)
        if db is not None:
            db.unwatch(key, client_id)
    DIRTY_CAS.discard(client_id)


def _watch_failed(w: Worker, client_id: int) -> bool:
    if client_id in DIRTY_CAS:
        return True
    now = w.clock.ms
    return any(exp and exp <= now for _, _, exp in w.watches.get(client_id, ()))


def run(w: Worker, client_id: int, resp3: bool, payload: list[bytes], user=None):
    """__exec: run a transaction's commands here, back to back; a null array
    if a WATCHed key changed, else one bulk per command with its reply.
    ``user``: the client's restricted ACL user (None: unrestricted)."""
    if _watch_failed(w, client_id):
        unwatch(w, client_id)
        return Raw(b"*-1\r\n")
    unwatch(w, client_id)
    commands: list[tuple[Command, int, list[bytes]]] = []
    i = 1
    while i < len(payload):
        db, n = int(payload[i]), int(payload[i + 1])
        args = payload[i + 2 : i + 2 + n]
        commands.append((_lookup(args[0]), db, args))
        i += 2 + n
    replies: list[bytes] = []
    engines: list = []
    d: Deferred | None = None
    # What other clients wrote earlier in this turn is committed now, so that
    # the transaction's own writes are one batch per DB: its range reads merge
    # them in (Engine.merging) instead of committing them halfway.
    dbs = list(w.dbs.values())
    for db_ in dbs:
        db_.commit()

    def step(start: int) -> Raw | Pending | None:
        nonlocal d
        w.in_exec = True  # blocking commands answer at once, as their timeout
        for db_ in dbs:
            db_.engine.merging = True
        try:
            for k in range(start, len(commands)):
                cmd, db, args = commands[k]
                r = w.run_owned(cmd, db, resp3, args, None, client_id, user)
                if type(r) is Deferred:  # MOVE/COPY to another worker's DB: wait for it
                    if d is None:
                        d = Deferred(resp3)
                    r.then(lambda reply, k=k: (_keep(w, reply, replies, engines), _resume(step, k + 1, d)))
                    return None
                _keep(w, r, replies, engines)
        finally:
            w.in_exec = False
            for db_ in dbs:
                db_.engine.merging = False
        out = encode(replies, False)
        if engines:
            # One reply for all: if a commit fails, the whole EXEC answers MISCONF.
            out = Pending(out)
            w.tainted += [(e, out, 1) for e in dict.fromkeys(engines)]
        return Raw(out) if type(out) is bytes else out

    result = step(0)
    return d if result is None else result


def _keep(w: Worker, reply: bytes, replies: list[bytes], engines: list) -> None:
    """Collect one command's reply; a reply that shows uncommitted writes is
    tracked through the transaction's reply instead of its own."""
    untaint(w, reply, engines)
    replies.append(bytes(reply))


def untaint(w: Worker, reply: bytes, engines: list) -> None:
    """A nested command's reply (EXEC, a script) is not sent itself: if it
    shows uncommitted writes, its engine goes to ``engines`` for the reply
    that is sent to be tracked instead (see Worker.tainted)."""
    if type(reply) is Pending:
        for j in range(len(w.tainted) - 1, -1, -1):
            if w.tainted[j][1] is reply:
                engines.append(w.tainted.pop(j)[0])
                break


def _resume(step, start: int, d: Deferred) -> None:
    out = step(start)
    if out is not None:
        d.resolve_raw(out)
