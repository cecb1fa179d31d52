"""DEBUG, as Redis 7.0 gates it: refused unless ``enable-debug-command`` is
``yes`` (or ``local`` and the client is local). The subcommands that mean
something for pikamp: DIGEST and DIGEST-VALUE (Redis' dataset digest, the
same bytes for the same data, so a master and its replica, or pikamp and
Redis, can be compared), SLEEP, LOG, SET-ACTIVE-EXPIRE, OBJECT, HELP. The
others (RELOAD, crash and allocator helpers ...) are unknown subcommands.
"""
from __future__ import annotations

import hashlib
import logging
import re
import time

from pikamp import rdb
from pikamp.commands.dump import payload as dump_payload
from pikamp.commands.introspection import encoding, refcount
from pikamp.commands.table import ALL, LOCAL, OWNER, command
from pikamp.deferred import Deferred
from pikamp.errors import RespError
from pikamp.resp import decode
from pikamp.storage import codec, hashes, lists, sets, strings, zsets
from pikamp.storage.codec import HASH, LIST, SET, STRING, ZSET

log = logging.getLogger("pikamp.debug")

NOT_ALLOWED = ('ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", you can '
               'run it from a local connection, otherwise you need to set this option in the configuration file, '
               'and then restart the server.')
_REDIS_TYPE = {STRING: 0, LIST: 1, SET: 2, ZSET: 3, HASH: 4}  # OBJ_STRING ... OBJ_HASH
_ZERO = bytes(20)

_HELP = [
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Prints this help.",
]


def _allowed(conn) -> bool:
    setting = conn.worker.config.values.get("enable-debug-command", "no").lower()
    if setting == "yes":
        return True
    return setting == "local" and (conn.addr.startswith("127.") or conn.addr.startswith("[::1]")
                                   or conn.addr.startswith("::1") or not conn.addr)


@command("debug", -2, "admin noscript loading stale", route=LOCAL, group="server", since="1.0.0",
         summary="A container for debugging commands", complexity="Depends on subcommand.")
def debug(ctx, args):
    conn = ctx.conn
    if not _allowed(conn):
        raise RespError(NOT_ALLOWED)
    sub = args[1].lower()
    w = ctx.worker
    if sub == b"help" and len(args) == 2:
        return _HELP
    if sub == b"sleep" and len(args) == 3:
        seconds = _seconds(args[2])
        # Redis stops the whole server; this stops the worker of this
        # connection (the others keep serving their clients).
        time.sleep(seconds)
        return "OK"
    if sub == b"log" and len(args) == 3:
        log.warning("DEBUG LOG: %s", args[2].decode("utf-8", "replace"))
        return "OK"
    if sub == b"set-active-expire" and len(args) == 3:
        d = Deferred(ctx.resp3)
        w.call_all([b"__debug_active_expire", b"1" if _atoi(args[2]) else b"0"], lambda r: d.resolve("OK"))
        return d
    if sub == b"digest" and len(args) == 2:
        return _dataset_digest(w, ctx.resp3)
    if sub == b"object" and len(args) == 3:
        d = Deferred(ctx.resp3)
        w.call_owner(conn.db_index, [b"__debug_object", args[2]], d.resolve_raw, ctx.resp3)
        return d
    if sub == b"digest-value" and len(args) >= 2:
        d = Deferred(ctx.resp3)
        w.call_owner(conn.db_index, [b"__digest_values", *args[2:]], d.resolve_raw, ctx.resp3)
        return d
    raise RespError(f"ERR unknown subcommand or wrong number of arguments for '{args[1].decode('latin-1')[:128]}'. "
                    "Try DEBUG HELP.")


def _atoi(arg: bytes) -> int:
    """C's atoi, as Redis reads SET-ACTIVE-EXPIRE's argument (junk: 0)."""
    found = re.match(rb"\s*([+-]?\d+)", arg)
    return int(found.group(1)) if found else 0


def _seconds(arg: bytes) -> float:
    """strtod of SLEEP's argument, as Redis reads it (junk: 0), at most a day."""
    found = re.match(rb"\s*([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)", arg)
    return min(max(float(found.group(1)) if found else 0.0, 0.0), 86400.0)


def _dataset_digest(w, resp3: bool) -> Deferred:
    """computeDatasetDigest: per DB in order, its id mixed in, then the xor of
    its keys' digests (each worker sends the xor for the DBs it owns)."""
    d = Deferred(resp3)

    def combine(replies: list[bytes]) -> None:
        per_db: dict[int, bytes] = {}
        for reply in replies:
            value = decode(reply)
            if not isinstance(value, list):
                d.resolve_raw(reply)  # (an error from a worker)
                return
            for i in range(0, len(value), 2):
                per_db[int(value[i])] = value[i + 1]
        final = _ZERO
        for index in sorted(per_db):
            final = _mix(final, index.to_bytes(4, "big"))
            final = _xor(final, per_db[index])
        d.resolve(final.hex())  # (a status reply, as Redis')

    w.call_all([b"__digest_dbs"], combine, resp3)
    return d


def _sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(20, "big")


def _xor_in(digest: bytes, data: bytes) -> bytes:
    """xorDigest: the digest xor SHA1(data)."""
    return _xor(digest, _sha1(data))


def _mix(digest: bytes, data: bytes) -> bytes:
    """mixDigest: SHA1 of (the digest xor SHA1(data))."""
    return _sha1(_xor_in(digest, data))


def value_digest(db, key: bytes, raw: bytes, digest: bytes = _ZERO) -> bytes:
    """xorObjectDigest: ``digest`` with the value of a live key mixed in."""
    typ = codec.logical_type(raw)
    digest = _mix(digest, _REDIS_TYPE[typ].to_bytes(4, "big"))
    if typ == STRING:
        digest = _mix(digest, strings.value_of(db, key, raw))
    elif typ == LIST:
        for value in lists.scan(db, lists.from_raw(key, raw)):
            digest = _mix(digest, value)
    elif typ == SET:
        for member in sets.members(db, key):
            digest = _xor_in(digest, member)
    elif typ == ZSET:
        meta = zsets.load(db, key)
        for member, score in zsets.entries(db, meta):  # type: ignore[arg-type]
            # Redis 7.0 prints the score with %.17g (7.2: the shortest form).
            digest = _xor_in(digest, _mix(_mix(_ZERO, member), b"%.17g" % score))
    elif typ == HASH:
        for field, value in hashes.items(db, key):
            digest = _xor_in(digest, _mix(_mix(_ZERO, field), value))
    if codec.meta_expire(raw):
        digest = _xor_in(digest, b"!!expire!!")
    return digest


@command("__digest_dbs", 1, "", route=ALL, internal=True, summary="DEBUG DIGEST of the DBs this worker owns")
def digest_dbs(ctx, args):
    """[db, xor of its keys' digests, ...] for each non-empty DB here."""
    w = ctx.worker
    out: list = []
    for index in w.owned():
        db = w.dbs[index]
        db.commit()
        total = _ZERO
        seen = False
        for key, raw in db.scan_keys(b"", None):
            seen = True
            total = _xor_in(total, value_digest(db, key, raw, _mix(_ZERO, key)))
        if seen:
            out += [b"%d" % index, total]
    return out


@command("__digest_values", -1, "", route=OWNER, internal=True, summary="DEBUG DIGEST-VALUE in the key's DB")
def digest_values(ctx, args):
    db = ctx.db
    out = []
    for key in args[1:]:
        raw = db.lookup(key)
        out.append((value_digest(db, key, raw) if raw is not None else _ZERO).hex())
    return out


@command("__debug_object", 2, "", route=OWNER, internal=True, summary="DEBUG OBJECT in the key's DB")
def debug_object(ctx, args):
    """Redis' line, with what pikamp knows: the encoding Redis would use, the
    length of the value's RDB serialization (DUMP's, without the type byte
    and footer), and, as pikamp keeps no access times, a key idle for 0 s
    (lru: the LRU clock now). There is no object address (0x0), and a list
    gets none of Redis' quicklist figures."""
    key = args[1]
    raw = ctx.db.lookup(key)
    if raw is None:
        raise RespError("ERR no such key")
    length = len(dump_payload(ctx, key, raw, 1 << 62)) - 1 - rdb.FOOTER_LEN
    lru = int(time.time()) & ((1 << 24) - 1)
    return (f"Value at:0x0 refcount:{refcount(raw)} encoding:{encoding(ctx, key, raw)} "
            f"serializedlength:{length} lru:{lru} lru_seconds_idle:0")


@command("__debug_active_expire", 2, "", route=ALL, internal=True, summary="DEBUG SET-ACTIVE-EXPIRE here")
def active_expire(ctx, args):
    ctx.worker.active_expire = args[1] == b"1"
    return "OK"
