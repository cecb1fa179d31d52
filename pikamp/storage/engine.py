"""The only module that talks to RocksDB (through the rocksdict binding).

An Engine is one RocksDB directory with the column families pikamp uses. Writes
made during one event-loop turn go into a single WriteBatch (group commit) and
into a small overlay dict, so reads in the same turn see them before the batch
is written. ``commit()`` writes the batch (WAL on) and must run before replies
are sent: an acknowledged write is in the WAL.
"""
from __future__ import annotations

import gc
import logging
import os
from dataclasses import dataclass
from typing import Callable, Iterator

from rocksdict import (
    AccessType,
    BlockBasedIndexType,
    BlockBasedOptions,
    Cache,
    Checkpoint,
    DBCompressionType,
    Options,
    Rdict,
    WriteBatch,
    WriteBufferManager,
    WriteOptions,
)

from pikamp.errors import RespError, misconf
from pikamp.storage import codec
from pikamp.storage.binlog import (OP_DELETE, OP_PUT, OP_RANGE, Binlog, BinlogError, decode_ops, encode_ops, frames,
                                   pack_position, unpack_position)

log = logging.getLogger("pikamp.engine")

# Column families; their order is their index in Engine.handles.
META, DATA, ZSCORE, EXPIRES, STATE = 0, 1, 2, 3, 4
CF_NAMES = ("meta", "data", "zscore", "expires", "default")

_DELETED = object()

# Engines with writes not yet committed, in this process: the worker commits
# exactly these at the end of each event-loop turn.
PENDING: list["Engine"] = []
# Engines whose commit failed since the worker last looked: the replies of
# their turn must not be sent as if the writes had been made.
FAILED: list["Engine"] = []


# Causes of a failed write that only room on the disk (or its repair) cures.
DISK_ERRORS = ("No space left on device", "Read-only file system", "Disk quota exceeded",
               "Input/output error")


def short_error(e: BaseException) -> str:
    """The cause of a RocksDB error in a few words ("No space left on device")."""
    text = str(e)
    for cause in DISK_ERRORS + ("Too many open files",):
        if cause in text:
            return cause
    return text.splitlines()[0][:120] if text else type(e).__name__


# INFO rocksdb: summed over column families, read once per DB, and tickers.
_CF_NUMBERS = (
    (b"memtable_bytes", "rocksdb.cur-size-all-mem-tables"),
    (b"table_readers_bytes", "rocksdb.estimate-table-readers-mem"),
    (b"pending_compaction_bytes", "rocksdb.estimate-pending-compaction-bytes"),
    (b"sst_bytes", "rocksdb.total-sst-files-size"),
)
_DB_NUMBERS = (
    (b"running_compactions", "rocksdb.num-running-compactions"),
    (b"running_flushes", "rocksdb.num-running-flushes"),
    (b"write_stopped", "rocksdb.is-write-stopped"),
)
_TICKERS = {
    "rocksdb.block.cache.hit": b"block_cache_hits",
    "rocksdb.block.cache.miss": b"block_cache_misses",
    "rocksdb.stall.micros": b"write_stall_micros",
}


@dataclass
class Tuning:
    """RocksDB options of one worker's DBs (the config keys of the same names)."""

    write_buffer_size: int = 64 << 20
    block_size: int = 4096
    cache_index_and_filter_blocks: bool = True
    partitioned_index_filters: bool = True
    optimize_filters_for_hits: bool = False
    dynamic_level_bytes: bool = True
    target_file_size_base: int = 64 << 20
    # RocksDB's default (4x all memtables: GBs per DB) lets a column family
    # that is rarely written (expires, the key count) keep every WAL file
    # alive long after the data in it was flushed.
    max_total_wal_size: int = 128 << 20
    max_subcompactions: int = 1
    rate_limit: int = 0  # bytes/s of flush + compaction writes; 0: none
    compression: str = "snappy"
    statistics: bool = False  # RocksDB tickers: measured at ~0.5 us more per point read
    # Shared by every DB of the worker when given (share-block-cache and the
    # memtable budget, max-write-buffer-size); else each DB has its own.
    cache: Cache | None = None
    write_buffers: WriteBufferManager | None = None


def new_cache(size: int) -> Cache:
    """A block cache to share between engines (Tuning.cache)."""
    return Cache(size)


def new_write_buffers(size: int) -> WriteBufferManager | None:
    """One memtable budget for engines sharing it (Tuning.write_buffers); 0: none.

    Past the budget the biggest memtables are flushed; writes do not stall on
    it (one 500 MB value would otherwise stop every writer of the worker for
    the seconds its flush takes). What bounds memtables under a write flood is
    RocksDB's per-column-family stall (max_write_buffer_number memtables)."""
    return WriteBufferManager(size, False) if size > 0 else None


def _options(t: Tuning, cache: Cache) -> Options:
    opts = Options(raw_mode=True)
    opts.create_if_missing(True)
    opts.create_missing_column_families(True)
    table = BlockBasedOptions()
    table.set_bloom_filter(10, False)
    table.set_block_cache(cache)
    table.set_block_size(t.block_size)
    if t.cache_index_and_filter_blocks:
        # Bounded memory whatever the data size: index and filters live in the
        # block cache. Unpartitioned, one filter block per SST (MBs at 1M
        # keys) may not fit a cache shard and is re-read on every lookup:
        # partitioned, lookups touch one small partition, and the pinned top
        # level stays in memory.
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        if t.partitioned_index_filters:
            table.set_index_type(BlockBasedIndexType.two_level_index_search())
            table.set_partition_filters(True)
            table.set_pin_top_level_index_and_filter(True)
            table.set_metadata_block_size(4096)
            table.set_format_version(5)
    opts.set_block_based_table_factory(table)
    opts.set_write_buffer_size(t.write_buffer_size)
    if t.write_buffers is not None:
        opts.set_write_buffer_manager(t.write_buffers)
    opts.set_optimize_filters_for_hits(t.optimize_filters_for_hits)
    opts.set_level_compaction_dynamic_level_bytes(t.dynamic_level_bytes)
    opts.set_target_file_size_base(t.target_file_size_base)
    opts.set_max_subcompactions(t.max_subcompactions)
    if t.rate_limit > 0:
        opts.set_ratelimiter(t.rate_limit, 100_000, 10)
    opts.set_compression_type(
        {
            "none": DBCompressionType.none(),
            "snappy": DBCompressionType.snappy(),
            "lz4": DBCompressionType.lz4(),
            "zstd": DBCompressionType.zstd(),
            "zlib": DBCompressionType.zlib(),
        }.get(t.compression, DBCompressionType.snappy())
    )
    return opts


def _merge(base: Iterator[tuple[bytes, bytes]], pending: list[tuple[bytes, object]],
           reverse: bool) -> Iterator[tuple[bytes, bytes]]:
    """``base`` (RocksDB, in order) with ``pending`` writes laid over it: a
    pending value replaces or adds its key, a pending delete hides it."""
    i, n = 0, len(pending)
    for k, v in base:
        while i < n and (pending[i][0] > k if reverse else pending[i][0] < k):
            pk, pv = pending[i]
            i += 1
            if pv is not _DELETED:
                yield pk, pv  # type: ignore[misc]
        if i < n and pending[i][0] == k:
            pv = pending[i][1]
            i += 1
            if pv is not _DELETED:
                yield k, pv  # type: ignore[misc]
            continue
        yield k, v
    for pk, pv in pending[i:]:
        if pv is not _DELETED:
            yield pk, pv  # type: ignore[misc]


class Engine:
    """One RocksDB instance with the meta/data/zscore/expires/default column families."""

    def __init__(
        self,
        path: str,
        *,
        tuning: Tuning | None = None,
        block_cache_size: int = 64 << 20,
        max_background_jobs: int = 2,
        secondary_path: str | None = None,
        fsync: str = "no",
    ) -> None:
        self.path = path
        t = tuning or Tuning()
        cache = t.cache if t.cache is not None else Cache(block_cache_size)
        opts = _options(t, cache)
        opts.set_max_background_jobs(max_background_jobs)
        opts.set_max_total_wal_size(t.max_total_wal_size)
        if t.statistics:  # tickers for INFO rocksdb (block cache hits, stall time)
            opts.enable_statistics()
        self.statistics = t.statistics
        self.options = opts
        cfs = {name: _options(t, cache) for name in CF_NAMES[:-1]}
        if secondary_path is None:
            os.makedirs(path, exist_ok=True)
            self.db = Rdict(path, opts, column_families=cfs)
        else:
            opts.set_max_open_files(-1)
            self.db = Rdict(
                path, opts, column_families=cfs, access_type=AccessType.secondary(secondary_path)
            )
        self.cfs = [self.db.get_column_family(n) for n in CF_NAMES[:-1]] + [self.db]
        self.handles = [self.db.get_column_family_handle(n) for n in CF_NAMES[:-1]] + [None]
        self.batch = WriteBatch(raw_mode=True)
        self.dirty = False
        # Called by commit() before the batch is written, to add to it (the
        # Database's key count goes in the same batch as the keys).
        self.before_commit: Callable[[], None] | None = None
        # Called when a batch is dropped instead of written, so in-memory
        # state derived from it (the key count) is read back from disk.
        self.after_drop: Callable[[], None] | None = None
        # The error of the last failed write: until the engine is reopened,
        # RocksDB refuses every write, and so do we (reads keep working).
        self.failed: str | None = None
        # The DB's binlog (pikamp.storage.binlog), and this turn's writes in
        # order for its next item; both None when the binlog is off.
        self.binlog: Binlog | None = None
        self.log_ops: list[tuple] | None = None
        # A replica's DB (``set_follower``): its binlog is a copy of the
        # master's, so this turn's items from the master, (filenum, offset,
        # frame) each, are appended verbatim under the master's identity;
        # writes of its own are not logged (Redis: a replica's own writes are
        # not propagated).
        self.follower = False
        self.replicated: list[tuple[int, int, bytes]] = []
        self.replicated_ident = b""
        self.write_opts = WriteOptions()
        self.unsynced = False  # written since the last WAL fsync
        self.set_fsync(fsync)
        # (cf, key) -> value or _DELETED, for writes not yet in RocksDB.
        self.overlay: dict[tuple[int, bytes], object] = {}
        # Told of every write (cf, key; for a range delete its start) while
        # someone WATCHes a key of this DB; None otherwise: one check per write.
        self.on_write: Callable[[int, bytes], None] | None = None
        self.merging = False  # iterate merges pending writes instead of committing them

    def attach_binlog(self, binlog: Binlog) -> None:
        """Log every batch from now on; first replay what the binlog holds past
        the position the DB recorded (a crash between the append and the write)."""
        self.binlog = binlog
        raw = self.get(STATE, codec.BINLOG_POS_KEY)
        if raw is not None:
            ident, filenum, offset = unpack_position(raw)
            if binlog.covers(ident, filenum, offset):
                replayed = 0
                try:
                    for n, _, end, _, content in binlog.items_from(filenum, offset):
                        self._apply(decode_ops(content), pack_position(binlog.ident, n, end))
                        replayed += 1
                except BinlogError as e:
                    log.error("%s: binlog replay stopped: %s", self.path, e)
                    binlog.restart()
                if replayed:
                    log.warning("%s: replayed %d binlog items the DB had not applied (a crash)",
                                self.path, replayed)
            elif not binlog.is_empty():  # a new binlog (new log-path, restored dump) is simply adopted
                binlog.restart()
        # A DB without a position (new, or from before the binlog) starts with the binlog's end.
        self.log_ops = None if self.follower else []

    def set_follower(self, on: bool) -> None:
        """Become a replica's DB (its binlog copies the master's) or a master's
        again: then the binlog takes a new identity, remembering the old one."""
        if on == self.follower:
            return
        self.commit()
        self.follower = on
        if self.binlog is None:
            return
        self.log_ops = None if on else []
        if not on:
            try:
                self.binlog.new_identity()
            except OSError as e:
                log.error("%s: binlog manifest: %s", self.path, e)

    def position(self) -> bytes | None:
        """The binlog position this DB has applied (identity, file, offset)."""
        return self.get(STATE, codec.BINLOG_POS_KEY)

    def replicate(self, ident: bytes, frames_: list[bytes], on_put: Callable[[int, bytes], None],
                  on_delete: Callable[[int, bytes], None] | None = None) -> None:
        """Apply a master's binlog items (whole frames) in this turn's batch;
        at commit they go verbatim into this DB's binlog, and the batch records
        the position after them. ``on_put`` / ``on_delete`` hear of each key
        written / deleted (a range delete: its start). BinlogError if they do
        not follow what this DB holds (nothing is applied then)."""
        binlog = self.binlog
        if binlog is None or not self.follower:
            raise BinlogError("this DB does not follow a master")
        placed = self.replicated
        at = (placed[-1][0], placed[-1][1] + len(placed[-1][2])) if placed else binlog.position
        batch = []
        for frame in frames_:
            parsed = next(frames(frame), None)
            if parsed is None or parsed[1] != len(frame):
                raise BinlogError("a corrupt item from the master")
            _, end, header, content = parsed
            filenum, offset = header[4], header[5]
            if not Binlog.follows(at, filenum, offset):
                raise BinlogError(f"an item at {filenum}:{offset} does not follow {at[0]}:{at[1]}")
            batch.append((filenum, offset, frame, content))
            at = (filenum, offset + end)
        for filenum, offset, frame, content in batch:
            for op, cf, a, b in decode_ops(content):
                if op == OP_PUT:
                    self.put(cf, a, b)
                    on_put(cf, a)
                elif op == OP_DELETE:
                    self.delete(cf, a)
                    if on_delete is not None:
                        on_delete(cf, a)
                else:
                    self.delete_range(cf, a, b)
                    if on_delete is not None:
                        on_delete(cf, a)
            placed.append((filenum, offset, frame))
        self.replicated_ident = ident

    def adopt_position(self, ident: bytes, filenum: int, offset: int) -> None:
        """After a full sync: this DB holds the master's DB at (ident, filenum,
        offset), and its binlog becomes an empty copy of the master's there."""
        self.commit()
        if self.binlog is not None:
            self.binlog.reset_to(ident, filenum, offset)
        batch = WriteBatch(raw_mode=True)
        batch.put(codec.BINLOG_POS_KEY, pack_position(ident, filenum, offset), self.handles[STATE])
        self.db.write(batch, self.write_opts)

    def _apply(self, ops: list[tuple], position: bytes) -> None:
        """Write logged effects and the position after them as one batch."""
        batch = WriteBatch(raw_mode=True)
        for op, cf, a, b in ops:
            if op == OP_PUT:
                batch.put(a, b, self.handles[cf])
            elif op == OP_DELETE:
                batch.delete(a, self.handles[cf])
            else:
                batch.delete_range(a, b, self.handles[cf])
        batch.put(codec.BINLOG_POS_KEY, position, self.handles[STATE])
        self.db.write(batch, self.write_opts)

    # -- reads -------------------------------------------------------------
    def get(self, cf: int, key: bytes) -> bytes | None:
        """Point read that sees this turn's uncommitted writes."""
        if self.dirty:
            v = self.overlay.get((cf, key))
            if v is not None:
                return None if v is _DELETED else v  # type: ignore[return-value]
        return self.cfs[cf].get(key)

    def get_many(self, cf: int, keys: list[bytes]) -> list[bytes | None]:
        """Point reads of several keys at once (one RocksDB MultiGet), seeing
        this turn's uncommitted writes."""
        values = self.cfs[cf].get(keys)
        if self.dirty:
            overlay = self.overlay
            for i, key in enumerate(keys):
                v = overlay.get((cf, key))
                if v is not None:
                    values[i] = None if v is _DELETED else v
        return values

    def iterate(
        self, cf: int, start: bytes, end: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Yield (key, value) with start <= key < end (reverse: from end down to start).

        Iterators read RocksDB, so this turn's pending writes are committed
        first; while ``merging`` (an EXEC runs) they are merged into what the
        iterator yields instead, so the transaction stays one write batch. The
        merge sees point writes only: a range delete pending in the batch is
        invisible to it, which is safe because range deletes only drop what no
        read can reach any more (an old version of a key, list positions
        outside its bounds); FLUSHDB commits itself.
        """
        if self.dirty:
            if self.merging:
                return _merge(self._scan(cf, start, end, reverse), self._pending(cf, start, end, reverse), reverse)
            if not self.commit():
                raise self.refusal()
        return self._scan(cf, start, end, reverse)

    def _pending(self, cf: int, start: bytes, end: bytes | None, reverse: bool) -> list[tuple[bytes, object]]:
        """This turn's writes to ``cf`` in [start, end), in iteration order."""
        found = [(k, v) for (c, k), v in self.overlay.items()
                 if c == cf and k >= start and (end is None or k < end)]
        found.sort(reverse=reverse)
        return found

    def _scan(
        self, cf: int, start: bytes, end: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        it = self.cfs[cf].iter()
        if not reverse:
            it.seek(start)
            while it.valid():
                k = it.key()
                if end is not None and k >= end:
                    return
                yield k, it.value()
                it.next()
        else:
            if end is None:
                it.seek_to_last()
            else:
                it.seek_for_prev(end)
                if it.valid() and it.key() >= end:
                    it.prev()
            while it.valid():
                k = it.key()
                if k < start:
                    return
                yield k, it.value()
                it.prev()

    # -- writes (buffered until commit) -----------------------------------
    def put(self, cf: int, key: bytes, value: bytes) -> None:
        self.batch.put(key, value, self.handles[cf])
        self.overlay[(cf, key)] = value
        if self.log_ops is not None:
            self.log_ops.append((OP_PUT, cf, key, value))
        if not self.dirty:
            self._mark_dirty()
        if self.on_write is not None:
            self.on_write(cf, key)

    def delete(self, cf: int, key: bytes) -> None:
        self.batch.delete(key, self.handles[cf])
        self.overlay[(cf, key)] = _DELETED
        if self.log_ops is not None:
            self.log_ops.append((OP_DELETE, cf, key, None))
        if not self.dirty:
            self._mark_dirty()
        if self.on_write is not None:
            self.on_write(cf, key)

    def delete_range(self, cf: int, start: bytes, end: bytes) -> None:
        """Delete [start, end). Callers only range-delete data that is already
        invisible (an old version), so the overlay needs no update."""
        self.batch.delete_range(start, end, self.handles[cf])
        if self.log_ops is not None:
            self.log_ops.append((OP_RANGE, cf, start, end))
        if not self.dirty:
            self._mark_dirty()
        if self.on_write is not None:
            self.on_write(cf, start)

    def _mark_dirty(self) -> None:
        self.dirty = True
        PENDING.append(self)

    def set_fsync(self, mode: str) -> None:
        """appendfsync: "always" fsyncs the WAL in every commit (one fsync per
        DB per event-loop turn: group commit), "everysec" leaves it to
        ``sync_wal`` once a second, "no" to the OS."""
        self.fsync = mode
        self.write_opts.sync = mode == "always"
        if self.binlog is not None:
            self.binlog.sync_each = mode == "always"

    def commit(self) -> bool:
        """Write this turn's batch to the WAL and memtable as one atomic unit.

        False when it could not be written (the disk is full ...): the batch is
        dropped whole, so RocksDB holds none of it, and the engine refuses
        writes from then on (``failed``) until it is reopened."""
        if not self.dirty:
            return True
        if self.before_commit is not None:
            self.before_commit()
        batch, self.batch = self.batch, WriteBatch(raw_mode=True)
        self.overlay.clear()
        self.dirty = False
        ops = self.log_ops
        if ops:
            self.log_ops = []
        placed = self.replicated
        if placed:
            self.replicated = []
        if self.failed is None:
            binlog = self.binlog
            before = binlog.position if ops or placed else None
            try:
                if placed:  # a replica: the master's items, verbatim
                    binlog.place(self.replicated_ident, placed)  # type: ignore[union-attr]
                    batch.put(codec.BINLOG_POS_KEY, binlog.position_record(), self.handles[STATE])  # type: ignore[union-attr]
                elif ops:  # the item first; the batch records the position after it
                    binlog.append(encode_ops(ops))  # type: ignore[union-attr]
                    batch.put(codec.BINLOG_POS_KEY, binlog.position_record(), self.handles[STATE])  # type: ignore[union-attr]
            except OSError as e:
                self.failed = f"Writing binlog failed, maybe no space left on device ({e.strerror})"
                log.error("%s: binlog append failed, writes refused until the disk recovers: %s", self.path, e)
            else:
                try:
                    self.db.write(batch, self.write_opts)
                    self.unsynced = True
                    return True
                except Exception as e:  # RocksDB raises a bare Exception for IO errors
                    self.failed = short_error(e)
                    log.error("%s: write failed, writes refused until the disk recovers: %s", self.path, e)
                    if before is not None:  # not applied: not in the binlog either
                        binlog.undo(*before)  # type: ignore[union-attr]
        # Writes are refused while failed; what still got here (a lazy
        # expiry's delete) is dropped with the rest of the batch.
        if self not in FAILED:
            FAILED.append(self)
        if self.after_drop is not None:
            self.after_drop()
        return False

    def refusal(self) -> RespError:
        """The error a write gets while the engine refuses writes (``failed``)."""
        return RespError(misconf(self.failed or ""))

    def sync_wal(self) -> None:
        """fsync what was written since the last call (appendfsync everysec),
        the binlog's appends included."""
        if self.binlog is not None:
            try:
                self.binlog.sync()
            except OSError as e:
                self.failed = f"Writing binlog failed, maybe no space left on device ({e.strerror})"
                log.error("%s: binlog fsync failed, writes refused until the disk recovers: %s", self.path, e)
        if self.unsynced and self.failed is None:
            self.unsynced = False
            try:
                self.db.flush_wal(True)
            except Exception as e:
                self.failed = short_error(e)
                log.error("%s: WAL fsync failed, writes refused until the disk recovers: %s", self.path, e)

    def binlog_cron(self) -> None:
        """Once a second (appendfsync always or no): record the binlog's end in its manifest."""
        binlog = self.binlog
        if binlog is not None and binlog.manifest_dirty:
            try:
                binlog.save_manifest()
            except OSError as e:
                log.warning("%s: binlog manifest: %s", self.path, e)

    # -- maintenance -------------------------------------------------------
    def compact(self) -> None:
        """Compact every column family. Thread-safe: it does not touch this
        turn's batch, so it may run in a helper thread (commit first)."""
        for cf in self.cfs:
            cf.compact_range(None, None)

    def checkpoint(self, path: str) -> None:
        """Hard-link snapshot of the whole DB into ``path`` (must not exist)."""
        self.commit()
        self.checkpoint_committed(path)

    def checkpoint_committed(self, path: str) -> None:
        """Like checkpoint, of what is committed: callable from another thread
        (RocksDB's checkpoint is; it flushes the memtable, which takes a while)."""
        self.db.flush_wal(True)
        Checkpoint(self.db).create_checkpoint(path)

    def catch_up(self) -> None:
        """For a secondary instance: replay the primary's new writes."""
        self.db.try_catch_up_with_primary()

    def property_int(self, name: str) -> int:
        total = 0
        for cf in self.cfs:
            v = cf.property_int_value(name)
            total += v or 0
        return total

    def numbers(self) -> dict[bytes, int]:
        """What INFO rocksdb shows of this DB: memtables, table readers,
        compaction backlog, write stalls, estimated keys, block cache tickers,
        SST bytes per level (``sst_bytes_l<N>``)."""
        out = {name: self.property_int(prop) for name, prop in _CF_NUMBERS}
        db = self.db
        for name, prop in _DB_NUMBERS:
            out[name] = db.property_int_value(prop) or 0
        # Keys, not members: the meta column family's estimate.
        out[b"estimated_keys"] = self.cfs[META].property_int_value("rocksdb.estimate-num-keys") or 0
        if self.statistics:
            tickers = dict.fromkeys(_TICKERS.values(), 0)
            for line in (self.options.get_statistics() or "").splitlines():
                name, _, rest = line.partition(" COUNT : ")
                if name in _TICKERS and rest.isdigit():
                    tickers[_TICKERS[name]] = int(rest)
            out.update(tickers)
        for f in db.live_files():
            key = b"sst_bytes_l%d" % f["level"]
            out[key] = out.get(key, 0) + f["size"]
        return out

    def cache_numbers(self) -> tuple[int, int, int]:
        """(capacity, usage, pinned usage) of this DB's block cache (shared or not)."""
        db = self.db
        return tuple(db.property_int_value(p) or 0 for p in  # type: ignore[return-value]
                     ("rocksdb.block-cache-capacity", "rocksdb.block-cache-usage",
                      "rocksdb.block-cache-pinned-usage"))

    def close(self) -> None:
        """Write what is pending and close RocksDB (a second call does nothing).

        Also after a failed write: close() then raises RocksDB's error, yet the
        instance must let go of its files and LOCK so the DB can be reopened."""
        if not self.cfs:
            return
        self.commit()
        if self.fsync != "no":
            self.sync_wal()
        for cf in self.cfs[:-1] + [self.db]:
            try:
                cf.close()
            except Exception as e:
                log.warning("%s: close: %s", self.path, short_error(e))
        # Column family objects keep RocksDB (and its LOCK) alive after close():
        # drop them so the directory can be reopened in this process (SWAPDB).
        self.cfs = []
        self.handles = []
        self.db = None  # type: ignore[assignment]
        if self.binlog is not None:
            try:
                self.binlog.close()
            except OSError as e:
                log.warning("%s: binlog close: %s", self.path, e)
            self.binlog = self.log_ops = None
        gc.collect()  # the binding frees the instance only when unreferenced
