"""Client-side caching: CLIENT TRACKING (Redis 6+), across workers.

Every worker knows every tracking client (its mode, where its invalidation
messages go, its BCAST prefixes): CLIENT TRACKING ON/OFF is sent to all. A
client's worker decides which keys a read makes cacheable (default mode, or
OPTIN / OPTOUT with CLIENT CACHING) and registers them at the DB's owner
*before* the read runs there (same link, so in order): a write that comes
after the read always finds them. The owner notes every write to a
registered key or under a BCAST prefix (Database's write hook), and once the
turn's writes are committed sends the invalidations to the worker of each
message's target (the client, or the one it redirects to), which writes them:
a RESP3 push ``invalidate [keys]``, or to a RESP2 client subscribed to
``__redis__:invalidate`` a message on that channel. FLUSHDB / FLUSHALL
invalidate everything (a null). As Redis, a registered key is forgotten once
invalidated. A REDIRECT target that is gone makes the target's worker tell
the tracking client (tracking-redir-broken). Unlike Redis, each worker keeps
the keys read from the DBs it owns: a key's name is shared by the DBs of one
worker only.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pikamp.commands.table import lookup
from pikamp.multi import db_index
from pikamp.resp import encode

if TYPE_CHECKING:
    from pikamp.commands.table import Command
    from pikamp.worker import Client, Worker

CHANNEL = b"__redis__:invalidate"
DEFAULT_MAX_KEYS = 1_000_000  # tracking-table-max-keys


class Tracker:
    """One tracking client, as every worker knows it."""

    __slots__ = ("client", "target", "bcast", "prefixes", "optin", "optout", "noloop", "broken")

    def __init__(self, client: int, target: int, bcast: bool, prefixes: list[bytes], optin: bool,
                 optout: bool, noloop: bool) -> None:
        self.client = client
        self.target = target  # who gets its invalidations (itself without REDIRECT)
        self.bcast = bcast
        self.prefixes = prefixes
        self.optin = optin
        self.optout = optout
        self.noloop = noloop
        self.broken = False  # its REDIRECT target went (known to its own worker)

    def encode(self) -> list[bytes]:
        return [b"%d" % self.client, b"%d" % self.target, b"%d" % self.bcast, b"%d" % self.optin,
                b"%d" % self.optout, b"%d" % self.noloop, *self.prefixes]

    @classmethod
    def decode(cls, args: list[bytes]) -> "Tracker":
        client, target, bcast, optin, optout, noloop = (int(a) for a in args[:6])
        return cls(client, target, bool(bcast), list(args[6:]), bool(optin), bool(optout), bool(noloop))


class Tracking:
    """A worker's part: the trackers, the keys read from its DBs, what to send."""

    def __init__(self, worker: "Worker") -> None:
        self.worker = worker
        self.trackers: dict[int, Tracker] = {}
        self.keys: dict[bytes, set[int]] = {}  # key -> clients that may cache it
        limit = int(worker.config.values.get("tracking-table-max-keys") or DEFAULT_MAX_KEYS)
        self.max_keys = limit or 1 << 62  # tracking-table-max-keys; 0: no limit
        self.writer = 0  # the client whose command runs now (NOLOOP)
        # Invalidations to send once this turn's writes are committed:
        # target id -> messages (the tracking client's id, a list of keys or
        # None: everything).
        self.outbox: dict[int, list[tuple[int, list[bytes] | None]]] = {}
        # BCAST: (client id, prefix) -> keys written under it this turn.
        self.broadcast: dict[tuple[int, bytes], dict[bytes, None]] = {}

    # -- the registry ------------------------------------------------------------
    def set(self, tracker: Tracker) -> None:
        self.trackers[tracker.client] = tracker
        self._hook()

    def drop(self, client: int) -> None:
        if self.trackers.pop(client, None) is not None:
            self._hook()

    def _hook(self) -> None:
        on = bool(self.trackers)
        if not on:
            self.keys.clear()
        for db in self.worker.dbs.values():
            db.set_tracking(self if on else None)

    # -- reads (on the owner, told by the client's worker) -----------------------
    def remember(self, client: int, keys: list[bytes]) -> None:
        table = self.keys
        for key in keys:
            ids = table.get(key)
            if ids is None:
                ids = table[key] = set()
            ids.add(client)
        while len(table) > self.max_keys:  # as Redis: the oldest are invalidated to make room
            key = next(iter(table))
            self._invalidate(key, table.pop(key), writer=0)
            self.worker.mark_tracking()

    # -- writes (Database's hook, on the owner) ----------------------------------
    def written(self, key: bytes) -> None:
        ids = self.keys.pop(key, None)
        if ids:
            self._invalidate(key, ids, self.writer)
        for t in self.trackers.values():
            if t.bcast and not (t.noloop and t.client == self.writer):
                for prefix in t.prefixes:
                    if key.startswith(prefix):
                        self.broadcast.setdefault((t.client, prefix), {})[key] = None
        if self.outbox or self.broadcast:
            self.worker.mark_tracking()

    def _invalidate(self, key: bytes, ids: set[int], writer: int) -> None:
        for client in ids:
            t = self.trackers.get(client)
            if t is None or t.bcast or (t.noloop and client == writer):
                continue
            self.outbox.setdefault(t.target, []).append((client, [key]))

    def flushed(self, announce: bool = True) -> None:
        """FLUSHDB / FLUSHALL: every tracking client drops everything."""
        self.keys.clear()
        if announce:
            for t in self.trackers.values():
                self.drop_all(t)

    def drop_all(self, t: Tracker, once: bool = False) -> None:
        """Tell ``t``'s target to drop all it cached (``once``: unless it is told so this turn already)."""
        box = self.outbox.setdefault(t.target, [])
        message = (t.client, None)
        if not (once and message in box):
            box.append(message)
        self.worker.mark_tracking()

    # -- sending -------------------------------------------------------------------
    def send(self) -> None:
        """After the commit: each message to its target's worker."""
        for (client, _), keys in self.broadcast.items():
            t = self.trackers.get(client)
            if t is not None:
                self.outbox.setdefault(t.target, []).append((client, list(keys)))
        self.broadcast.clear()
        outbox, self.outbox = self.outbox, {}
        w = self.worker
        for target, messages in outbox.items():
            owner = target % w.nworkers
            if owner == w.index:
                deliver(w, target, messages)
                continue
            args = [b"__invalidate", b"%d" % target]
            for client, keys in messages:
                args += [b"%d" % client] + ([b"-1"] if keys is None else [b"%d" % len(keys), *keys])
            w.peers[owner].send(-1, False, args, _ignore)

    # -- the client's worker -------------------------------------------------------
    def before(self, conn: "Client", cmd: "Command", args: list[bytes]) -> None:
        """A tracking client is about to run ``cmd``: register the keys it
        reads at their owner (first), and end CLIENT CACHING after it."""
        t = conn.tracker
        assert t is not None
        if not t.bcast:
            caching = conn.caching
            if not ((t.optin and not caching) or (t.optout and caching)):
                if cmd.name == "exec":
                    self._before_exec(conn)
                elif cmd.reads:
                    self._register(conn, conn.db_index, cmd.keys(args))
        if cmd.name == "exec" or (conn.multi is None and cmd.name not in ("client", "multi")):
            conn.caching = False  # as Redis: for the next command (or transaction) only

    def _before_exec(self, conn: "Client") -> None:
        db = conn.db_index
        for queued in conn.multi or ():
            cmd = lookup(queued[0])
            if cmd is None:
                continue
            if cmd.name == "select" and len(queued) == 2:
                index = db_index(queued[1])  # (read as EXEC's plan reads it)
                if index is not None and 0 <= index < conn.worker.ndbs:
                    db = index
            elif cmd.reads:
                self._register(conn, db, cmd.keys(queued))

    def _register(self, conn: "Client", db: int, keys: list[bytes]) -> None:
        if not keys or db >= conn.worker.ndbs:
            return
        w = conn.worker
        owner = db % w.nworkers
        if owner == w.index:
            self.remember(conn.id, keys)
        else:
            w.peers[owner].send(db, False, [b"__track", b"%d" % conn.id, *keys], _ignore, conn.id)


def deliver(w: "Worker", target: int, messages: list) -> None:
    """Write invalidation messages (tracking client, keys) to client ``target``
    of this worker: RESP3 pushes, or pub/sub messages to a RESP2 client
    subscribed to the channel. A REDIRECT target that is gone: each tracking
    client is told so (Redis' tracking-redir-broken)."""
    c = w.clients.get(target)
    if c is None or c.transport is None:
        for client in {client for client, _ in messages if client != target}:
            if client % w.nworkers == w.index:
                redirect_broken(w, client, target)
            else:
                w.peers[client % w.nworkers].send(-1, False, [b"__redirect_broken", b"%d" % client, b"%d" % target],
                                                  _ignore)
        return
    if c.resp3:
        for _, keys in messages:
            c.add_reply(b">2\r\n$10\r\ninvalidate\r\n" + (b"_\r\n" if keys is None else encode(keys, True)))
    elif c.pubsub is not None and CHANNEL in c.pubsub.channels:
        head = b"*3\r\n$7\r\nmessage\r\n$20\r\n" + CHANNEL + b"\r\n"
        for _, keys in messages:
            c.add_reply(head + (b"$-1\r\n" if keys is None else encode(keys, False)))
    else:
        return
    w.mark_client(c)


def redirect_broken(w: "Worker", client: int, target: int) -> None:
    """The client ``client`` redirects to is gone: as Redis, it is flagged
    (CLIENT TRACKINGINFO broken_redirect) and, in RESP3, told with a push."""
    c = w.clients.get(client)
    if c is None or c.tracker is None or c.tracker.target != target:
        return
    c.tracker.broken = True
    if c.resp3:
        c.add_reply(b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % target)
        w.mark_client(c)


def _ignore(reply: bytes) -> None:
    pass
