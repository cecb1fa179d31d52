"""One DB's binlog: append-only files ``write2file<N>`` and a ``manifest``.

Pika's layout (``log-path/log_db<i>/``), with an item per committed write
batch. An item is framed as ``crc32 u32 | length u32 | item`` so that a torn
or corrupted tail is found (and cut) when the binlog is opened after a crash;
the item is Pika's 34-byte header (type, exec time, term, logic id, and the
file number and offset where the item starts) and then the content.

The content is the batch's *effects*, exactly as RocksDB applied them: the
puts, deletes and range deletes of every column family, in order. So
everything a turn changed is in it, whatever caused it (any command, a lazy
or active expiry, a pop for a blocked client, an EXEC); a replica applying it
gets the same bytes, with nothing to re-derive (PEXPIREAT for EXPIRE, SREM for
SPOP): the one thing it relies on is the same on-disk format version.

The owner appends the item before it writes the batch, and the batch records
the binlog position after the item (``codec.BINLOG_POS_KEY``, with the
binlog's identity): on open, items past the DB's position are replayed, so
the DB and its binlog never disagree. A binlog whose identity the DB does not
know (its directory replaced, a restored dump) starts afresh under a new one.

The manifest (Pika's 24 bytes: file number u32, offset u64, logic id u64,
term u32; then our 16-byte identity, the identities this binlog had before
with the position where each ended, and a crc32) is rewritten when a file is
rolled, once a second while items are appended, and on close: opening scans
only from its position to the end.

A replica's binlog is a byte-for-byte copy of its master's (``place``): the
master's items at the master's file numbers and offsets, under the master's
identity. So positions mean the same on every server of a replication group,
and after a failover the others resume from the positions they hold: a
promoted replica takes a new identity (``new_identity``) but remembers the
old one and where it ended, as Redis' replid2 and second_repl_offset do. A
copy that starts in the middle of a file (after a full sync) begins with a
pad item covering the part it does not hold (a sparse hole on disk).
"""
from __future__ import annotations

import logging
import os
import struct
import time
import uuid
import zlib
from typing import Iterator

log = logging.getLogger("pikamp.binlog")

PREFIX = "write2file"
FRAME = struct.Struct("<II")  # crc32 of the item, the item's length
HEADER = struct.Struct("<HIIQIQI")  # type, exec_time, term, logic_id, filenum, offset, content_len
MANIFEST = struct.Struct("<IQQI16s")
PAST = struct.Struct("<16sIQ")  # an identity this binlog had, and where it ended
MAX_PAST = 8
TYPE_BATCH = 1
TYPE_PAD = 2  # the start of a file a copy does not hold; its crc covers the header only
OP_PUT, OP_DELETE, OP_RANGE = 1, 2, 3
_OP = struct.Struct("<BBI")  # op, column family, first length
_LEN = struct.Struct("<I")
_POS = struct.Struct("<16sIQ")  # identity, file number, offset: what a DB records


class BinlogError(Exception):
    """The binlog cannot be read where it should be (a gap, a corrupt item inside)."""


def encode_ops(ops: list[tuple]) -> bytes:
    """A batch's effects: (op, cf, key, value) for puts and deletes (value
    None), (OP_RANGE, cf, start, end) for range deletes."""
    parts = []
    pack_op, pack_len = _OP.pack, _LEN.pack
    for op, cf, a, b in ops:
        parts.append(pack_op(op, cf, len(a)))
        parts.append(a)
        if b is not None:
            parts.append(pack_len(len(b)))
            parts.append(b)
    return b"".join(parts)


def decode_ops(content: bytes) -> list[tuple]:
    """The inverse of encode_ops."""
    ops = []
    pos, n = 0, len(content)
    unpack_op, unpack_len = _OP.unpack_from, _LEN.unpack_from
    while pos < n:
        op, cf, la = unpack_op(content, pos)
        pos += _OP.size
        a = content[pos : pos + la]
        pos += la
        b = None
        if op != OP_DELETE:
            (lb,) = unpack_len(content, pos)
            pos += 4
            b = content[pos : pos + lb]
            pos += lb
        ops.append((op, cf, a, b))
    if pos != n:
        raise BinlogError("truncated batch content")
    return ops


def offset_value(filenum: int, offset: int, file_size: int) -> int:
    """A position as one number, Redis' replication offset: file number x
    binlog-file-size + offset."""
    return filenum * file_size + offset


def pack_position(ident: bytes, filenum: int, offset: int) -> bytes:
    return _POS.pack(ident, filenum, offset)


def unpack_position(raw: bytes) -> tuple[bytes, int, int]:
    return _POS.unpack(raw)


class Binlog:
    """The binlog of one DB, open for appending."""

    def __init__(self, path: str, file_size: int, sync: bool = False) -> None:
        self.path = path
        self.file_size = file_size
        self.sync_each = sync  # appendfsync always: fdatasync every append
        os.makedirs(path, exist_ok=True)
        self.ident = b""
        self.filenum = 0
        self.offset = 0
        self.logic_id = 0
        self.term = 0
        self.past: list[tuple[bytes, int, int]] = []  # earlier identities, oldest first
        self.fd = -1
        self.unsynced = False
        self.manifest_dirty = False
        self._open()

    # -- opening -----------------------------------------------------------
    def file_path(self, n: int) -> str:
        return file_path(self.path, n)

    def _open(self) -> None:
        files = files_in(self.path)
        saved = read_manifest(self.path)
        if saved is None or not files:
            if files:
                log.warning("%s: no readable manifest: the binlog starts afresh after write2file%d",
                            self.path, files[-1])
            self._start_afresh(files[-1] + 1 if files else 0)
            return
        filenum, offset, logic_id, term, ident = saved
        self.ident, self.term, self.logic_id = ident, term, logic_id
        self.past = read_past(self.path)
        last = files[-1]
        if filenum != last:  # rolled after the manifest was written: scan the newest file whole
            filenum, offset = last, 0
        size = os.path.getsize(self.file_path(last))
        if size < offset:  # the file lost what the manifest saw (power loss): rescan it
            offset = 0
        self.filenum = last
        end, logic_id = self._scan_end(last, offset, logic_id if offset else None)
        if end < size:
            log.warning("%s: cut a torn or corrupt tail of %s%d: %d bytes after offset %d",
                        self.path, PREFIX, last, size - end, end)
            with open(self.file_path(last), "r+b") as f:
                f.truncate(end)
                os.fsync(f.fileno())
        self.offset = end
        if logic_id is not None:
            self.logic_id = logic_id
        self.fd = os.open(self.file_path(last), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.save_manifest()

    def _start_afresh(self, filenum: int) -> None:
        """A new identity from a new file on: positions before it mean nothing now."""
        self.ident = uuid.uuid4().bytes
        self.past = []
        self.filenum, self.offset = filenum, 0
        if self.fd >= 0:
            os.close(self.fd)
        self.fd = os.open(self.file_path(filenum), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.save_manifest()

    def is_empty(self) -> bool:
        """Nothing was ever appended (a new binlog)."""
        return self.offset == 0 and len(files_in(self.path)) == 1

    def restart(self, why: str = "the DB does not match this binlog") -> None:
        """Start afresh (the DB holds another history than this binlog)."""
        log.warning("%s: %s: a new binlog starts at write2file%d", self.path, why, self.filenum + 1)
        self._start_afresh(self.filenum + 1)

    def _scan_end(self, filenum: int, offset: int, logic_id: int | None) -> tuple[int, int | None]:
        """The offset after the last whole, valid item from ``offset`` on, and its logic id."""
        with open(self.file_path(filenum), "rb") as f:
            offset = max(offset, pad_end(f))
        for _, _, end, header, _ in self._items_in(filenum, offset, strict=False):
            offset, logic_id = end, header[3]
        return offset, logic_id

    def save_manifest(self) -> None:
        """Record the end (and identities) in the manifest, atomically."""
        body = MANIFEST.pack(self.filenum, self.offset, self.logic_id, self.term, self.ident)
        body += b"".join(PAST.pack(*p) for p in self.past[-MAX_PAST:])
        tmp = os.path.join(self.path, "manifest.tmp")
        with open(tmp, "wb") as f:
            f.write(body + _LEN.pack(zlib.crc32(body)))
        os.replace(tmp, os.path.join(self.path, "manifest"))
        self.manifest_dirty = False

    def covers(self, ident: bytes, filenum: int, offset: int) -> bool:
        """Whether (ident, filenum, offset) is a position of this binlog's history."""
        return covers(self.ident, self.past, (self.filenum, self.offset), ident, filenum, offset)

    def new_identity(self) -> None:
        """A new history from here on (a replica promoted to master): positions
        up to here keep their meaning under the old identity."""
        self._set_identity(uuid.uuid4().bytes)
        self.term += 1

    def _set_identity(self, ident: bytes) -> None:
        if ident != self.ident:
            self.past = (self.past + [(self.ident, self.filenum, self.offset)])[-MAX_PAST:]
            self.ident = ident
            self.save_manifest()  # before any batch records a position under it

    # -- appending -----------------------------------------------------------
    @property
    def position(self) -> tuple[int, int]:
        return self.filenum, self.offset

    def position_record(self) -> bytes:
        """What the DB's batch records: this binlog's identity and its end."""
        return _POS.pack(self.ident, self.filenum, self.offset)

    def append(self, content: bytes) -> None:
        """Append one item (OSError, with nothing appended, if it cannot be written)."""
        if self.offset >= self.file_size:
            self._roll()
        self.logic_id += 1
        header = HEADER.pack(TYPE_BATCH, int(time.time()), self.term, self.logic_id, self.filenum,
                             self.offset, len(content))
        frame = FRAME.pack(zlib.crc32(content, zlib.crc32(header)), len(header) + len(content))
        size = len(frame) + len(header) + len(content)
        try:  # one system call, and no copy of a big content
            if os.writev(self.fd, (frame, header, content)) != size:
                raise OSError(28, "short write to the binlog")
            if self.sync_each:
                os.fdatasync(self.fd)
        except OSError:
            self.logic_id -= 1
            self.undo(self.filenum, self.offset)
            raise
        self.offset += size
        self.unsynced = True
        self.manifest_dirty = True

    def undo(self, filenum: int, offset: int) -> None:
        """Cut the current file back to ``offset`` (an append the DB did not take)."""
        if filenum != self.filenum:
            return
        try:
            os.ftruncate(self.fd, offset)
        except OSError as e:
            log.error("%s: could not cut %s%d back to %d: %s", self.path, PREFIX, filenum, offset, e)
            return
        self.offset = offset

    def _roll(self, to: int | None = None) -> None:
        os.fsync(self.fd)
        os.close(self.fd)
        self.filenum = self.filenum + 1 if to is None else to
        self.offset = 0
        # (Where the master rolled, the file starts empty whatever an older history left there.)
        trunc = os.O_TRUNC if to is not None else 0
        self.fd = os.open(self.file_path(self.filenum), os.O_WRONLY | os.O_APPEND | os.O_CREAT | trunc, 0o644)
        self.save_manifest()

    # -- a replica's copy of its master's binlog ----------------------------------
    @staticmethod
    def follows(position: tuple[int, int], filenum: int, offset: int) -> bool:
        """Whether an item at (filenum, offset) comes right after ``position``:
        at its end, or at the start of the next file (the master rolled)."""
        return (filenum, offset) == position or (filenum == position[0] + 1 and offset == 0)

    def place(self, ident: bytes, frames_: list[tuple[int, int, bytes]]) -> None:
        """Append the master's items verbatim: (filenum, offset, frame) each,
        in order, each right after the previous (``follows``); the binlog takes
        the master's identity. OSError, with nothing appended, if the disk refuses."""
        self._set_identity(ident)
        start = self.position
        try:
            for filenum, offset, frame in frames_:
                if filenum != self.filenum:
                    self._roll(filenum)
                if os.write(self.fd, frame) != len(frame):
                    raise OSError(28, "short write to the binlog")
                self.offset += len(frame)
            if self.sync_each:
                os.fdatasync(self.fd)
        except OSError:
            self.undo(*start)
            raise
        self.logic_id = HEADER.unpack_from(frames_[-1][2], FRAME.size)[3]
        self.unsynced = True
        self.manifest_dirty = True

    def reset_to(self, ident: bytes, filenum: int, offset: int) -> None:
        """Become an empty copy of a master's binlog that ends at (filenum,
        offset) (a full sync): the files of the old history go; the file
        starts with a pad item up to ``offset``."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        for n in files_in(self.path):
            os.unlink(self.file_path(n))
        self.ident, self.past = ident, []
        self.filenum, self.offset = filenum, offset
        self.fd = os.open(self.file_path(filenum), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if offset:
            if offset < FRAME.size + HEADER.size:
                raise BinlogError(f"no item ends at offset {offset}")
            hole = offset - FRAME.size - HEADER.size
            header = HEADER.pack(TYPE_PAD, int(time.time()), self.term, self.logic_id, filenum, 0, hole)
            os.write(self.fd, FRAME.pack(zlib.crc32(header), HEADER.size + hole) + header)
            os.ftruncate(self.fd, offset)  # the hole: no disk space
            os.fsync(self.fd)
        self.save_manifest()

    def sync(self) -> None:
        """fsync what was appended since the last call, then record it in the manifest."""
        if self.unsynced:
            self.unsynced = False
            os.fdatasync(self.fd)
        if self.manifest_dirty:
            self.save_manifest()

    def close(self) -> None:
        if self.fd < 0:
            return
        try:
            os.fsync(self.fd)
            self.save_manifest()
        finally:
            os.close(self.fd)
            self.fd = -1

    # -- reading -------------------------------------------------------------
    def items_from(self, filenum: int, offset: int) -> Iterator[tuple[int, int, int, tuple, bytes]]:
        """(filenum, offset, end offset, header, content) of every item from the
        position on, up to the end; BinlogError if that part is not all there."""
        n = filenum
        while n <= self.filenum:
            if not os.path.exists(self.file_path(n)):
                raise BinlogError(f"{PREFIX}{n} is gone (purged?)")
            yield from self._items_in(n, offset if n == filenum else 0, strict=True)
            n += 1

    def _items_in(self, filenum: int, offset: int, strict: bool) -> Iterator[tuple[int, int, int, tuple, bytes]]:
        with open(self.file_path(filenum), "rb") as f:
            offset = max(offset, pad_end(f))
            f.seek(offset)
            data = f.read()
        pos = 0
        for start, end, header, content in frames(data):
            yield filenum, offset + start, offset + end, header, content
            pos = end
        if pos < len(data) and strict:
            raise BinlogError(f"{PREFIX}{filenum}: corrupt item at offset {offset + pos}")


def frames(buf: bytes) -> Iterator[tuple[int, int, tuple, bytes]]:
    """(start, end, header, content) of the whole, valid items at the start of
    ``buf``, up to the first incomplete or invalid one."""
    pos, n = 0, len(buf)
    while n - pos >= FRAME.size:
        crc, length = FRAME.unpack_from(buf, pos)
        end = pos + FRAME.size + length
        if end > n:
            return
        item = buf[pos + FRAME.size : end]
        if length < HEADER.size or zlib.crc32(item) != crc:
            return
        header = HEADER.unpack_from(item)
        if header[6] != length - HEADER.size:
            return
        yield pos, end, header, item[HEADER.size :]
        pos = end


def whole_frame_at(buf: bytes, pos: int) -> bool:
    """Whether ``buf`` holds a whole frame at ``pos`` (where frames() stopped:
    then it is corrupt, not merely still being written)."""
    return len(buf) - pos >= FRAME.size and pos + FRAME.size + FRAME.unpack_from(buf, pos)[1] <= len(buf)


def file_path(path: str, n: int) -> str:
    """Binlog file ``n`` of the binlog directory ``path``."""
    return os.path.join(path, f"{PREFIX}{n}")


def files_in(path: str) -> list[int]:
    """The numbers of the binlog files in a binlog directory, in order."""
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return []
    return sorted(int(n[len(PREFIX):]) for n in names if n.startswith(PREFIX) and n[len(PREFIX):].isdigit())


def purge(path: str, keep_nums: int, keep_days: int, up_to: int | None = None,
          needed_from: int | None = None, now: float | None = None) -> list[int]:
    """Delete old binlog files of one DB, oldest first, as Pika does: while
    more than ``keep_nums`` remain, or a file is older than ``keep_days`` and
    more than 10 remain, or it is numbered ``up_to`` or less (PURGELOGSTO).
    The newest file (being written) and files from ``needed_from`` on (a
    replica still reads them) stay; deletion stops at the first file that
    stays. Returns the numbers deleted."""
    files = files_in(path)
    now = time.time() if now is None else now
    deleted = []
    for n in files[:-1]:
        if needed_from is not None and n >= needed_from:
            break
        remaining = len(files) - len(deleted)
        file = file_path(path, n)
        try:
            old = now - os.path.getmtime(file) > keep_days * 86400
        except FileNotFoundError:
            continue
        if not ((up_to is not None and n <= up_to) or remaining > keep_nums or (old and remaining > 10)):
            break
        try:
            os.unlink(file)
        except FileNotFoundError:
            pass
        deleted.append(n)
    return deleted


def _manifest_body(path: str) -> bytes | None:
    try:
        with open(os.path.join(path, "manifest"), "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    if (len(raw) < MANIFEST.size + 4 or (len(raw) - MANIFEST.size - 4) % PAST.size
            or zlib.crc32(raw[:-4]) != _LEN.unpack(raw[-4:])[0]):
        return None
    return raw[:-4]


def read_manifest(path: str) -> tuple[int, int, int, int, bytes] | None:
    """(filenum, offset, logic id, term, identity) of a binlog directory's manifest."""
    body = _manifest_body(path)
    return None if body is None else MANIFEST.unpack_from(body)


def read_past(path: str) -> list[tuple[bytes, int, int]]:
    """The earlier identities of a binlog directory, each with where it ended."""
    body = _manifest_body(path) or b""
    return [PAST.unpack_from(body, at) for at in range(MANIFEST.size, len(body), PAST.size)]


def continues(path: str, ident: bytes, rid: bytes) -> bool:
    """Whether identity ``rid`` is the binlog directory ``path``'s (``ident``,
    from its manifest) or one of the earlier identities it continues."""
    return rid == ident or any(rid == old for old, _, _ in read_past(path))


def covers(ident: bytes, past: list[tuple[bytes, int, int]], end: tuple[int, int],
           rid: bytes, filenum: int, offset: int) -> bool:
    """Whether position (rid, filenum, offset) lies in the history of a binlog
    with identity ``ident``, earlier identities ``past`` and end ``end``: that
    binlog holds the same items up to there."""
    if rid == ident:
        return (filenum, offset) <= end
    return any(rid == old and (filenum, offset) <= (f, o) for old, f, o in past)


def pad_end(f) -> int:
    """Where the items of an open binlog file start: after its pad item, if it has one."""
    f.seek(0)
    head = f.read(FRAME.size + HEADER.size)
    if len(head) < FRAME.size + HEADER.size:
        return 0
    crc, length = FRAME.unpack_from(head)
    header = head[FRAME.size :]
    if HEADER.unpack_from(header)[0] != TYPE_PAD or zlib.crc32(header) != crc:
        return 0
    return FRAME.size + length


def serves_from(path: str, rid: bytes, filenum: int, offset: int) -> bool:
    """Whether the binlog directory ``path`` can stream from position (rid,
    filenum, offset) on: the position is in its history and its file is there."""
    manifest = read_manifest(path)
    if manifest is None:
        return False
    # (The manifest's end lags the appends: the file's size bounds the position.)
    end = (filenum, offset) if rid == manifest[4] else (manifest[0], manifest[1])
    if not covers(manifest[4], read_past(path), end, rid, filenum, offset):
        return False
    try:
        with open(file_path(path, filenum), "rb") as f:
            return pad_end(f) <= offset <= os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        return False


class Reader:
    """Follows a binlog another process appends to, from a position on: whole
    items only (an item being written is picked up once it is complete)."""

    CHUNK = 1 << 20

    def __init__(self, path: str, filenum: int, offset: int) -> None:
        self.path = path
        self.filenum = filenum
        self.offset = offset
        self.f = None
        self.buf = b""  # read past self.offset, not yet a whole item

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None

    def read(self, max_bytes: int = 4 << 20) -> list[tuple[int, int, bytes]]:
        """(filenum, offset, frame) of the whole items appended since the last
        call, up to about ``max_bytes``; BinlogError if the position is gone
        (purged) or the file is corrupt there."""
        out: list[tuple[int, int, bytes]] = []
        total = 0
        while total < max_bytes:
            if self.f is None:
                try:
                    self.f = open(file_path(self.path, self.filenum), "rb")
                except FileNotFoundError:
                    raise BinlogError(f"{PREFIX}{self.filenum} is gone (purged?)") from None
                self.offset = max(self.offset, pad_end(self.f))
                self.f.seek(self.offset)
                self.buf = b""
            more = self.f.read(self.CHUNK)
            self.buf += more
            pos = 0
            buf = self.buf
            for start, end, _, _ in frames(buf):
                out.append((self.filenum, self.offset + start, buf[start:end]))
                total += end - start
                pos = end
            if whole_frame_at(buf, pos):
                raise BinlogError(f"{PREFIX}{self.filenum}: corrupt item at offset {self.offset + pos}")
            self.offset += pos
            self.buf = buf[pos:]
            if more:
                continue
            # At the end of this file. The next one exists once this one is
            # complete: then what this one holds now is all it will hold.
            if not os.path.exists(file_path(self.path, self.filenum + 1)):
                break
            if self.f.read(1):  # appended between our read and the roll
                self.f.seek(self.offset + len(self.buf))
                continue
            if self.buf:
                raise BinlogError(f"{PREFIX}{self.filenum}: torn item at offset {self.offset}")
            self.close()
            self.filenum += 1
            self.offset = 0
        return out
