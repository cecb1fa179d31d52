"""Every on-disk byte layout lives here, and only here.

meta CF     user key -> type 1B | expire_at_ms 8B BE (0 = none) | payload
              string:            payload = the value itself (up to strings.INLINE_MAX bytes)
              chunked string:    payload = version 8B | length 8B (type CHUNKED)
              hash / set / zset: payload = version 8B | count 8B
              list:              payload = version 8B | count 8B | left 8B | right 8B
data CF     klen 4B BE | key | version 8B BE | sub -> value
              hash: sub = field -> value;  set: sub = member -> b""
              list: sub = index 8B BE -> element;  zset: sub = member -> score 8B
              chunked string: sub = chunk number 8B BE -> up to CHUNK bytes
                (bytes of the length that no chunk holds are zeros)
zscore CF   klen 4B BE | key | version 8B BE | sortable(score) 8B | member -> b""
expires CF  expire_at_ms 8B BE | key -> b""   (index for the active expire cycle)
default CF  b"dbsize" -> count 8B BE           (updated in the same batch as the keys)

Big-endian integers and the order-preserving score encoding make RocksDB's
bytewise order the logical order, so no custom comparator is needed.
"""
from __future__ import annotations

import struct

STRING, HASH, SET, ZSET, LIST = 0, 1, 2, 3, 4
# A string too long to rewrite whole on every edit: its bytes live in chunks
# in the data CF, so APPEND, SETRANGE, GETRANGE, ... touch only what they need.
# To clients it is a string like any other.
CHUNKED = 5
TYPE_BY_NAME = {"string": STRING, "hash": HASH, "set": SET, "zset": ZSET, "list": LIST}
TYPE_NAMES = {v: k for k, v in TYPE_BY_NAME.items()} | {CHUNKED: "string"}
CHUNK = 64 * 1024  # bytes per chunk of a CHUNKED string

_U64 = struct.Struct(">Q")
_HDR = struct.Struct(">BQ")  # type, expire_at_ms
_COLL = struct.Struct(">BQQQ")  # type, expire, version, count
_LIST = struct.Struct(">BQQQQQ")  # type, expire, version, count, left, right
_DOUBLE = struct.Struct(">d")

HEADER_LEN = _HDR.size  # 9
DBSIZE_KEY = b"dbsize"
# The on-disk layout's version, in the default column family of every DB.
# Raise it with any change older code would misread, and migrate at open
# (Database._check_format).
FORMAT_KEY = b"format-version"
# In STATE: the binlog position the DB has applied (storage.binlog.pack_position).
# A replica's binlog copies its master's, so on a replica it is the master's
# position. (Earlier versions also kept a "master-position" key; it is unused.)
BINLOG_POS_KEY = b"binlog-position"
# In STATE: a function library (FUNCTION LOAD), its code under this prefix +
# its name; every DB holds every library, so SWAPDB and a DB's replication
# carry them. (Older layouts have none: no FORMAT_VERSION change needed.)
FUNCTION_PREFIX = b"function:"
#   1: the first layout.
#   2: long strings may be CHUNKED (version 1 DBs are read as they are).
FORMAT_VERSION = 2
LIST_INITIAL_LEFT = 1 << 62  # lists grow down from here ...
LIST_INITIAL_RIGHT = (1 << 62) + 1  # ... and up from here


def pack_u64(n: int) -> bytes:
    return _U64.pack(n)


def unpack_u64(b: bytes, offset: int = 0) -> int:
    return _U64.unpack_from(b, offset)[0]


# -- meta values -------------------------------------------------------------
def meta_type(raw: bytes) -> int:
    return raw[0]


def logical_type(raw: bytes) -> int:
    """The type a client sees (a CHUNKED string is a STRING)."""
    return STRING if raw[0] == CHUNKED else raw[0]


def meta_expire(raw: bytes) -> int:
    return _U64.unpack_from(raw, 1)[0]


def encode_string(value: bytes, expire_ms: int = 0) -> bytes:
    return _HDR.pack(STRING, expire_ms) + value


def with_expire(raw: bytes, expire_ms: int) -> bytes:
    """The same meta record with another expiry time."""
    return raw[:1] + _U64.pack(expire_ms) + raw[HEADER_LEN:]


def encode_collection(typ: int, version: int, count: int, expire_ms: int = 0) -> bytes:
    return _COLL.pack(typ, expire_ms, version, count)


def decode_collection(raw: bytes) -> tuple[int, int, int, int]:
    """-> (type, expire_ms, version, count)"""
    return _COLL.unpack_from(raw)


def encode_list(version: int, count: int, left: int, right: int, expire_ms: int = 0) -> bytes:
    return _LIST.pack(LIST, expire_ms, version, count, left, right)


def decode_list(raw: bytes) -> tuple[int, int, int, int, int, int]:
    """-> (type, expire_ms, version, count, left, right); elements live in (left, right)."""
    return _LIST.unpack_from(raw)


def encode_chunked(version: int, length: int, expire_ms: int = 0) -> bytes:
    return _COLL.pack(CHUNKED, expire_ms, version, length)


def chunked_length(raw: bytes) -> int:
    """Length in bytes of a CHUNKED string."""
    return _U64.unpack_from(raw, HEADER_LEN + 8)[0]


def with_version(raw: bytes, version: int) -> bytes:
    """A collection's meta record with another version."""
    return raw[:HEADER_LEN] + _U64.pack(version) + raw[HEADER_LEN + 8 :]


def meta_version(raw: bytes) -> int:
    """Version of a collection meta (strings have none: 0)."""
    return _U64.unpack_from(raw, HEADER_LEN)[0] if raw[0] != STRING else 0


# -- data keys ---------------------------------------------------------------
def data_prefix(key: bytes, version: int) -> bytes:
    """Prefix shared by every data / zscore entry of one version of a key."""
    return len(key).to_bytes(4, "big") + key + _U64.pack(version)


def prefix_end(prefix: bytes) -> bytes:
    """Smallest byte string greater than every string starting with ``prefix``."""
    p = bytearray(prefix)
    while p and p[-1] == 0xFF:
        p.pop()
    if not p:
        return b"\xff" * (len(prefix) + 1)
    p[-1] += 1
    return bytes(p)


def key_range(key: bytes) -> tuple[bytes, bytes]:
    """[start, end) covering every version of ``key`` in the data / zscore CFs."""
    start = len(key).to_bytes(4, "big") + key
    return start, prefix_end(start)


def encode_index(index: int) -> bytes:
    return _U64.pack(index)


def chunk_key(prefix: bytes, number: int) -> bytes:
    """Data key of chunk ``number`` of a CHUNKED string with data prefix ``prefix``."""
    return prefix + _U64.pack(number)


def decode_index(b: bytes) -> int:
    return _U64.unpack(b)[0]


def encode_score(score: float) -> bytes:
    """Order-preserving 8 bytes for a double (-0.0 is stored as 0.0)."""
    if score == 0.0:
        score = 0.0
    n = _U64.unpack(_DOUBLE.pack(score))[0]
    n = n ^ 0xFFFFFFFFFFFFFFFF if n >> 63 else n | (1 << 63)
    return _U64.pack(n)


def decode_score(b: bytes) -> float:
    n = _U64.unpack(b)[0]
    n = n ^ (1 << 63) if n >> 63 else n ^ 0xFFFFFFFFFFFFFFFF
    return _DOUBLE.unpack(_U64.pack(n))[0]


def pack_double(score: float) -> bytes:
    return _DOUBLE.pack(score)


def unpack_double(b: bytes) -> float:
    return _DOUBLE.unpack(b)[0]


# -- expiry index ------------------------------------------------------------
def expire_entry(expire_ms: int, key: bytes) -> bytes:
    return _U64.pack(expire_ms) + key


def decode_expire_entry(entry: bytes) -> tuple[int, bytes]:
    return _U64.unpack_from(entry)[0], entry[8:]
