"""One logical DB: key lookup with lazy expiry, type checks, key deletion,
expiry index, versions and the live DBSIZE counter. Type modules
(strings, hashes, ...) build on this; none of them touches RocksDB directly."""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

from pikamp.errors import WRONGTYPE, RespError
from pikamp.storage import codec
from pikamp.storage.codec import STRING
from pikamp.storage.engine import DATA, EXPIRES, META, STATE, ZSCORE, Engine

# DBs of this process with written keys that clients are blocked on; the
# worker has pikamp.blocking serve them after every command.
READY: list["Database"] = []
# Clients (ids) a key they WATCH was written for since (pikamp.multi).
DIRTY_CAS: set[int] = set()


class FormatError(Exception):
    """A DB directory in a layout this version of pikamp cannot read."""


class Clock:
    """One "now" per event-loop turn, so a pipeline sees a consistent time."""

    __slots__ = ("ms",)

    def __init__(self) -> None:
        self.ms = int(time.time() * 1000)

    def tick(self) -> int:
        self.ms = int(time.time() * 1000)
        return self.ms


class Database:
    """Key space of DB ``index``, stored in one Engine."""

    def __init__(self, index: int, engine: Engine, clock: Clock) -> None:
        self.index = index
        self.clock = clock
        # WATCHed keys of this DB -> the ids of the clients watching them.
        self.watched: dict[bytes, set[int]] = {}
        # Keyspace notifications on: the keys whose meta record the running
        # command wrote (pikamp.notify), and who hears of an expiry.
        self.touched: dict[bytes, None] | None = None
        self.on_expired: Callable[[bytes], None] | None = None
        # CLIENT TRACKING (pikamp.tracking) while some client tracks: told of every write.
        self.tracking = None
        self.reopen(engine)
        self._last_version = 0
        self.expired_keys = 0  # for INFO stats
        # CLIENT PAUSE: a read sees an expired key as gone but leaves it be
        # (writes, held back by the pause, still delete what they find expired).
        self.expiry_paused = False
        # INFO keyspace_hits / keyspace_misses: lookups of read commands
        # (the pipeline sets ``reading`` for each command it runs here).
        self.reading = False
        self.hits = 0
        self.misses = 0
        # Blocking commands (pikamp.blocking): key -> waiters, and keys written
        # since the last check that have waiters (see READY).
        self.blocked: dict[bytes, object] = {}
        self.ready: list[bytes] = []

    def reopen(self, engine: Engine) -> None:
        """Serve this DB from ``engine`` (at start, after SWAPDB, after a disk
        error). Raises FormatError for a layout this pikamp cannot read."""
        self.engine = engine
        engine.before_commit = self._store_size
        engine.after_drop = self._load_size
        if self.watched:  # other contents (SWAPDB): every watched key changed
            self._touch_all()
        self._hook()
        self._load_size()
        self._check_format()

    def reload_size(self) -> None:
        """Read the key count back from this turn's writes (replicated effects carry it)."""
        self._load_size()

    def _load_size(self) -> None:
        raw = self.engine.get(STATE, codec.DBSIZE_KEY)
        self.size = codec.unpack_u64(raw) if raw else 0
        self._size_dirty = False

    def _check_format(self) -> None:
        """The layout version on disk: recorded in a DB that has none (new, or
        written before versions were recorded: version 1), refused when newer
        than this code, raised to this code's version otherwise (every older
        layout so far reads as it is; a later one migrates here), so that an
        older pikamp refuses a DB that may now hold what it cannot read."""
        eng = self.engine
        raw = eng.get(STATE, codec.FORMAT_KEY)
        version = 1 if raw is None else int(raw) if raw.isdigit() else -1
        if not 1 <= version <= codec.FORMAT_VERSION:
            raise FormatError(
                f"{eng.path} has on-disk format version {raw.decode('latin-1')}, but this pikamp "  # type: ignore[union-attr]
                f"reads versions 1 to {codec.FORMAT_VERSION}: it was written by a newer pikamp")
        if raw is None or version < codec.FORMAT_VERSION:
            eng.put(STATE, codec.FORMAT_KEY, b"%d" % codec.FORMAT_VERSION)
            eng.commit()

    # -- lookup --------------------------------------------------------------
    def lookup(self, key: bytes) -> bytes | None:
        """The key's meta record, or None if absent or expired (expired keys are removed)."""
        raw = self.engine.get(META, key)
        if raw is None:
            if self.reading:
                self.misses += 1
            return None
        exp = codec.meta_expire(raw)
        if exp and exp <= self.clock.ms:
            if self.expiry_paused and self.reading:
                self.misses += 1
                return None
            self.delete(key, raw)
            self.expired_keys += 1
            if self.on_expired is not None:
                self.touched.pop(key, None)  # type: ignore[union-attr]  # "expired", not the command's event
                self.on_expired(key)
            if self.reading:
                self.misses += 1
            return None
        if self.reading:
            self.hits += 1
        return raw

    def lookup_type(self, key: bytes, typ: int) -> bytes | None:
        """Like lookup, but WRONGTYPE if the key holds another type."""
        raw = self.lookup(key)
        if raw is not None and raw[0] != typ and codec.logical_type(raw) != typ:
            raise RespError(WRONGTYPE)
        return raw

    def exists(self, key: bytes) -> bool:
        return self.lookup(key) is not None

    # -- WATCH -------------------------------------------------------------
    def watch(self, key: bytes, client_id: int) -> None:
        """From now on, any write to ``key`` puts the client in DIRTY_CAS."""
        ids = self.watched.get(key)
        if ids is None:
            ids = self.watched[key] = set()
        ids.add(client_id)
        self._hook()

    def unwatch(self, key: bytes, client_id: int) -> None:
        ids = self.watched.get(key)
        if ids is not None:
            ids.discard(client_id)
            if not ids:
                del self.watched[key]
                if not self.watched:
                    self._hook()

    def track_changes(self, on: bool, on_expired: Callable[[bytes], None] | None) -> None:
        """Keyspace notifications on or off for this DB."""
        self.touched = {} if on else None
        self.on_expired = on_expired if on else None
        self._hook()

    def set_tracking(self, tracking) -> None:
        """CLIENT TRACKING in use (a pikamp.tracking.Tracking) or not (None)."""
        self.tracking = tracking
        self._hook()

    def _hook(self) -> None:
        # The engine reports writes only while someone needs them: one
        # attribute check per write otherwise.
        needed = bool(self.watched) or self.touched is not None or self.tracking is not None
        self.engine.on_write = self._written if needed else None

    def _written(self, cf: int, k: bytes) -> None:
        """Engine.on_write while keys are watched: which key ``k`` belongs to."""
        if cf == META:
            key = k
        elif cf == DATA or cf == ZSCORE:
            if len(k) < 4:
                return
            key = k[4 : 4 + int.from_bytes(k[:4], "big")]
        else:  # the expiry index moves with the meta record; the key count
            return
        if self.touched is not None:
            self.touched[key] = None
        if self.tracking is not None:
            self.tracking.written(key)
        ids = self.watched.get(key)
        if ids:
            DIRTY_CAS.update(ids)

    @contextmanager
    def unsignalled(self) -> Iterator[None]:
        """Writes Redis makes without signalModifiedKey (BITFIELD growing a
        string for a SET that then fails): no WATCH, CLIENT TRACKING or
        keyspace event hears of them. The binlog still carries them."""
        eng = self.engine
        hook, eng.on_write = eng.on_write, None
        try:
            yield
        finally:
            eng.on_write = hook

    def _touch_all(self, existing_only: bool = False) -> None:
        """Every watched key changed (SWAPDB), or with ``existing_only`` the
        ones that exist (FLUSHDB: as Redis, a missing key stays unchanged)."""
        get = self.engine.get
        for key, ids in self.watched.items():
            if not existing_only or get(META, key) is not None:
                DIRTY_CAS.update(ids)

    # -- writes ------------------------------------------------------------
    def new_version(self) -> int:
        """A version never used before by this DB (microsecond clock, strictly rising)."""
        v = max(time.time_ns() // 1000, self._last_version + 1)
        self._last_version = v
        return v

    def put_meta(self, key: bytes, raw: bytes, old: bytes | None) -> None:
        """Store ``raw`` as the key's meta; ``old`` is the live record it replaces (or None).

        Keeps the expiry index and the key count in step, and drops the old
        collection's members when the old record was a collection of another version.
        """
        eng = self.engine
        if old is None:
            self.size += 1
            self._size_dirty = True
            old_exp = 0
        else:
            old_exp = codec.meta_expire(old)
            if old[0] != STRING and codec.meta_version(old) != codec.meta_version(raw):
                self._drop_members(key)
        new_exp = codec.meta_expire(raw)
        if old_exp != new_exp:
            if old_exp:
                eng.delete(EXPIRES, codec.expire_entry(old_exp, key))
            if new_exp:
                eng.put(EXPIRES, codec.expire_entry(new_exp, key), b"")
        eng.put(META, key, raw)
        if self.blocked and key in self.blocked:
            self.mark_ready(key)

    def mark_ready(self, key: bytes) -> None:
        """``key`` has waiters and may now serve them."""
        if not self.ready:
            READY.append(self)
        self.ready.append(key)

    def delete(self, key: bytes, old: bytes) -> None:
        """Remove a key whose current meta record is ``old``. O(1) for any size."""
        eng = self.engine
        exp = codec.meta_expire(old)
        if exp:
            eng.delete(EXPIRES, codec.expire_entry(exp, key))
        if old[0] != STRING:
            self._drop_members(key)
        eng.delete(META, key)
        self.size -= 1
        self._size_dirty = True

    def _drop_members(self, key: bytes) -> None:
        start, end = codec.key_range(key)
        self.engine.delete_range(DATA, start, end)
        self.engine.delete_range(ZSCORE, start, end)

    def set_expire(self, key: bytes, old: bytes, expire_ms: int) -> None:
        """Change the expiry of a live key (0 = persist)."""
        self.put_meta(key, codec.with_expire(old, expire_ms), old)

    def flush(self, announce: bool = True) -> int:
        """Delete every key (FLUSHDB). Returns how many keys there were.
        ``announce``: tracking clients are told to drop everything (FLUSHALL
        has one worker say it for all)."""
        eng = self.engine
        n = self.size
        self._touch_all(existing_only=True)
        if self.tracking is not None:
            self.tracking.flushed(announce)
        for cf in (META, DATA, ZSCORE, EXPIRES):
            eng.delete_range(cf, b"", b"\xff" * 64)
            # delete_range's end is exclusive: keys starting with 64 0xff bytes survive.
            for k, _ in eng.iterate(cf, b"\xff" * 64):
                eng.delete(cf, k)
        self.size = 0
        self._size_dirty = True
        if not eng.commit():
            raise eng.refusal()
        return n

    def commit(self) -> None:
        """Write everything done this turn (and the key count) atomically."""
        self.engine.commit()

    def _store_size(self) -> None:
        if self._size_dirty:
            self.engine.put(STATE, codec.DBSIZE_KEY, codec.pack_u64(self.size))
            self._size_dirty = False

    # -- active expiry -----------------------------------------------------
    def expire_cycle(self, limit: int) -> int:
        """Remove up to ``limit`` expired keys; returns how many were removed."""
        now = self.clock.ms
        end = codec.pack_u64(now + 1)
        victims = []
        for entry, _ in self.engine.iterate(EXPIRES, b"", end):
            victims.append(codec.decode_expire_entry(entry))
            if len(victims) >= limit:
                break
        removed = 0
        for exp, key in victims:
            raw = self.engine.get(META, key)
            if raw is not None and codec.meta_expire(raw) == exp:
                self.delete(key, raw)
                removed += 1
                if self.on_expired is not None:
                    self.on_expired(key)
            else:  # stale index entry
                self.engine.delete(EXPIRES, codec.expire_entry(exp, key))
        self.expired_keys += removed
        if victims:
            self.commit()
        return removed

    # -- iteration ---------------------------------------------------------
    def scan_keys(self, start: bytes, end: bytes | None = None, reverse: bool = False):
        """Yield (key, meta) of live keys in key order from ``start``."""
        now = self.clock.ms
        for key, raw in self.engine.iterate(META, start, end, reverse):
            exp = codec.meta_expire(raw)
            if exp and exp <= now:
                continue
            yield key, raw
