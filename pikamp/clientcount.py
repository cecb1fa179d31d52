"""Client admission: maxclients for the whole server, the fds it needs, and an
accept loop that speaks up when the fds run out.

maxclients counts every worker's clients together, as Redis counts one
process's. The supervisor maps one small shared array before forking (an
anonymous MAP_SHARED mmap, inherited by every child): one slot per worker,
written only by that worker (its number of clients), summed by a worker that
accepts a connection. A worker's slot is cleared when it dies (its clients
died with it) and again when its replacement starts.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import mmap
import os
import socket
import time
from typing import Callable

from pikamp.config import Config

log = logging.getLogger("pikamp.clients")

MAXCLIENTS_REACHED = b"-ERR max number of clients reached\r\n"
REFUSED_LINGER = 1.0  # seconds a refused client has to read why before it is closed
REFUSED_LINGER_MAX = 64  # refused clients a worker keeps open at once to let them read it

_slots: memoryview | None = None  # this server's counts (None: a worker alone, as in unit tests)
_mine = 0  # this worker's slot
_refused = 0  # refused clients of this worker not closed yet


class ClientCounts:
    """The shared counts of ``nworkers`` workers; made by the supervisor before it forks."""

    def __init__(self, nworkers: int) -> None:
        self._map = mmap.mmap(-1, 8 * nworkers, flags=mmap.MAP_SHARED)
        self.slots = memoryview(self._map).cast("q")

    def reset(self, index: int) -> None:
        """Worker ``index`` has no clients (it died, or starts)."""
        self.slots[index] = 0

    def attach(self, index: int) -> None:
        """In worker ``index``'s process, before it serves: this process counts in slot ``index``."""
        global _slots, _mine
        self.reset(index)
        _slots, _mine = self.slots, index


def admit(local: int, limit: int) -> bool:
    """May this worker, holding ``local`` clients, accept one more? The whole
    server may hold at most ``limit``. On True the new client is counted."""
    s = _slots
    if s is None:
        return local < limit
    # Claim first, then look: two workers admitting at once both see both
    # claims, so they can refuse one too many but never let one too many in.
    # (No fence between the store and the loads: the interpreter's work in
    # between drains the store buffer long before; at worst one too many.)
    s[_mine] = local + 1
    if sum(s) > limit:
        s[_mine] = local
        return False
    return True


def update(local: int) -> None:
    """This worker now holds ``local`` clients (after one left)."""
    if _slots is not None:
        _slots[_mine] = local


def refuse(transport: asyncio.Transport) -> None:
    """Tell a client beyond maxclients so, and close it.

    Closing at once with its first command unread would make the kernel reset
    the connection, and the reset can destroy the error before the client
    reads it. So: the error, a half-close, and the worker drops what it sends
    until it closes (Client.eof_received) or REFUSED_LINGER has passed. Only
    REFUSED_LINGER_MAX at once, as each holds an fd; beyond that, close at once."""
    global _refused
    _refused += 1
    transport.write(MAXCLIENTS_REACHED)
    if _refused > REFUSED_LINGER_MAX:
        transport.close()
        return
    transport.write_eof()  # type: ignore[attr-defined]
    asyncio.get_running_loop().call_later(REFUSED_LINGER, transport.close)


def refused_gone() -> None:
    """A refused client's connection is closed."""
    global _refused
    _refused = max(_refused - 1, 0)


def total() -> int | None:
    """Clients of the whole server (None where there are no shared counts)."""
    return sum(_slots) if _slots is not None else None


# -- file descriptors -------------------------------------------------------------------

# As Redis' CONFIG_MIN_RESERVED_FDS: stdio, the log file, the inherited pid-file
# lock, the event loop's epoll/io_uring, eventfd and signal pipes, libuv's spare
# fd, the TCP and the unix (IPC) listening sockets, and short-lived ones: a
# call_blocking link (SWAPDB), a BGSAVE checkpoint, /proc reads for INFO.
BASE_FDS = 32
# A fresh DB holds 10 (measured): LOCK, LOG, MANIFEST, the WAL and one directory
# fd per column family plus the DB's own; room for its binlog file and for a
# second WAL and MANIFEST while RocksDB switches to new ones.
FIXED_FDS_PER_DB = 16
# RocksDB keeps every SST file open (max_open_files -1): those on disk at start
# are counted, and this many new ones per DB fit before fds could run short
# (at target-file-size-base 64 MB, 2 GB of growth per DB).
NEW_SST_PER_DB = 32


def _sst_files(path: str) -> int:
    try:
        with os.scandir(path) as it:
            return sum(1 for e in it if e.name.endswith(".sst"))
    except OSError:
        return 0


def reserved_fds(config: Config, services: int) -> int:
    """File descriptors the busiest worker needs besides its client sockets.

    Every worker gets the whole maxclients (SO_REUSEPORT may hand one worker
    nearly all connections), plus: BASE_FDS; the refused clients it lets read
    why (REFUSED_LINGER_MAX); two IPC links per peer worker
    (ipc.PeerLink out, ipc.OwnerLink in) and one per service process that may
    ask it something; and the RocksDB files of each DB it owns."""
    n = config.workers
    db_path = config.path_of("db-path")
    per_worker = [0] * n
    for i in range(config.databases):
        per_worker[i % n] += FIXED_FDS_PER_DB + NEW_SST_PER_DB + _sst_files(os.path.join(db_path, f"db{i}"))
    return BASE_FDS + REFUSED_LINGER_MAX + 2 * (n - 1) + services + max(per_worker)


# -- the accept loop --------------------------------------------------------------------

LOG_EVERY = 10.0  # seconds between two warnings about accept() failing


class Acceptor:
    """Accepts client connections on a listening socket and hands each to a new
    ``factory()`` protocol: a drop-in for ``loop.create_server(factory, sock=sock)``.

    uvloop's own server, when accept() fails with EMFILE, lets libuv close its
    spare fd, accept every pending connection and close it at once: the clients
    get EOF and nothing is logged. Here the failure is logged (at most every
    LOG_EVERY seconds, with the count since) and each such client is told
    ``-ERR max number of clients reached`` through one spare fd kept for that."""

    BURST = 64  # connections accepted per wake-up, so clients already in get served too

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 factory: Callable[[], asyncio.Protocol]) -> None:
        self.loop = loop
        self.sock = sock
        self.factory = factory
        sock.setblocking(False)
        self.spare: int | None = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self.refused = 0  # refused for want of fds since the last warning
        self.logged = 0.0
        self.paused = False
        self.closed = False
        loop.add_reader(sock.fileno(), self._ready)

    def _ready(self) -> None:
        for _ in range(self.BURST):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE):
                    if self._out_of_fds(e):
                        continue  # that client was answered: the next one
                else:  # ENOBUFS, ENOMEM ...: wait a little, as asyncio does
                    self._warn(f"accept() failed: {e.strerror}")
                    self._pause(0.1)
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.loop.create_task(self._attach(conn))

    async def _attach(self, conn: socket.socket) -> None:
        try:
            await self.loop.connect_accepted_socket(self.factory, conn)
        except OSError:  # the client left before it was set up
            conn.close()

    def _out_of_fds(self, e: OSError) -> bool:
        """accept() found no fd: answer one client through the spare fd.
        False: none was waiting (Linux fails before it looks), or none could be."""
        if self.spare is None:
            self._warn_fds(e)
            self._pause(0.1)  # the spare fd could not be taken back: try again soon
            return False
        os.close(self.spare)
        self.spare = None
        answered = False
        try:
            conn, _ = self.sock.accept()
        except OSError:
            pass
        else:
            answered = True
            self.refused += 1
            try:
                conn.send(MAXCLIENTS_REACHED)
            except OSError:
                pass
            conn.close()
        try:
            self.spare = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self.spare = None
        if answered:
            self._warn_fds(e)
        return answered and self.spare is not None

    def _warn_fds(self, e: OSError) -> None:
        self._warn(f"accept() failed: {e.strerror} (open files limit {_nofile()}); refusing clients "
                   "until some disconnect: lower maxclients or raise 'ulimit -n'")

    def _warn(self, what: str) -> None:
        now = time.monotonic()
        if now - self.logged >= LOG_EVERY:
            log.warning("%s (%d connections refused for want of fds since the last warning)",
                        what, self.refused)
            self.logged = now
            self.refused = 0

    def _pause(self, delay: float) -> None:
        if not self.paused and not self.closed:
            self.paused = True
            self.loop.remove_reader(self.sock.fileno())
            self.loop.call_later(delay, self._resume)

    def _resume(self) -> None:
        self.paused = False
        if not self.closed:
            self.loop.add_reader(self.sock.fileno(), self._ready)

    def close(self) -> None:
        """Stop accepting (connections already in are left alone, as by Server.close)."""
        if self.closed:
            return
        self.closed = True
        if not self.paused:
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()
        if self.spare is not None:
            os.close(self.spare)
            self.spare = None


def _nofile() -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
