"""Generic key-space commands (every type): argument parsing and replies.
Storage semantics live in pikamp.storage.database and pikamp.storage.keyspace.

Commands that touch a DB owned by another worker (COPY/MOVE to another DB,
SWAPDB) talk to its owner through internal commands (``__restore``,
``__swapdb``, ``__swapdb_peer``).
"""
from __future__ import annotations

import logging
import os
import time
from typing import Callable

from pikamp.commands.table import ALL, command
from pikamp.errors import (
    DB_INDEX,
    INVALID_EXPIRE,
    NO_SUCH_KEY,
    NOT_INTEGER,
    SAME_OBJECT,
    SYNTAX,
    RespError,
)
from pikamp.glob import compile_pattern
from pikamp.ipc import call_blocking
from pikamp.numbers import parse_cursor, parse_int
from pikamp.storage import codec, keyspace
from pikamp.storage.database import Database
from pikamp.deferred import Deferred

log = logging.getLogger("pikamp.keys")

_LLONG_MAX = 2**63 - 1
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_INT_RANGE = f"ERR value is out of range, value must between {_INT_MIN} and {_INT_MAX}"


def _parse_int32(arg: bytes, error: str | None = None) -> int:
    """Redis's getIntFromObjectOrReply: ``error`` (if given) replaces both messages."""
    n = parse_int(arg, error or NOT_INTEGER)
    if not _INT_MIN <= n <= _INT_MAX:
        raise RespError(error or _INT_RANGE)
    return n


def _parse_db(ctx, arg: bytes) -> int:
    n = _parse_int32(arg)
    if not 0 <= n < ctx.worker.ndbs:
        raise RespError(DB_INDEX)
    return n


# -- existence and deletion ------------------------------------------------------


@command("del", -2, "write", (1, -1, 1), group="generic", summary="Delete a key", complexity="O(N)")
def del_(ctx, args):
    db = ctx.db
    n = 0
    for key in args[1:]:
        raw = db.lookup(key)
        if raw is not None:
            db.delete(key, raw)
            n += 1
    return n


command("unlink", -2, "write fast", (1, -1, 1), group="generic", since="4.0.0",
        summary="Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.")(del_)


@command("exists", -2, "readonly fast", (1, -1, 1), group="generic", summary="Determine if a key exists")
def exists(ctx, args):
    db = ctx.db
    return sum(1 for key in args[1:] if db.lookup(key) is not None)


command("touch", -2, "readonly fast", (1, -1, 1), group="generic", since="3.2.1",
        complexity="O(N) where N is the number of keys that will be touched.",
        summary="Alters the last access time of a key(s). Returns the number of existing keys specified.")(exists)


@command("type", 2, "readonly fast", (1, 1, 1), group="generic", summary="Determine the type stored at key")
def type_(ctx, args):
    raw = ctx.db.lookup(args[1])
    return "none" if raw is None else codec.TYPE_NAMES[raw[0]]


@command("dbsize", 1, "readonly fast", group="server", categories="@keyspace @read @fast", summary="Return the number of keys in the selected database")
def dbsize(ctx, args):
    return ctx.db.size


def _flush_mode(args: list[bytes]) -> None:
    if len(args) > 2 or (len(args) == 2 and args[1].lower() not in (b"async", b"sync")):
        raise RespError(SYNTAX)


@command("flushdb", -1, "write", group="server", categories="@keyspace @write @slow @dangerous", summary="Remove all keys from the current database")
def flushdb(ctx, args):
    _flush_mode(args)
    ctx.db.flush()
    return "OK"


@command("flushall", -1, "write", route=ALL, group="server", categories="@keyspace @write @slow @dangerous", summary="Remove all keys from all databases")
def flushall(ctx, args):
    _flush_mode(args)
    for db in ctx.worker.dbs.values():
        if db.engine.failed is not None:  # all or nothing
            raise db.engine.refusal()
    for db in ctx.worker.dbs.values():
        db.flush(announce=ctx.worker.index == 0)
    return "OK"


# -- expiry ----------------------------------------------------------------------


def _expire_options(args: list[bytes]) -> set[bytes]:
    """NX / XX / GT / LT after the time, checked as Redis 7.0 checks them."""
    flags = set()
    for opt in args[3:]:
        flag = opt.lower()
        if flag not in (b"nx", b"xx", b"gt", b"lt"):
            text = opt.decode("latin-1").replace("\r", " ").replace("\n", " ")
            raise RespError(f"ERR Unsupported option {text}")
        flags.add(flag)
    if b"nx" in flags and len(flags) > 1:
        raise RespError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if b"gt" in flags and b"lt" in flags:
        raise RespError("ERR GT and LT options at the same time are not compatible")
    return flags


def _expire_allowed(flags: set[bytes], current: int, when: int) -> bool:
    """Whether NX/XX/GT/LT let a new expiry ``when`` replace ``current`` (-1: none).
    A key without expiry counts as an infinite TTL for GT and LT."""
    if b"nx" in flags and current != -1:
        return False
    if b"xx" in flags and current == -1:
        return False
    if b"gt" in flags and (current == -1 or when <= current):
        return False
    if b"lt" in flags and current != -1 and when >= current:
        return False
    return True


def _expire(ctx, args: list[bytes], basetime: int, unit_ms: int) -> int:
    """EXPIRE and friends: ``basetime`` is now (relative) or 0 (absolute);
    ``unit_ms`` is 1000 for seconds, 1 for milliseconds."""
    flags = _expire_options(args)
    when = parse_int(args[2])
    invalid = RespError(INVALID_EXPIRE.format(args[0].lower().decode("latin-1")))
    if unit_ms == 1000:
        # C division truncates towards zero: LLONG_MIN / 1000 = -(LLONG_MAX // 1000) for these bounds.
        if not -(_LLONG_MAX // 1000) <= when <= _LLONG_MAX // 1000:
            raise invalid
        when *= 1000
    if when > _LLONG_MAX - basetime:
        raise invalid
    when += basetime
    db = ctx.db
    key = args[1]
    raw = db.lookup(key)
    if raw is None:
        return 0
    if flags and not _expire_allowed(flags, codec.meta_expire(raw) or -1, when):
        return 0
    if when <= db.clock.ms:  # already in the past: the key goes now
        db.delete(key, raw)
    else:
        db.set_expire(key, raw, when)
    return 1


@command("expire", -3, "write fast", (1, 1, 1), summary="Set a key's time to live in seconds")
def expire(ctx, args):
    return _expire(ctx, args, ctx.db.clock.ms, 1000)


@command("pexpire", -3, "write fast", (1, 1, 1), since="2.6.0", summary="Set a key's time to live in milliseconds")
def pexpire(ctx, args):
    return _expire(ctx, args, ctx.db.clock.ms, 1)


@command("expireat", -3, "write fast", (1, 1, 1), since="1.2.0",
         summary="Set the expiration for a key as a UNIX timestamp")
def expireat(ctx, args):
    return _expire(ctx, args, 0, 1000)


@command("pexpireat", -3, "write fast", (1, 1, 1), since="2.6.0",
         summary="Set the expiration for a key as a UNIX timestamp specified in milliseconds")
def pexpireat(ctx, args):
    return _expire(ctx, args, 0, 1)


def _ttl(ctx, key: bytes, in_ms: bool, absolute: bool) -> int:
    """-2 if no key, -1 if no expiry, else the remaining (or absolute) time."""
    db = ctx.db
    raw = db.lookup(key)
    if raw is None:
        return -2
    expire_at = codec.meta_expire(raw)
    if not expire_at:
        return -1
    ms = max(expire_at if absolute else expire_at - db.clock.ms, 0)
    return ms if in_ms else (ms + 500) // 1000


@command("ttl", 2, "readonly fast", (1, 1, 1), summary="Get the time to live for a key in seconds")
def ttl(ctx, args):
    return _ttl(ctx, args[1], False, False)


@command("pttl", 2, "readonly fast", (1, 1, 1), since="2.6.0", summary="Get the time to live for a key in milliseconds")
def pttl(ctx, args):
    return _ttl(ctx, args[1], True, False)


@command("expiretime", 2, "readonly fast", (1, 1, 1), since="7.0.0",
         summary="Get the expiration Unix timestamp for a key")
def expiretime(ctx, args):
    return _ttl(ctx, args[1], False, True)


@command("pexpiretime", 2, "readonly fast", (1, 1, 1), since="7.0.0",
         summary="Get the expiration Unix timestamp for a key in milliseconds")
def pexpiretime(ctx, args):
    return _ttl(ctx, args[1], True, True)


@command("persist", 2, "write fast", (1, 1, 1), since="2.2.0", summary="Remove the expiration from a key")
def persist(ctx, args):
    db = ctx.db
    raw = db.lookup(args[1])
    if raw is None or not codec.meta_expire(raw):
        return 0
    db.set_expire(args[1], raw, 0)
    return 1


# -- rename, copy, move ------------------------------------------------------------


def _rename(ctx, args: list[bytes], nx: bool):
    db = ctx.db
    key, new_key = args[1], args[2]
    raw = db.lookup(key)
    if raw is None:
        raise RespError(NO_SUCH_KEY)
    if key == new_key:
        return 0 if nx else "OK"
    old = db.lookup(new_key)
    if old is not None and nx:
        return 0
    keyspace.rename_key(db, key, raw, new_key, old)
    return 1 if nx else "OK"


@command("rename", 3, "write", (1, 2, 1), summary="Rename a key")
def rename(ctx, args):
    return _rename(ctx, args, False)


@command("renamenx", 3, "write fast", (1, 2, 1), summary="Rename a key, only if the new key does not exist")
def renamenx(ctx, args):
    return _rename(ctx, args, True)


def _restore_elsewhere(ctx, dest: int, key: bytes, payload: bytes, replace: bool,
                       then: Callable[[bytes], None] | None = None) -> Deferred:
    """Store a dumped key in DB ``dest`` of another worker; the reply is the
    ``__restore`` reply (1 stored, 0 refused), after ``then(reply)`` ran."""
    reply = Deferred(ctx.resp3)

    def done(r: bytes) -> None:
        if then is not None:
            then(r)
        reply.resolve_raw(r)

    args = [b"__restore", key, payload, b"replace" if replace else b"nx"]
    ctx.worker.call_owner(dest, args, done, ctx.resp3)
    return reply


@command("__restore", 4, "write", internal=True, summary="Store a key dumped by another worker (COPY, MOVE)")
def restore(ctx, args):
    """__restore key payload replace|nx -> 1 stored, 0 the key exists (nx)."""
    db = ctx.db
    key = args[1]
    old = db.lookup(key)
    if old is not None and args[3] != b"replace":
        return 0
    keyspace.restore_key(db, key, args[2], old)
    return 1


def _copy_options(ctx, args: list[bytes]) -> tuple[int, bool]:
    """-> (destination DB, REPLACE given)."""
    dest = ctx.db.index
    replace = False
    i = 3
    while i < len(args):
        opt = args[i].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and i + 1 < len(args):
            i += 1
            dest = _parse_db(ctx, args[i])
        else:
            raise RespError(SYNTAX)
        i += 1
    return dest, replace


@command("copy", -3, "write denyoom", (1, 2, 1), since="6.2.0", summary="Copy a key",
         complexity="O(N) worst case for collections, where N is the number of nested items. O(1) for string values.")
def copy(ctx, args):
    db = ctx.db
    dest, replace = _copy_options(ctx, args)
    key, new_key = args[1], args[2]
    if dest == db.index and key == new_key:
        raise RespError(SAME_OBJECT)
    raw = db.lookup(key)
    if raw is None:
        return 0
    target = ctx.worker.dbs.get(dest)
    if target is None:
        return _restore_elsewhere(ctx, dest, new_key, keyspace.dump_key(db, key, raw), replace)
    old = target.lookup(new_key)
    if old is not None and not replace:
        return 0
    keyspace.copy_key(db, key, raw, target, new_key, old)
    return 1


@command("move", 3, "write fast", (1, 1, 1), summary="Move a key to another database")
def move(ctx, args):
    db = ctx.db
    dest = _parse_db(ctx, args[2])
    if dest == db.index:
        raise RespError(SAME_OBJECT)
    key = args[1]
    raw = db.lookup(key)
    if raw is None:
        return 0
    target = ctx.worker.dbs.get(dest)
    if target is None:
        return _move_elsewhere(ctx, dest, key, raw)
    if target.lookup(key) is not None:
        return 0
    keyspace.copy_key(db, key, raw, target, key, None)
    target.commit()  # the copy is durable before the original goes
    db.delete(key, raw)
    return 1


def _move_elsewhere(ctx, dest: int, key: bytes, raw: bytes) -> Deferred:
    """MOVE to a DB of another worker: copy there first, then delete the source.

    The source is deleted only if it is still exactly what was copied: a write
    that reached it meanwhile is never lost (the key then stays in both DBs)."""
    db = ctx.db
    image = keyspace.read_image(db, key, raw)

    def stored(reply: bytes) -> None:
        if reply != b":1\r\n":
            return
        if not keyspace.delete_if_unchanged(db, key, image):
            log.warning("MOVE of a key modified meanwhile: it was kept in db%d as well", db.index)
        elif ctx.worker.notify:
            ctx.worker.send_move_events(db.index, dest, key)

    return _restore_elsewhere(ctx, dest, key, keyspace.encode_image(image), False, stored)


# -- KEYS, SCAN, RANDOMKEY -------------------------------------------------------------


@command("keys", 2, "readonly", categories="@keyspace @read @slow @dangerous", summary="Find all keys matching the given pattern",
         complexity="O(N) with N being the number of keys in the database, under the assumption "
                    "that the key names in the database and the given pattern have limited length.")
def keys(ctx, args):
    return keyspace.keys(ctx.db, args[1])


@command("scan", -2, "readonly", since="2.8.0", summary="Incrementally iterate the keys space",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough command "
                    "calls for the cursor to return back to 0. N is the number of elements inside the collection.")
def scan(ctx, args):
    """Cursors are opaque: each maps to the key the next call resumes at (see
    keyspace.scan). A cursor the server does not know starts a new scan."""
    cursor = parse_cursor(args[1])
    count = 10
    glob = None
    type_name = None
    i = 2
    while i < len(args):
        opt = args[i].lower()
        if i + 1 >= len(args):
            raise RespError(SYNTAX)
        if opt == b"count":
            count = parse_int(args[i + 1])
            if count < 1:
                raise RespError(SYNTAX)
        elif opt == b"match":
            glob = compile_pattern(args[i + 1])
        elif opt == b"type":
            type_name = args[i + 1].lower().decode("latin-1")
        else:
            raise RespError(SYNTAX)
        i += 2
    next_cursor, found = keyspace.scan(ctx.db, cursor, count, glob, type_name)
    return [b"%d" % next_cursor, found]


@command("randomkey", 1, "readonly", summary="Return a random key from the keyspace")
def randomkey(ctx, args):
    return keyspace.random_key(ctx.db)


# -- SWAPDB ---------------------------------------------------------------------------
#
# The two DB directories are exchanged on disk (so a restart keeps the swap),
# with both RocksDB instances closed. When both DBs have one owner it does it
# all in one handler. Otherwise the owner with the lower index coordinates: it
# closes its DB, then -- without returning to its event loop, so none of its
# clients ever sees the DB closed -- asks the other owner over a private unix
# connection to close, exchange and reopen, waits for the answer, and reopens.
# The other owner does its part inside one handler too. A worker only ever
# waits for a higher-numbered one, so two swaps cannot wait for each other.

_SWAP_DEADLINE_S = 5.0  # the other owner refuses a request older than this ...
_SWAP_GRACE_S = 5.0  # ... and the coordinator waits this much longer for its answer


@command("swapdb", 3, "write fast", group="server", categories="@keyspace @write @fast @dangerous", since="4.0.0",
         summary="Swaps two Redis databases",
         complexity="O(N) where N is the count of clients watching or blocking on keys from both databases.")
def swapdb(ctx, args):
    a = _parse_int32(args[1], "ERR invalid first DB index")
    b = _parse_int32(args[2], "ERR invalid second DB index")
    w = ctx.worker
    if not (0 <= a < w.ndbs and 0 <= b < w.ndbs):
        raise RespError(DB_INDEX)
    if a == b:
        return "OK"
    coordinator_db = a if a % w.nworkers <= b % w.nworkers else b
    reply = Deferred(ctx.resp3)
    w.call_owner(coordinator_db, [b"__swapdb", b"%d" % a, b"%d" % b], reply.resolve_raw, ctx.resp3)
    return reply


@command("__swapdb", 3, "write", internal=True, summary="Coordinate a SWAPDB (runs on the lower-numbered owner)")
def swapdb_coordinate(ctx, args):
    w = ctx.worker
    a, b = int(args[1]), int(args[2])
    _check_not_compacting(w)
    mine = [i for i in (a, b) if i in w.dbs]
    for i in mine:
        keyspace.detach_engine(w.dbs[i])
    try:
        if len(mine) == 2:
            _exchange(w, a, b)
        else:
            _swap_with_peer(w, a, b, b if mine[0] == a else a)
    finally:
        for i in mine:
            _reattach(ctx, w.dbs[i])
    return "OK"


@command("__swapdb_peer", 4, "write", internal=True, summary="The other owner's part of a SWAPDB")
def swapdb_peer(ctx, args):
    """__swapdb_peer a b deadline_ms: the coordinator has closed its DB already."""
    if time.time() * 1000 > int(args[3]):
        raise RespError("ERR SWAPDB request arrived after its deadline; nothing was swapped")
    w = ctx.worker
    _check_not_compacting(w)
    keyspace.detach_engine(ctx.db)
    try:
        _exchange(w, int(args[1]), int(args[2]))
    finally:
        _reattach(ctx, ctx.db)
    return "OK"


def _exchange(w, a: int, b: int) -> None:
    """Swap two DBs' directories, and their binlogs with them: a binlog stays
    with the data it describes (were a crash to separate them, the DB would
    not know the binlog it finds, and that binlog starts afresh)."""
    keyspace.exchange_directories(w.db_path(a), w.db_path(b))
    la, lb = w.binlog_path(a), w.binlog_path(b)
    os.makedirs(la, exist_ok=True)
    os.makedirs(lb, exist_ok=True)
    keyspace.exchange_directories(la, lb)


def _check_not_compacting(w) -> None:
    # A background COMPACT uses the engines from another thread: they cannot be closed now.
    if w.compacting:
        raise RespError("ERR SWAPDB cannot run while COMPACT is running; retry when it is done")


def _swap_with_peer(w, a: int, b: int, peer_db: int) -> None:
    """Have the owner of ``peer_db`` do its part, waiting (blocking) for its answer.
    If it fails or does not answer, whatever each directory holds then is what
    both owners reopen: the swap happened entirely or not at all."""
    deadline_ms = int((time.time() + _SWAP_DEADLINE_S) * 1000)
    args = [b"__swapdb_peer", b"%d" % a, b"%d" % b, b"%d" % deadline_ms]
    try:
        reply = call_blocking(w.run_dir, peer_db % w.nworkers, peer_db, args, _SWAP_DEADLINE_S + _SWAP_GRACE_S)
    except OSError as e:
        raise RespError(f"ERR SWAPDB failed: no answer from worker {peer_db % w.nworkers} ({e})") from None
    if reply[:1] == b"-":
        raise RespError(reply[1:].rstrip(b"\r\n").decode("latin-1"))


def _reattach(ctx, db: Database) -> None:
    """Reopen a DB after a swap and wake the clients blocked on keys it now has."""
    db.reopen(ctx.worker.open_engine(db.index))
    for key in list(db.blocked):
        if db.lookup(key) is not None:
            db.mark_ready(key)  # served by the worker once this command is done
