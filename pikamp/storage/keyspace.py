"""Storage side of the generic key-space commands, for keys of every type.

- Key images: a key's meta record plus its data / zscore entries (relative to
  its ``data_prefix``), read once and written again under another name, in
  another DB, or serialized for another worker (RENAME, COPY, MOVE).
- Whole values: a key made at once from a value of any type (RESTORE).
- SCAN: opaque cursors mapped to resume keys (pikamp.storage.cursors).
- RANDOMKEY: a seek to a random point of the meta column family.
- SWAPDB: closing, exchanging and reopening DB directories.
"""
from __future__ import annotations

import ctypes
import errno
import itertools
import os
import random
import struct
from dataclasses import dataclass, field

from pikamp.glob import Glob, compile_pattern
from pikamp.storage import codec, strings
from pikamp.storage.codec import HASH, LIST, SET, STRING, ZSET
from pikamp.storage.cursors import CURSORS
from pikamp.storage.database import Database
from pikamp.storage.engine import DATA, ZSCORE

# -- key images --------------------------------------------------------------


@dataclass(slots=True)
class KeyImage:
    """Everything stored for one key: its meta record and its member entries,
    each entry as (sub, value) with ``sub`` relative to the key's data prefix
    (the part after the prefix does not depend on the key or its version)."""

    meta: bytes
    data: list[tuple[bytes, bytes]] = field(default_factory=list)
    zscore: list[tuple[bytes, bytes]] = field(default_factory=list)


def read_image(db: Database, key: bytes, raw: bytes) -> KeyImage:
    """The image of the live key ``key`` whose meta record is ``raw``. O(members).

    Iterating commits the turn's pending writes, so callers read images before
    they start writing (a command stays one atomic batch)."""
    image = KeyImage(raw)
    if raw[0] != STRING:
        prefix = codec.data_prefix(key, codec.meta_version(raw))
        end = codec.prefix_end(prefix)
        n = len(prefix)
        image.data = [(k[n:], v) for k, v in db.engine.iterate(DATA, prefix, end)]
        image.zscore = [(k[n:], v) for k, v in db.engine.iterate(ZSCORE, prefix, end)]
    return image


def write_image(db: Database, key: bytes, image: KeyImage, old: bytes | None) -> None:
    """Store ``image`` as ``key`` over ``old`` (its live meta record or None).

    A collection gets a fresh version, so nothing of an older incarnation of
    ``key`` can show through."""
    if image.meta[0] == STRING:
        db.put_meta(key, image.meta, old)
        return
    version = db.new_version()
    # put_meta range-deletes the old members: the new ones must come after it in the batch.
    db.put_meta(key, codec.with_version(image.meta, version), old)
    prefix = codec.data_prefix(key, version)
    put = db.engine.put
    for sub, value in image.data:
        put(DATA, prefix + sub, value)
    for sub, value in image.zscore:
        put(ZSCORE, prefix + sub, value)


def copy_key(src: Database, key: bytes, raw: bytes, dst: Database, dst_key: bytes, dst_old: bytes | None) -> None:
    """Copy the live key ``key`` (meta ``raw``) of ``src`` to ``dst_key`` in ``dst``
    (may be the same DB), replacing ``dst_old``. The expiry goes with it."""
    write_image(dst, dst_key, read_image(src, key, raw), dst_old)


def rename_key(db: Database, key: bytes, raw: bytes, new_key: bytes, new_old: bytes | None) -> None:
    """Move ``key`` to ``new_key`` (replacing ``new_old``) within one DB."""
    image = read_image(db, key, raw)
    write_image(db, new_key, image, new_old)
    db.delete(key, raw)


def delete_if_unchanged(db: Database, key: bytes, image: KeyImage) -> bool:
    """Delete ``key`` if it is still exactly ``image`` (same version, same members);
    the second half of a MOVE to another worker, after the copy is confirmed."""
    raw = db.lookup(key)
    if raw is None or read_image(db, key, raw) != image:
        return False
    db.delete(key, raw)
    return True


_LEN = struct.Struct(">I")


def encode_image(image: KeyImage) -> bytes:
    """Serialize an image: meta, then the data and zscore entries, length-prefixed."""
    parts = [_LEN.pack(len(image.meta)), image.meta]
    for entries in (image.data, image.zscore):
        parts.append(_LEN.pack(len(entries)))
        for sub, value in entries:
            parts += [_LEN.pack(len(sub)), sub, _LEN.pack(len(value)), value]
    return b"".join(parts)


def decode_image(payload: bytes) -> KeyImage:
    """The inverse of ``encode_image``."""
    pos = 0

    def take() -> bytes:
        nonlocal pos
        (n,) = _LEN.unpack_from(payload, pos)
        pos += 4 + n
        return payload[pos - n : pos]

    image = KeyImage(take())
    for entries in (image.data, image.zscore):
        (count,) = _LEN.unpack_from(payload, pos)
        pos += 4
        for _ in range(count):
            sub = take()
            entries.append((sub, take()))
    return image


def dump_key(db: Database, key: bytes, raw: bytes) -> bytes:
    """The live key ``key`` serialized for ``restore_key`` in another DB."""
    return encode_image(read_image(db, key, raw))


def restore_key(db: Database, key: bytes, payload: bytes, old: bytes | None) -> None:
    """Store a ``dump_key`` payload as ``key``, replacing ``old``."""
    write_image(db, key, decode_image(payload), old)


# -- whole values ----------------------------------------------------------------


def store_value(db: Database, key: bytes, typ: int, value, expire_ms: int, old: bytes | None) -> None:
    """Make ``key`` the value ``value`` of type ``typ``, expiring at
    ``expire_ms`` (0: never), over ``old`` (its live meta record, or None).
    ``value`` is shaped as pikamp.rdb decodes it: bytes for a string; a
    non-empty list of elements (list, head first), members (set, distinct),
    (field, value) (hash, distinct fields) or (member, score) (zset,
    distinct members)."""
    if typ == STRING:
        strings.put(db, key, value, expire_ms, old)
        return
    version = db.new_version()
    n = len(value)
    if typ == LIST:
        meta = codec.encode_list(version, n, codec.LIST_INITIAL_LEFT, codec.LIST_INITIAL_RIGHT + n, expire_ms)
    else:
        meta = codec.encode_collection(typ, version, n, expire_ms)
    # put_meta range-deletes the old members: the new ones must come after it in the batch.
    db.put_meta(key, meta, old)
    prefix = codec.data_prefix(key, version)
    put = db.engine.put
    if typ == LIST:
        for i, element in enumerate(value, codec.LIST_INITIAL_RIGHT):
            put(DATA, prefix + codec.encode_index(i), element)
    elif typ == HASH:
        for field_, v in value:
            put(DATA, prefix + field_, v)
    elif typ == SET:
        for member in value:
            put(DATA, prefix + member, b"")
    elif typ == ZSET:
        for member, score in value:
            score += 0.0  # -0.0 is stored as 0.0 (pikamp.storage.zsets)
            put(DATA, prefix + member, codec.pack_double(score))
            put(ZSCORE, prefix + codec.encode_score(score) + member, b"")


def _key_range(glob: Glob | None) -> tuple[bytes, bytes | None]:
    """The meta key range that can hold keys matching ``glob``."""
    if glob is None or not glob.prefix:
        return b"", None
    return glob.prefix, codec.prefix_end(glob.prefix)


def keys(db: Database, pattern: bytes) -> list[bytes]:
    """Every live key matching ``pattern`` (KEYS)."""
    glob = compile_pattern(pattern)
    start, end = _key_range(glob)
    if glob is None:
        return [k for k, _ in db.scan_keys(start, end)]
    match = glob.match
    return [k for k, _ in db.scan_keys(start, end) if match(k)]


# -- SCAN --------------------------------------------------------------------

def scan(db: Database, cursor: int, count: int, glob: Glob | None, type_name: str | None) -> tuple[int, list[bytes]]:
    """One SCAN step: visit up to ``count`` live keys from where ``cursor`` left off;
    returns (next cursor, 0 when done; the visited keys that pass the filters).

    Keys are visited in key order from a stored resume key, so a key that exists
    for the whole scan is returned exactly once. Cursor 0, or a cursor that is
    unknown (never issued, or evicted from the table), starts from the beginning.
    ``type_name`` is a lower-case TYPE name (an unknown one matches nothing)."""
    scope = (db.index, None)
    start = CURSORS.resume_point(cursor, scope) if cursor else b""
    lo, end = _key_range(glob)
    start = max(start, lo)
    out: list[bytes] = []
    visited = 0
    for key, raw in db.scan_keys(start, end):
        if visited == count:
            return CURSORS.new_cursor(scope, key), out
        visited += 1
        if glob is not None and not glob.match(key):
            continue
        if type_name is not None and codec.TYPE_NAMES[raw[0]] != type_name:
            continue
        out.append(key)
    return 0, out


# -- RANDOMKEY -----------------------------------------------------------------


RANDOM_STEP = 16


def random_key(db: Database) -> bytes | None:
    """A random live key, or None when there is none.

    Seeks to a random point between the first and the last key (interpolating
    the 8 bytes after their common prefix, so keys sharing a prefix still spread
    out) and takes a live key a random 0-15 keys past it, wrapping around to the
    first. The seek alone favours a key after a wide gap (``user:1`` over
    ``user:100`` ...); the random step spreads that over its neighbours."""
    first = next(db.scan_keys(b""), None)
    if first is None:
        return None
    last = next(db.scan_keys(b"", None, reverse=True))
    lo, hi = first[0], last[0]
    common = len(os.path.commonprefix([lo, hi]))
    a = int.from_bytes(lo[common : common + 8].ljust(8, b"\0"), "big")
    b = int.from_bytes(hi[common : common + 8].ljust(8, b"\0"), "big")
    seek = lo[:common] + random.randint(a, b).to_bytes(8, "big")
    found = None
    for found in itertools.islice(db.scan_keys(seek), random.randrange(RANDOM_STEP) + 1):
        pass
    return (found or first)[0]


# -- SWAPDB: exchanging DB directories -------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc = ctypes.CDLL(None, use_errno=True)


def exchange_directories(a: str, b: str) -> None:
    """Swap two directories, atomically where the kernel can (renameat2 with
    RENAME_EXCHANGE: a crash leaves either the old or the new state), and make
    the change durable before returning."""
    renameat2 = getattr(_libc, "renameat2", None)
    if renameat2 is None or renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno() if renameat2 is not None else errno.ENOSYS
        if err not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), a)
        exchange_by_renames(a, b)
    _fsync_dir(os.path.dirname(os.path.abspath(a)))


def exchange_by_renames(a: str, b: str) -> None:
    """Swap two directories through a temporary name (where renameat2 cannot).
    Not atomic: a crash between the renames leaves one directory under the
    temporary name ``<a>.swapdb``."""
    tmp = a + ".swapdb"
    os.rename(a, tmp)
    os.rename(b, a)
    os.rename(tmp, b)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def detach_engine(db: Database) -> str:
    """Commit and close the DB's engine so that its directory can be moved;
    returns that directory. The DB is unusable until ``attach_engine``."""
    db.commit()
    db.engine.close()
    return db.engine.path


# -- Pika's range scans -----------------------------------------------------------


def range_scan(db: Database, typ: int, start: bytes, end: bytes, glob: Glob | None, limit: int,
               reverse: bool = False) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Live keys of type ``typ`` from ``start`` to ``end`` (both inclusive, b"" =
    unbounded; reverse: from ``start`` down to ``end``) matching ``glob``: up to
    ``limit`` (key, meta) pairs and the next such key (b"" when there is none),
    as Pika 4.0's PKSCANRANGE / PKRSCANRANGE / SCANX."""
    if reverse:
        lo, hi = end, (start + b"\x00" if start else None)
    else:
        lo, hi = start, (end + b"\x00" if end else None)
    found: list[tuple[bytes, bytes]] = []
    for key, raw in db.scan_keys(lo, hi, reverse):
        if codec.logical_type(raw) != typ or (glob is not None and not glob.match(key)):
            continue
        if len(found) == limit:
            return found, key
        found.append((key, raw))
    return found, b""
