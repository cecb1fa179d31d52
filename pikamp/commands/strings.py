"""String commands: argument parsing and reply shaping; storage in pikamp.storage.strings."""
from __future__ import annotations

from pikamp.commands.connection import parse_int
from pikamp.commands.table import command
from pikamp.errors import INVALID_EXPIRE, SYNTAX, WRONGTYPE, RespError
from pikamp.storage import codec, strings
from pikamp.storage.codec import STRING

_MAX_MS = 2**63 - 1


def expire_at_ms(now_ms: int, unit: bytes, arg: bytes, cmd: str) -> int:
    """Absolute expiry in ms from EX/PX/EXAT/PXAT and its argument (Redis's checks)."""
    n = parse_int(arg)
    if n <= 0:
        raise RespError(INVALID_EXPIRE.format(cmd))
    if unit in (b"ex", b"exat"):
        if n > _MAX_MS // 1000:
            raise RespError(INVALID_EXPIRE.format(cmd))
        n *= 1000
    if unit in (b"ex", b"px"):
        if n > _MAX_MS - now_ms:
            raise RespError(INVALID_EXPIRE.format(cmd))
        n += now_ms
    return n


@command("get", 2, "readonly fast", (1, 1, 1), group="string", summary="Get the value of a key")
def get(ctx, args):
    return strings.get(ctx.db, args[1])


@command("set", -3, "write denyoom", (1, 1, 1), group="string", summary="Set the string value of a key",
         complexity="O(1)")
def set_(ctx, args):
    db = ctx.db
    key = args[1]
    if len(args) == 3:  # the common case, kept flat
        old = db.lookup(key)
        strings.put(db, key, args[2], 0, old)
        return "OK"
    nx = xx = want_get = keepttl = False
    unit = None
    expire = 0
    i = 3
    n = len(args)
    while i < n:
        opt = args[i].lower()
        if opt == b"nx" and not xx:
            nx = True
        elif opt == b"xx" and not nx:
            xx = True
        elif opt == b"get":
            want_get = True
        elif opt == b"keepttl" and unit is None:
            keepttl = True
        elif opt in (b"ex", b"px", b"exat", b"pxat") and unit is None and not keepttl and i + 1 < n:
            unit = opt
            i += 1
            expire = args[i]
        else:
            raise RespError(SYNTAX)
        i += 1
    if unit is not None:
        expire = expire_at_ms(db.clock.ms, unit, expire, "set")
    old = db.lookup(key)
    if want_get and old is not None and old[0] != STRING:
        raise RespError(WRONGTYPE)
    previous = old[codec.HEADER_LEN:] if old is not None and want_get else None
    if (nx and old is not None) or (xx and old is None):
        return previous if want_get else None
    if keepttl and old is not None:
        expire = codec.meta_expire(old)
    strings.put(db, key, args[2], expire, old)
    return previous if want_get else "OK"
