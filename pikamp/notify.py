"""Keyspace notifications (notify-keyspace-events), as Redis 7.0 sends them.

After a write command ran, the pipeline (Worker.run_owned) asks ``events``
which events it made: the command's event for each of its keys it changed
(the keys whose meta or data records it wrote, Database.touched), followed
by ``del`` when the change left the key empty (LPOP of the last element,
SREM ...). Expiry (lazy on a read, or the active cycle) sends ``expired``.
Each event goes to the pubsub process as one PUBLISH on
``__keyspace@<db>__:<key>`` and/or ``__keyevent@<db>__:<event>``.

MOVE sends move_from and move_to from the worker that made it.
Not sent (yet): ``new`` (n) and key-miss (m) events, and the pop a blocked
client gets when another client's push serves it.
"""
from __future__ import annotations

from typing import Callable

from pikamp.storage.engine import META

# Event classes by the group of the command's type.
_GENERIC, _STRING, _LIST, _SET, _HASH, _ZSET = "g", "$", "l", "s", "h", "z"
_ALL_TYPES = "g$lshzxetd"


def classes(setting: str) -> str:
    """The classes a notify-keyspace-events value enables ("" when it
    sends nothing: it needs K or E, and some class)."""
    chars = set(setting.replace("A", _ALL_TYPES))
    if not chars & {"K", "E"} or not chars - {"K", "E"}:
        return ""
    return "".join(sorted(chars))


def _simple(cls: str, event: str) -> Callable:
    ev = event.encode()

    def make(args, key, i):
        return [(cls, ev)]
    return make


def _set_with_expiry(args, key, i) -> list:
    opts = {a.upper() for a in args[3:]}
    out = [(_STRING, b"set")]
    if opts & {b"EX", b"PX", b"EXAT", b"PXAT"}:
        out.append((_GENERIC, b"expire"))
    return out


def _set_then_expire(args, key, i) -> list:
    return [(_STRING, b"set"), (_GENERIC, b"expire")]


def _getex(args, key, i) -> list:
    opts = {a.upper() for a in args[2:]}
    if b"PERSIST" in opts:
        return [(_GENERIC, b"persist")]
    return [(_GENERIC, b"expire")] if opts else []


def _zadd(args, key, i) -> list:
    return [(_ZSET, b"zincr" if b"INCR" in {a.upper() for a in args[2:]} else b"zadd")]


def _from_to(src_event: str, dst_event: str, cls: str) -> Callable:
    """Two-key commands: one event on the source (key 0), one on the destination."""
    src, dst = src_event.encode(), dst_event.encode()

    def make(args, key, i):
        return [(cls, src if i == 0 else dst)]
    return make


def _move_ends(cls: str, pops: tuple[bytes, bytes], pushes: tuple[bytes, bytes], where_at: int) -> Callable:
    """LMOVE src dst LEFT|RIGHT LEFT|RIGHT (and BLMOVE): pop, then push."""

    def make(args, key, i):
        side = args[where_at + i].upper() if len(args) > where_at + i else b"LEFT"
        names = pops if i == 0 else pushes
        out = [(cls, names[0] if side == b"LEFT" else names[1])]
        if len(args) > 2 and args[1] == args[2] and i == 0:  # one list: the push, then the pop
            side2 = args[where_at + 1].upper() if len(args) > where_at + 1 else b"LEFT"
            out.insert(0, (cls, pushes[0] if side2 == b"LEFT" else pushes[1]))
        return out
    return make


def _mpop(cls: str, left: bytes, right: bytes) -> Callable:
    """LMPOP / ZMPOP (and their blocking forms): the direction word decides."""

    def make(args, key, i):
        words = {a.upper() for a in args[1:]}
        return [(cls, left if (b"LEFT" in words or b"MIN" in words) else right)]
    return make


_S = _simple
# command -> maker(args, key, index among the changed keys) -> [(class, event)]
EVENTS: dict[str, Callable] = {
    "del": _S(_GENERIC, "del"), "unlink": _S(_GENERIC, "del"), "getdel": _S(_GENERIC, "del"),
    "expire": _S(_GENERIC, "expire"), "pexpire": _S(_GENERIC, "expire"), "expireat": _S(_GENERIC, "expire"),
    "pexpireat": _S(_GENERIC, "expire"), "persist": _S(_GENERIC, "persist"), "getex": _getex,
    "rename": _from_to("rename_from", "rename_to", _GENERIC),
    "renamenx": _from_to("rename_from", "rename_to", _GENERIC),
    "copy": _from_to("copy_to", "copy_to", _GENERIC), "restore": _S(_GENERIC, "restore"),
    "set": _set_with_expiry, "setnx": _S(_STRING, "set"), "getset": _S(_STRING, "set"),
    "mset": _S(_STRING, "set"), "msetnx": _S(_STRING, "set"),
    "setex": _set_then_expire, "psetex": _set_then_expire, "pksetexat": _set_then_expire,
    "setrange": _S(_STRING, "setrange"), "append": _S(_STRING, "append"),
    "incr": _S(_STRING, "incrby"), "decr": _S(_STRING, "decrby"), "incrby": _S(_STRING, "incrby"),
    "decrby": _S(_STRING, "decrby"), "incrbyfloat": _S(_STRING, "incrbyfloat"),
    "setbit": _S(_STRING, "setbit"), "bitop": _S(_STRING, "set"), "bitfield": _S(_STRING, "setbit"),
    "pfadd": _S(_STRING, "pfadd"), "pfmerge": _S(_STRING, "pfadd"),
    "lpush": _S(_LIST, "lpush"), "lpushx": _S(_LIST, "lpush"), "rpush": _S(_LIST, "rpush"),
    "rpushx": _S(_LIST, "rpush"), "lpop": _S(_LIST, "lpop"), "rpop": _S(_LIST, "rpop"),
    "blpop": _S(_LIST, "lpop"), "brpop": _S(_LIST, "rpop"), "linsert": _S(_LIST, "linsert"),
    "lset": _S(_LIST, "lset"), "lrem": _S(_LIST, "lrem"), "ltrim": _S(_LIST, "ltrim"),
    "rpoplpush": _from_to("rpop", "lpush", _LIST), "brpoplpush": _from_to("rpop", "lpush", _LIST),
    "lmove": _move_ends(_LIST, (b"lpop", b"rpop"), (b"lpush", b"rpush"), 3),
    "blmove": _move_ends(_LIST, (b"lpop", b"rpop"), (b"lpush", b"rpush"), 3),
    "lmpop": _mpop(_LIST, b"lpop", b"rpop"), "blmpop": _mpop(_LIST, b"lpop", b"rpop"),
    "hset": _S(_HASH, "hset"), "hmset": _S(_HASH, "hset"), "hsetnx": _S(_HASH, "hset"),
    "hincrby": _S(_HASH, "hincrby"), "hincrbyfloat": _S(_HASH, "hincrbyfloat"), "hdel": _S(_HASH, "hdel"),
    "sadd": _S(_SET, "sadd"), "srem": _S(_SET, "srem"), "spop": _S(_SET, "spop"),
    "smove": _from_to("srem", "sadd", _SET), "sinterstore": _S(_SET, "sinterstore"),
    "sunionstore": _S(_SET, "sunionstore"), "sdiffstore": _S(_SET, "sdiffstore"),
    "sort": _S(_LIST, "sortstore"),
    "zadd": _zadd, "zincrby": _S(_ZSET, "zincr"), "zrem": _S(_ZSET, "zrem"),
    "zremrangebyscore": _S(_ZSET, "zremrangebyscore"), "zremrangebyrank": _S(_ZSET, "zremrangebyrank"),
    "zremrangebylex": _S(_ZSET, "zremrangebylex"), "zpopmin": _S(_ZSET, "zpopmin"),
    "zpopmax": _S(_ZSET, "zpopmax"), "bzpopmin": _S(_ZSET, "zpopmin"), "bzpopmax": _S(_ZSET, "zpopmax"),
    "zmpop": _mpop(_ZSET, b"zpopmin", b"zpopmax"), "bzmpop": _mpop(_ZSET, b"zpopmin", b"zpopmax"),
    "zinterstore": _S(_ZSET, "zinterstore"), "zunionstore": _S(_ZSET, "zunionstore"),
    "zdiffstore": _S(_ZSET, "zdiffstore"), "zrangestore": _S(_ZSET, "zrangestore"),
    "geoadd": _S(_ZSET, "zadd"),  # Redis runs GEOADD as a ZADD
    "georadius": _S(_ZSET, "georadiusstore"), "georadiusbymember": _S(_ZSET, "georadiusstore"),
    "geosearchstore": _S(_ZSET, "geosearchstore"),
}
# Events that name a removal already: no "del" after them.
_REMOVALS = {b"del", b"rename_from", b"move_from", b"expired"}
# Store commands whose empty result deletes the destination: only "del" then
# (RESTORE REPLACE with a TTL already past deletes the key it replaces).
_STORES = {b"sinterstore", b"sunionstore", b"sdiffstore", b"zinterstore", b"zunionstore", b"zdiffstore",
           b"zrangestore", b"sortstore", b"georadiusstore", b"geosearchstore", b"set", b"expire", b"restore"}


# Commands that write the key after their last STORE / STOREDIST, which Redis'
# key specs (the first of each) can miss: their events go to the keys written.
_STORE_BY_KEYWORD = {"georadius", "georadiusbymember"}
# Commands whose event depends on which of their keys it is.
_BY_POSITION = {"rename", "renamenx", "copy", "rpoplpush", "brpoplpush", "lmove", "blmove", "smove"}
_PUSH_FIRST = {"rpoplpush", "brpoplpush", "lmove", "blmove"}


def events(cmd_name: str, args: list[bytes], keys: list[bytes], touched: dict, exists: Callable) -> list:
    """(class, event, key) of what a write command did, in Redis' order."""
    make = EVENTS.get(cmd_name)
    if make is None:
        return []
    out = []
    if cmd_name in _STORE_BY_KEYWORD:
        keys = list(touched)
    changed = [k for k in dict.fromkeys(keys) if k in touched]
    if cmd_name in _PUSH_FIRST:
        changed.reverse()  # as Redis: the push on the destination, then the pop
    for key in changed:
        made = make(args, key, keys.index(key) if cmd_name in _BY_POSITION else changed.index(key))
        gone = not exists(key)
        if gone and made and made[-1][1] in _STORES:
            out.append((_GENERIC, b"del", key))  # the store emptied it / an expiry in the past
            continue
        out += [(cls, ev, key) for cls, ev in made]
        if gone and made and made[-1][1] not in _REMOVALS and made[0][1] not in _REMOVALS:
            out.append((_GENERIC, b"del", key))
    return out


def meta_exists(db) -> Callable[[bytes], bool]:
    """Whether a key has a meta record now (this command's writes included)."""
    return lambda key: db.engine.get(META, key) is not None
