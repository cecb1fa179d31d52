"""Reply values and the one encoder that renders them as RESP2 or RESP3.

Handlers return plain Python values:
  int -> integer        bytes -> bulk string     str -> status (+OK)
  None -> null bulk     NULL_ARRAY -> null array  list/tuple -> array
  dict -> map (RESP2: flat array)    set -> set (RESP2: array)
  float -> double (RESP2: bulk "%.17g")   bool -> boolean (RESP2: 0/1)
  RespError -> error    Verbatim -> verbatim text (RESP2: bulk)
  Pairs -> RESP3 array of 2-arrays, RESP2 flat array (e.g. WITHSCORES)
  DoubleText -> a double already printed: RESP3 double, RESP2 bulk string
  Raw -> bytes already encoded (relayed replies)
"""
from __future__ import annotations

import hiredis

from pikamp.errors import RespError


class _NullArray:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL_ARRAY"


NULL_ARRAY = _NullArray()


class Verbatim(bytes):
    """Text rendered as a RESP3 verbatim string (``=``), a bulk string in RESP2."""


class Raw(bytes):
    """An already-encoded reply, sent as is."""


class Pairs(list):
    """A list of (a, b) pairs: nested in RESP3, flattened in RESP2."""


class Push(list):
    """An out-of-band push message (pub/sub): ``>`` in RESP3, an array in RESP2."""


class DoubleBulk(float):
    """A double that RESP2 and RESP3 both send as a bulk string (e.g. INCRBYFLOAT)."""


class DoubleText(bytes):
    """A double printed by its command (GEOPOS's coordinates, Redis'
    addReplyHumanLongDouble): a RESP3 double, a RESP2 bulk string."""


_STATUS_CACHE: dict[str, bytes] = {}
_INT_CACHE = [b":%d\r\n" % i for i in range(1024)]
NULL_BULK2 = b"$-1\r\n"
NULL3 = b"_\r\n"
OK = b"+OK\r\n"


def format_double(d: float) -> bytes:
    """Redis 7.0 prints doubles with %.17g ("inf", "-inf", "nan" spelled so)."""
    return b"%.17g" % d


def encode(v: object, resp3: bool) -> bytes:
    """Encode one reply value in RESP2 (resp3=False) or RESP3."""
    t = type(v)
    if t is bytes:
        return b"$%d\r\n%b\r\n" % (len(v), v)  # type: ignore[arg-type]
    if t is str:
        r = _STATUS_CACHE.get(v)  # type: ignore[arg-type]
        if r is None:
            r = _STATUS_CACHE[v] = b"+" + v.encode() + b"\r\n"  # type: ignore[union-attr]
        return r
    if t is int:
        if 0 <= v < 1024:  # type: ignore[operator]
            return _INT_CACHE[v]  # type: ignore[index]
        return b":%d\r\n" % v  # type: ignore[str-format]
    if v is None:
        return NULL3 if resp3 else NULL_BULK2
    if t is list or t is tuple:
        return b"*%d\r\n" % len(v) + b"".join([encode(x, resp3) for x in v])  # type: ignore[union-attr]
    if t is Raw:
        return v  # type: ignore[return-value]
    return _encode_rare(v, t, resp3)


def _encode_rare(v: object, t: type, resp3: bool) -> bytes:
    if isinstance(v, RespError):
        return b"-" + v.message.encode("latin-1", "replace") + b"\r\n"
    if t is bool:
        if resp3:
            return b"#t\r\n" if v else b"#f\r\n"
        return b":1\r\n" if v else b":0\r\n"
    if t is float:
        d = format_double(v)  # type: ignore[arg-type]
        return b",%b\r\n" % d if resp3 else b"$%d\r\n%b\r\n" % (len(d), d)
    if t is DoubleBulk:
        d = format_double(v)  # type: ignore[arg-type]
        return b"$%d\r\n%b\r\n" % (len(d), d)
    if t is dict:
        items = v.items()  # type: ignore[attr-defined]
        if resp3:
            return b"%%%d\r\n" % len(items) + b"".join(
                [encode(k, resp3) + encode(x, resp3) for k, x in items]
            )
        return b"*%d\r\n" % (2 * len(items)) + b"".join(
            [encode(k, resp3) + encode(x, resp3) for k, x in items]
        )
    if t is set or t is frozenset:
        return (b"~%d\r\n" if resp3 else b"*%d\r\n") % len(v) + b"".join(  # type: ignore[arg-type]
            [encode(x, resp3) for x in v]  # type: ignore[attr-defined]
        )
    if v is NULL_ARRAY:
        return NULL3 if resp3 else b"*-1\r\n"
    if t is Pairs:
        if resp3:
            return b"*%d\r\n" % len(v) + b"".join(  # type: ignore[arg-type]
                [b"*2\r\n" + encode(a, resp3) + encode(b, resp3) for a, b in v]  # type: ignore[attr-defined]
            )
        return b"*%d\r\n" % (2 * len(v)) + b"".join(  # type: ignore[arg-type]
            [encode(a, resp3) + encode(b, resp3) for a, b in v]  # type: ignore[attr-defined]
        )
    if t is Verbatim:
        if resp3:
            return b"=%d\r\ntxt:%b\r\n" % (len(v) + 4, v)  # type: ignore[arg-type]
        return b"$%d\r\n%b\r\n" % (len(v), v)  # type: ignore[arg-type]
    if t is Push:
        return (b">%d\r\n" if resp3 else b"*%d\r\n") % len(v) + b"".join(  # type: ignore[arg-type]
            [encode(x, resp3) for x in v]  # type: ignore[attr-defined]
        )
    if t is DoubleText:
        return b",%b\r\n" % v if resp3 else b"$%d\r\n%b\r\n" % (len(v), v)  # type: ignore[arg-type]
    if isinstance(v, bytes):
        return b"$%d\r\n%b\r\n" % (len(v), v)
    if isinstance(v, int):
        return b":%d\r\n" % v
    raise TypeError(f"cannot encode reply of type {t.__name__}")


def decode(reply: bytes) -> object:
    """One RESP reply as Python values (errors as ``hiredis.ReplyError``)."""
    reader = hiredis.Reader()
    reader.feed(reply)
    return reader.gets()


def ordered_set(items: list, resp3: bool) -> Raw:
    """A RESP3 set (RESP2 array) that keeps ``items`` in order (flags, ACL
    categories: Redis lists them in its order, which a Python set would shuffle)."""
    head = b"~%d\r\n" if resp3 else b"*%d\r\n"
    return Raw(head % len(items) + b"".join([encode(x, resp3) for x in items]))
