"""A worker process: accepts clients on the shared port (SO_REUSEPORT), runs
commands for the DBs it owns and forwards the rest to their owners.

One event-loop turn = every read that was ready. Commands run as they are
parsed; at the end of the turn each DB's WriteBatch is written once (group
commit) and only then are the replies sent, one write per connection.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections import deque
from time import perf_counter_ns
from typing import Callable

import hiredis
from setproctitle import setproctitle

from pikamp import acl, blocking, clientcount, handover, monitor, multi, notify, pause, scripting, stats, tracking
from pikamp.clientline import client_line
from pikamp.slowlog import LatencyMonitor, SlowLog, error_prefix
from pikamp.slowlog import HIST_SIZE, record as record_latency
from pikamp.commands import load_all
from pikamp.commands.sort import acl_refusal as sort_acl_refusal
from pikamp.commands.table import ALL, COMMANDS, LOCAL, OWNER, Command, command, lookup_any, runs
from pikamp.config import Config, load_runtime, parse_output_limits, parse_renames, parse_slaveof
from pikamp.deferred import SERVING as _SERVING, Deferred, Pending
from pikamp.errors import NOAUTH, NOREPLICAS, READONLY, RespError, unknown_command, wrong_arity
from pikamp.ipc import OwnerLink, PeerLink, socket_path
from pikamp.monitor import MonitorLink
from pikamp.protocol import ProtocolError, RequestParser
from pikamp.pubsub import ALLOWED_SUBSCRIBED, HubLink, Subscriptions, not_allowed
from pikamp.pubsub import forget as forget_subscriptions
from pikamp.resp import Raw, decode, encode
from pikamp.storage import engine
from pikamp.storage.database import READY, Clock, Database, FormatError
from pikamp.storage.binlog import Binlog
from pikamp.storage.engine import META, Engine, Tuning
from supervisor.manager import FATAL_EXIT

log = logging.getLogger("pikamp.worker")

# Forwarded requests of one client whose replies are not back yet, past which
# the client is not read: what a client that never reads its replies can make
# the workers hold is bounded (a read is at most 256 KB: <= 16 MB of requests).
MAX_HELD = 64
# Client.reply_ctl bits (CLIENT REPLY): replies off; this command's reply is
# skipped; the next command's reply is to be skipped.
REPLY_OFF, REPLY_SKIP, REPLY_SKIP_NEXT = 1, 2, 4
# Reply bytes an unauthenticated client may get in all before it is closed
# (Redis keeps unauthenticated clients on a short leash too).
NOAUTH_OUTPUT_LIMIT = 64 << 10

# Commands a client may send before AUTH when requirepass is set.
_NOAUTH_OK = {b"auth", b"hello", b"quit", b"reset"}
# Commands whose arguments may hold a password: never in the slow log.
_SECRET_ARGS = {"auth", "hello", "migrate"}


class Ctx:
    """What every command handler is handed, wherever it runs: ``db`` is the
    DB an OWNER/ALL command runs on (None for LOCAL ones), ``conn`` the client
    connection where its socket is on this worker (always, for LOCAL ones).
    OWNER contexts are one per owned DB, reused; LOCAL ones one per client."""

    __slots__ = ("db", "resp3", "worker", "conn", "client_id", "nreplies", "user")

    def __init__(self, db: Database | None, worker: "Worker") -> None:
        self.db = db
        self.nreplies = 1  # replies in the handler's answer (__batch: one per command)
        self.worker = worker
        self.resp3 = False
        self.conn: Client | None = None  # set when the client's socket is on this worker
        self.client_id = 0  # the requesting client, wherever its socket is (0: a worker)
        # The requesting client's ACL user when it is restricted (None: may run
        # anything): what a script's commands are checked against.
        self.user: acl.User | None = None


class Client(asyncio.Protocol):
    """One client connection. Its state (DB, protocol, name, auth) lives here."""

    __slots__ = (
        "worker", "transport", "parser", "resp3", "db_index", "id", "name", "authed",
        "out", "slots", "waiting", "closing", "addr", "laddr", "created", "last_io",
        "lib_name", "lib_ver", "paused", "last_cmd", "backlog", "held_paused", "soft_since",
        "noauth_bytes", "multi", "multi_failed", "watch_dbs", "pubsub", "handover", "handover_rest",
        "reply_ctl", "mute", "user", "tracker", "caching", "ctx",
    )

    def __init__(self, worker: "Worker") -> None:
        self.worker = worker
        self.transport: asyncio.Transport | None = None
        self.parser = RequestParser(worker.max_bulk)
        self.resp3 = False
        self.db_index = 0
        self.id = worker.new_client_id()
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        # As Redis: logged in as the default user, authenticated if it needs no password.
        self.user: acl.User = worker.acl.default
        self.authed = worker.acl.open
        self.parser.auth_required = not self.authed
        self.out: list[bytes] = []
        self.slots: deque = deque()  # replies queued behind a forwarded one
        self.waiting = 0  # forwarded replies not yet back
        self.closing = False
        self.paused = False  # not read: its replies wait in the socket's buffer
        self.held_paused = False  # not read: MAX_HELD forwarded replies are not back
        self.soft_since = 0.0  # when its output first passed the soft limit
        self.noauth_bytes = 0  # reply bytes it got before AUTH
        self.addr = ""
        self.laddr = ""
        self.created = self.last_io = time.monotonic()
        self.last_cmd: Command | None = None
        # Commands that arrived while a blocking command (BLPOP ...) waits:
        # like Redis, they run only once it is answered. None: not blocked.
        self.backlog: deque | None = None
        # MULTI: the queued commands (None: not in a transaction), and whether
        # one was refused while queueing (EXEC then answers EXECABORT).
        self.multi: list[list[bytes]] | None = None
        self.multi_failed = False
        self.watch_dbs: set[int] = set()  # DBs it WATCHes keys of
        self.pubsub: Subscriptions | None = None  # None: not subscribed to anything
        # MONITOR: the unix socket of the process the connection goes to once
        # its replies so far are written, and the commands it sent after.
        self.handover: str | None = None
        self.handover_rest: list[list[bytes]] = []
        # CLIENT REPLY: REPLY_OFF / REPLY_SKIP / REPLY_SKIP_NEXT bits (0: every
        # reply is sent), and whether replies made now are dropped.
        self.reply_ctl = 0
        self.mute = False
        # CLIENT TRACKING: this client's tracker (None: off), and CLIENT
        # CACHING YES/NO given for its next command.
        self.tracker: tracking.Tracker | None = None
        self.caching = False
        # What its LOCAL commands are handed: the one handler context type,
        # with the connection (OWNER handlers get their DB's instead).
        self.ctx = Ctx(None, worker)
        self.ctx.client_id = self.id

    def local_ctx(self) -> Ctx:
        """The context a LOCAL handler runs with, for this connection now."""
        ctx = self.ctx
        ctx.conn = self  # (let go when the connection is lost: a cycle would outlive it)
        ctx.resp3 = self.resp3
        return ctx

    # -- asyncio callbacks -------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.addr = f"{peer[0]}:{peer[1]}" if peer else ""
        self.laddr = f"{sock[0]}:{sock[1]}" if sock else ""
        w = self.worker
        if not clientcount.admit(len(w.clients), w.maxclients):  # all workers' clients together
            w.stat_rejected += 1
            self.closing = True  # what it sends now is dropped
            clientcount.refuse(transport)
            return
        w.clients[self.id] = self
        w.stat_connections += 1
        if w.monitoring:
            w.monitor.client_seen(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        w = self.worker
        if w.clients.pop(self.id, None) is None:
            clientcount.refused_gone()
        clientcount.update(len(w.clients))
        self.ctx.conn = None  # the client is freed once nothing else holds it
        if w.monitoring:
            w.monitor.client_gone(self)
        if self.watch_dbs and not w.stopping:
            w.begin_turn()
            multi.unwatch_all(self)
        if self.pubsub is not None and not w.stopping:
            w.begin_turn()
            forget_subscriptions(self)
        if self.tracker is not None and not w.stopping:
            w.begin_turn()
            w.call_all([b"__tracking", b"drop", b"%d" % self.id], lambda replies: None)
        if self.waiting and w.nworkers > 1 and not w.stopping:
            # A blocked command of ours may be parked in another worker: have
            # it dropped there, or it would pop data for a client that is gone.
            w.begin_turn()
            w.call_all([b"__client_gone", b"%d" % self.id], lambda replies: None)

    def pause_writing(self) -> None:
        # Back-pressure: stop reading requests while replies pile up.
        if self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and self.paused:
            self.paused = False
            if not self.held_paused:
                self.transport.resume_reading()

    def eof_received(self) -> bool:
        # A half-close: answer what was asked (forwarded replies may still be
        # on their way), then close. A client blocked in BLPOP & co. is gone,
        # as in Redis: close now, so nothing is popped for it.
        if self.backlog is not None:
            return False
        self.closing = True
        self.worker.begin_turn()
        self.worker.mark_client(self)
        return True

    def data_received(self, data: bytes) -> None:
        if self.closing:  # after QUIT or a protocol error nothing more runs
            return
        w = self.worker
        w.begin_turn()
        self.last_io = time.monotonic()
        w.stat_net_in += len(data)
        try:
            cmds = self.parser.feed(data)
        except ProtocolError as e:
            for args in e.partial:  # type: ignore[attr-defined]
                self.execute(args)
            self.add_reply(b"-ERR Protocol error: " + str(e).encode("latin-1") + b"\r\n")
            self.closing = True
            w.mark_client(self)
            return
        # A split request's bytes so far (buf is None on the fast path).
        if self.parser.buf is not None and (buffered := self.parser.buffered()) > w.query_limit:
            # As Redis: the raw query buffer of one client is bounded; the
            # commands already complete still run, then the client goes.
            log.warning("closing client id=%d addr=%s that reached max query buffer length (%d bytes)",
                        self.id, self.addr, buffered)
            self.closing = True
            self.run_commands(cmds)
            w.mark_client(self)
            return
        if len(cmds) > 1 and w.nworkers > 1 and self.parser.whole and self.forward_read(data, cmds):
            return
        self.run_commands(cmds)
        w.mark_client(self)

    def forward_read(self, data: bytes, cmds: list[list[bytes]]) -> bool:
        """Forward a whole read as it came, in one request, when every command
        in it is a plain one for a DB another worker owns (the usual pipeline):
        no re-encoding here, one reply blob back. False: nothing was done."""
        w = self.worker
        owner = self.db_index % w.nworkers
        if (owner == w.index or self.backlog is not None or not self.authed or self.multi is not None
                or self.pubsub is not None or self.reply_ctl or w.pause_kind or w.write_refusal
                or not self.user.free or w.renamed or self.tracker is not None):
            return False
        dispatch = w.dispatch
        for args in cmds:
            cmd = dispatch.get(args[0])
            if cmd is None or cmd.route != OWNER or "blocking" in cmd.flags:
                return False
            ar = cmd.arity
            if (ar > 0 and len(args) != ar) or len(args) < -ar:
                return False
        w.stat_commands += len(cmds)
        self.last_cmd = cmd
        w.peers[owner].send(self.db_index, self.resp3, [b"__batch", data], self.hold(), self.id)
        w.mark_client(self)
        return True

    def run_commands(self, cmds) -> None:
        """Execute parsed commands in order; while a blocking command waits,
        queue the rest behind it."""
        execute = self.execute
        for i, args in enumerate(cmds):
            if self.backlog is not None:
                self.backlog.extend(cmds[i:])
                return
            if self.reply_ctl:
                self.execute_muted(args)
            else:
                execute(args)
            if self.closing:
                if self.handover is not None:  # MONITOR: what follows goes with the connection
                    self.handover_rest = cmds[i + 1 :]
                return

    # -- command execution -------------------------------------------------
    def execute(self, args: list[bytes]) -> None:
        """Run or forward one command; its reply is queued in order."""
        w = self.worker
        name = args[0]
        cmd = w.dispatch.get(name)
        if cmd is None:
            cmd = w.commands.get(name.lower())
            if cmd is None:
                w.stat_commands += 1
                self.multi_failed = self.multi is not None
                self.add_reply(w.count_error(encode(unknown_command(name, args[1:]), False)))
                return
        if w.renamed and name.lower() in w.renamed:  # rename-command: the rest knows its own name
            args[0] = w.renamed[name.lower()]
        w.stat_commands += 1
        # As Redis (CLIENT LIST cmd=, the ACL log's client-info): the command
        # being run, refused or not; a container's subcommand (client|list).
        self.last_cmd = runs(cmd, args) if cmd.subcommands else cmd
        ar = cmd.arity
        if (ar > 0 and len(args) != ar) or len(args) < -ar:
            self.multi_failed = self.multi is not None
            error = encode(wrong_arity(cmd.name), False)
            if cmd.name == "exec":  # as Redis: a refused EXEC discards the transaction
                error = multi.abort(self, error)
            cmd.rejected += 1
            self.add_reply(w.count_error(error))
            return
        if not self.authed and name.lower() not in _NOAUTH_OK:
            if w.acl.open:  # the default user needs no password any more (Redis' authRequired)
                self.authed, self.parser.auth_required = True, False
            else:
                cmd.rejected += 1
                self.add_reply(w.count_error(b"-" + NOAUTH.encode() + b"\r\n"))
                return
        if not self.user.free:  # ACL: may this user run this, on these keys and channels?
            refusal = self.acl_refusal(cmd, args, b"multi" if self.multi is not None else b"toplevel")
            if refusal is not None:
                error = refusal[1]
                self.multi_failed = self.multi is not None
                self.last_cmd.rejected += 1  # (its subcommand's, as Redis counts it)
                if cmd.name == "exec":
                    error = multi.abort(self, error)
                self.add_reply(w.count_error(error))
                return
        if self.pubsub is not None and not self.resp3 and cmd.name not in ALLOWED_SUBSCRIBED:
            # RESP2 subscribed: only (un)subscribing, PING, QUIT and RESET (as Redis).
            self.multi_failed = self.multi is not None
            error = encode(RespError(not_allowed(cmd.name)), False)
            if cmd.name == "exec":
                error = multi.abort(self, error)
            cmd.rejected += 1
            self.add_reply(w.count_error(error))
            return
        if w.write_refusal and (cmd.is_write or (cmd.name == "exec" and multi.writes(self))):
            # A replica (its data comes from the master only), or too few good
            # replicas (min-replicas-to-write): writes refused, as EXECs that write.
            self.multi_failed = self.multi is not None
            cmd.rejected += 1
            error = w.write_refusal
            if cmd.name == "exec":
                error = multi.abort(self, error)
            self.add_reply(w.count_error(error))
            return
        if w.pause_kind and pause.holds(self, cmd):  # CLIENT PAUSE: it runs when the pause ends
            pause.hold(self, args)
            return
        if self.multi is not None and cmd.name not in multi.RUN_AT_ONCE:
            reply = multi.queue(self, cmd, args)
            if reply[:1] == b"-":
                cmd.rejected += 1
                w.count_error(reply)
            self.add_reply(reply)
            return
        if self.tracker is not None:  # CLIENT TRACKING: the keys it reads, at their owner first
            w.tracking.before(self, cmd, args)
        route = cmd.route
        if route == OWNER:
            owner = self.db_index % w.nworkers
            if owner == w.index:
                r = w.run_owned(cmd, self.db_index, self.resp3, args, self, self.id)
                if type(r) is not Deferred:
                    self.add_reply(r)
                else:  # BLPOP waiting, a MOVE to another worker ...: later commands wait
                    r.then(self.hold_blocked())
            elif "blocking" in cmd.flags:
                w.peers[owner].send(self.db_index, self.resp3, args, self.hold_blocked(), self.id,
                                    self.restricted())
            else:
                self.forward(owner, self.db_index, args)
        elif route == LOCAL:
            t0 = perf_counter_ns()
            try:
                r = cmd.handler(self.local_ctx(), args)
            except RespError as e:
                r = e
            w.account(cmd, args, perf_counter_ns() - t0, r, self, self.id)
            if type(r) is Deferred:
                fill = self.hold()
                if w.monitoring and monitor.shown(cmd, args):  # shown once done: EXEC after its commands
                    r.then(lambda reply: (w.monitor.feed(self.db_index, self.id, args), fill(reply)))
                else:
                    r.then(fill)
            else:
                if w.monitoring and monitor.shown(cmd, args):
                    w.monitor.feed(self.db_index, self.id, args)
                self.add_reply(encode(r, self.resp3))
        else:
            self.broadcast(cmd, args)

    def acl_refusal(self, cmd: Command, args: list[bytes], context: bytes) -> tuple[int, bytes] | None:
        """None if this client's user may run the command, else (why not, the
        NOPERM error); the refusal goes to the ACL log, as in Redis."""
        cmd = runs(cmd, args)
        why, pos = self.user.check(cmd, args)
        if why == acl.OK:
            if cmd.name in ("sort", "sort_ro"):  # BY / GET: only for a user with every key (Redis 7.0)
                error = sort_acl_refusal(self.user, cmd, args)
                if error is not None:
                    return why, b"-" + error.encode() + b"\r\n"
            return None
        if why == acl.DENIED_CMD:
            self.worker.log_acl(self, acl.REASONS[why], context, cmd.name.encode())
            return why, b"-" + (acl.NOPERM_CMD % cmd.name).encode() + b"\r\n"
        self.worker.log_acl(self, acl.REASONS[why], context, args[pos])
        text = acl.NOPERM_KEY if why == acl.DENIED_KEY else acl.NOPERM_CHANNEL
        return why, b"-" + text.encode() + b"\r\n"

    def execute_muted(self, args: list[bytes]) -> None:
        """Execute under CLIENT REPLY OFF or SKIP: the replies it makes are
        dropped (a CLIENT REPLY ON among them turns that off at once)."""
        ctl = self.reply_ctl
        if ctl & REPLY_SKIP_NEXT:  # the command after CLIENT REPLY SKIP: this one
            ctl = (ctl & ~REPLY_SKIP_NEXT) | REPLY_SKIP
        self.reply_ctl = ctl
        self.mute = True
        self.execute(args)
        if self.backlog and self.worker.pause_kind and self.backlog[0] is args:
            return  # held by CLIENT PAUSE: it is skipped when it runs
        self.reply_ctl &= ~REPLY_SKIP
        self.mute = bool(self.reply_ctl)

    def set_reply_mode(self, mode: bytes) -> None:
        """CLIENT REPLY ON|OFF|SKIP, as Redis: OFF and SKIP drop their own
        reply too; SKIP does nothing while replies are off."""
        if mode == b"on":
            self.reply_ctl, self.mute = 0, False
        elif mode == b"off":
            self.reply_ctl, self.mute = self.reply_ctl | REPLY_OFF, True
        elif not self.reply_ctl & REPLY_OFF:
            self.reply_ctl, self.mute = self.reply_ctl | REPLY_SKIP_NEXT, True

    def add_reply(self, reply: bytes) -> None:
        if self.mute:
            return
        if self.waiting:
            self.slots.append(reply)
        else:
            self.out.append(reply)

    def hold(self) -> Callable[[bytes], None]:
        """Reserve this reply's place in order; returns the function that fills it."""
        slot: list = [None]
        self.slots.append(slot)
        self.waiting += 1
        muted = self.mute
        if self.waiting >= MAX_HELD and not self.held_paused and self.transport is not None:
            self.held_paused = True
            if not self.paused:
                self.transport.pause_reading()

        def fill(reply: bytes) -> None:
            slot[0] = b"" if muted else reply
            self.waiting -= 1
            if self.held_paused and self.waiting <= MAX_HELD // 2:
                self.held_paused = False
                if not self.paused and self.transport is not None:
                    self.transport.resume_reading()
            self.drain_slots()

        return fill

    def hold_blocked(self) -> Callable[[bytes], None]:
        """Like hold, for a blocking command: until its reply comes, later
        commands of this client wait in the backlog, as they do in Redis."""
        fill = self.hold()
        self.backlog = deque()

        def done(reply: bytes) -> None:
            fill(reply)
            backlog, self.backlog = self.backlog, None
            if backlog:
                self.worker.begin_turn()
                self.run_commands(list(backlog))
                self.worker.mark_client(self)

        return done

    def forward(self, owner: int, db: int, args: list[bytes]) -> None:
        """Send a command to the worker owning ``db``; its reply keeps its place."""
        self.worker.peers[owner].send(db, self.resp3, args, self.hold(), self.id, self.restricted())

    def restricted(self) -> str:
        """The name of this client's user if the ACL restricts it, else ""
        (what a forwarded command carries, for a script's checks)."""
        return "" if self.user.free else self.user.name

    def broadcast(self, cmd: Command, args: list[bytes]) -> None:
        """Run on every worker (for the DBs each owns); reply once all answered:
        the first error if any worker failed, else the local reply."""
        fill = self.hold()
        w = self.worker
        if w.monitoring and monitor.shown(cmd, args):  # once, here, not by every worker
            w.monitor.feed(self.db_index, self.id, args)

        def done(replies: list[bytes]) -> None:
            errors = [r for r in replies if r[:1] == b"-"]
            fill(errors[0] if errors else replies[self.worker.index])

        self.worker.call_all(args, done, self.resp3)

    def drain_slots(self) -> None:
        slots = self.slots
        out = self.out
        while slots:
            head = slots[0]
            if type(head) is not list:  # a reply (bytes or Raw), not a held place
                out.append(head)
            elif head[0] is not None:
                out.append(head[0])
            else:
                break
            slots.popleft()
        self.worker.mark_client(self)

    def flush(self) -> None:
        t = self.transport
        if t is None:
            self.out.clear()
            return
        if self.out:
            data = b"".join(self.out)
            t.write(data)
            self.out.clear()
            self.worker.stat_net_out += len(data)
            if not self.authed:
                # Before AUTH a client gets little: past this many reply bytes
                # in all it is closed (a flood of wrong AUTHs, of NOAUTHs).
                self.noauth_bytes += len(data)
                if self.noauth_bytes > NOAUTH_OUTPUT_LIMIT:
                    log.warning("client id=%d addr=%s closed: %d bytes of replies before AUTH",
                                self.id, self.addr, self.noauth_bytes)
                    self.closing = True
                    t.abort()
                    return
            elif self.worker.output_limited or self.pubsub is not None:
                self.check_output_limit(t)
        if self.closing and not self.waiting:
            if self.handover is not None:
                self.hand_over(t)
            else:
                t.close()

    def start_handover(self, path: str) -> None:
        """Hand this connection to another process (MONITOR) once every reply
        before it is written; nothing more is read here."""
        self.handover = path
        self.closing = True
        if self.transport is not None:
            self.transport.pause_reading()

    def hand_over(self, t: asyncio.Transport) -> None:
        if t.get_write_buffer_size():  # the client has not read everything yet
            self.worker.loop.call_later(0.01, self.flush)  # type: ignore[union-attr]
            return
        rest = b"".join(encode(args, False) for args in self.handover_rest)
        if self.parser.buf is not None:
            rest += bytes(self.parser.buf)
        fields = [b"%d" % self.id, b"3" if self.resp3 else b"2", self.addr.encode(), self.name, rest]
        try:
            handover.send_connection(self.handover, t.get_extra_info("socket").fileno(), fields)
        except OSError as e:
            log.warning("client id=%d could not be handed to %s: %s", self.id, self.handover, e)
            self.handover = None
            self.closing = False
            self.out.append(b"-ERR the monitor process is not available; try again\r\n")
            t.resume_reading()
            self.worker.mark_client(self)
            return
        t.abort()  # our copy of the fd: the connection lives on in the other process

    def check_output_limit(self, t: asyncio.Transport) -> None:
        """client-output-buffer-limit (the normal class, or pubsub for a
        subscribed client), as Redis: over the hard limit, or over the soft
        one for soft-seconds, the client is closed."""
        size = t.get_write_buffer_size()
        cls = "normal" if self.pubsub is None else "pubsub"
        hard, soft, secs = self.worker.output_limits.get(cls, (0, 0, 0))
        over = bool(hard and size >= hard)
        if not over and soft and size >= soft:
            now = time.monotonic()
            if not self.soft_since:
                self.soft_since = now
            over = now - self.soft_since >= secs
        elif self.soft_since:
            self.soft_since = 0.0
        if over:
            log.warning("client id=%d addr=%s closed for overcoming of output buffer limits (%d bytes)",
                        self.id, self.addr, size)
            self.closing = True
            t.abort()  # drop what it did not read: that is the memory to give back


def tuning_from_config(cfg: Config) -> Tuning:
    """The RocksDB options of one worker's DBs: one block cache and one
    memtable budget for all of them, so memory is bounded by the
    configuration, not by the number of DBs x column families."""
    return Tuning(
        write_buffer_size=cfg.int("write-buffer-size"),
        block_size=cfg.int("block-size"),
        cache_index_and_filter_blocks=cfg.bool("cache-index-and-filter-blocks"),
        partitioned_index_filters=cfg.bool("enable-partitioned-index-filters"),
        optimize_filters_for_hits=cfg.bool("optimize-filters-for-hits"),
        dynamic_level_bytes=cfg.bool("level-compaction-dynamic-level-bytes"),
        target_file_size_base=cfg.int("target-file-size-base"),
        max_total_wal_size=cfg.int("max-total-wal-size"),
        max_subcompactions=cfg.int("max-subcompactions"),
        rate_limit=cfg.int("rate-limiter-bandwidth"),
        compression=cfg.get("compression"),
        statistics=cfg.bool("enable-db-statistics"),
        cache=engine.new_cache(cfg.int("block-cache")) if cfg.bool("share-block-cache") else None,
        write_buffers=engine.new_write_buffers(cfg.int("max-write-buffer-size")),
    )


class Worker:
    """The state of one worker process."""

    def __init__(self, index: int, config: Config) -> None:
        self.index = index
        self.config = config
        self.nworkers = config.workers
        self.ndbs = config.databases
        self.clock = Clock()
        self.run_dir = os.path.join(config.path_of("db-path"), ".run")
        self.max_bulk = config.int("proto-max-bulk-len")
        self.maxclients = config.int("maxclients")
        self.requirepass = config.get("requirepass")
        # The ACL users (every worker holds the same ones: commands/acl.py),
        # and the ACL log, which worker 0 keeps for all.
        state = acl.load_state(config)  # a restarted worker: the users as they are now
        self.acl = acl.from_config(config) if state is None else acl.from_state(config, state)
        self.acl_log = acl.Log(int(config.values.get("acllog-max-len") or 128))
        self.dbs: dict[int, Database] = {}
        self.ctxs: dict[int, Ctx] = {}
        self.all_ctx = Ctx(None, self)
        self.peers: dict[int, PeerLink] = {}
        self.hub = HubLink(self)  # to the pubsub process
        self.monitor = MonitorLink(self)  # to the monitor process
        self.monitoring = False  # monitors are attached: feed every command to it
        self.notify = ""  # the keyspace notification classes on ("": none; set_notify)
        self.owner_links: list[OwnerLink] = []  # peers' links to the DBs owned here
        self.clients: dict[int, Client] = {}
        self.dirty_clients: list[Client] = []
        self.dirty_links: list = []
        self.turn_open = False
        self.stopping = False
        self.started = time.time()
        self.stat_commands = 0
        self.stat_connections = 0
        self.stat_net_in = 0  # bytes read from clients (INFO total_net_input_bytes)
        self.stat_net_out = 0
        self.stat_rejected = 0  # connections refused at maxclients
        self.compacting = 0  # threads using the engines (COMPACT, checkpoints: in_thread)
        # (engine, reply, how many replies it stands for) of this turn's replies
        # that show uncommitted writes: replaced by errors if the commit fails.
        self.tainted: list[tuple[Engine, bytes, int]] = []
        self.set_output_limits(config.get("client-output-buffer-limit"))
        self.query_limit = config.int("client-query-buffer-limit")
        self.last_resume_check = 0.0
        self.tuning: Tuning | None = None  # RocksDB options, built at the first open
        # WATCHes on the DBs owned here: client id -> (db, key, expiry when watched).
        self.watches: dict[int, list[tuple[int, bytes, int]]] = {}
        self.in_exec = False  # running an EXEC's commands (nothing blocks)
        self.scripting = None  # pikamp.scripting.Scripting, made by the first script
        self.functions = None  # pikamp.functions.Functions: made on use, dropped when libraries change
        self.active_expire = True  # DEBUG SET-ACTIVE-EXPIRE 0 stops the expire cycle
        # CLIENT PAUSE (see pikamp.pause): 0 none, pause.WRITE or pause.ALL;
        # until when (time.monotonic); the clients it holds back.
        self.pause_kind = 0
        self.pause_end = 0.0
        self.pause_timer: asyncio.TimerHandle | None = None
        self.paused_clients: list[Client] = []
        # Replication: the master this server follows (None: it is a master),
        # and whether clients' writes are refused (slave-read-only).
        self.replica_of: tuple[str, int] | None = None
        # The error every write gets now (READONLY on a replica, NOREPLICAS
        # below min-replicas-to-write), or None: one check per command.
        self.write_refusal: bytes | None = None
        self.good_replicas_short = False  # (min-replicas-to-write, looked at once a second)
        # INFO errorstats (error code -> count) and the slow log, of the commands run here.
        self.errors: dict[bytes, int] = {}
        self.slowlog = SlowLog(index, self.nworkers, config.int("slowlog-max-len"))
        self.latency = LatencyMonitor()
        self.tracking = tracking.Tracking(self)
        self.trackers = self.tracking.trackers  # (the pipeline's one check)
        self.tracking_due = False  # invalidations to send after this turn's commit
        # latency-tracking: per-command histograms (INFO latencystats, LATENCY HISTOGRAM).
        self.track_latency = config.values.get("latency-tracking", "yes") != "no"
        self.latency_ns = 1 << 62
        self.set_slowlog_threshold(config.int("slowlog-log-slower-than"))
        self.set_latency_threshold(int(config.values.get("latency-monitor-threshold", "0")))
        # The commands clients may call, by lower-case name: the table, with
        # rename-command applied (a renamed command's new name -> its original).
        renames = parse_renames(config.get("rename-command"))
        self.commands = {k: c for k, c in COMMANDS.items() if k.decode() not in renames}
        self.commands.update({new.lower().encode(): COMMANDS[old.encode()] for old, new in renames.items() if new})
        self.renamed = {new.lower().encode(): old.encode() for old, new in renames.items() if new}
        # Lookup by the name as clients usually send it (lower or upper case);
        # other spellings fall back to a lower() (commands are loaded by now).
        self.dispatch = {**{k.upper(): c for k, c in self.commands.items()}, **self.commands}
        self._client_ids = index  # ids are unique across workers: index + k*nworkers
        self.loop: asyncio.AbstractEventLoop | None = None

    def returned(self, sock: socket.socket, fields: list) -> None:
        """A connection handed back (a monitor that sent RESET): a client of
        this worker again, with its id and name, otherwise as RESET leaves it."""
        def make() -> Client:
            c = Client(self)
            c.id, c.name = int(fields[0]), fields[1]
            return c

        self.loop.create_task(self.loop.connect_accepted_socket(make, sock))  # type: ignore[union-attr]

    def set_notify(self, setting: str) -> None:
        """notify-keyspace-events (at start and on CONFIG SET)."""
        self.notify = notify.classes(setting)
        for db in self.dbs.values():
            db.track_changes(bool(self.notify), lambda key, db=db: self.send_event(db.index, "x", b"expired", key))

    def send_events(self, db: Database, cmd: Command, args: list[bytes]) -> None:
        """The keyspace events of a write command that ran on ``db``."""
        if cmd.name == "move":  # two DBs: moved if the source lost the key
            key = args[1]
            if key in db.touched and db.engine.get(META, key) is None:
                self.send_move_events(db.index, int(args[2]), key)
            return
        for cls, event, key in notify.events(cmd.name, args, cmd.keys(args), db.touched, notify.meta_exists(db)):
            self.send_event(db.index, cls, event, key)

    def send_move_events(self, src: int, dst: int, key: bytes) -> None:
        """MOVE's two events (also when the destination is another worker's)."""
        self.send_event(src, "g", b"move_from", key)
        self.send_event(dst, "g", b"move_to", key)

    def send_event(self, db: int, cls: str, event: bytes, key: bytes) -> None:
        classes = self.notify
        if cls in classes:
            self.begin_turn()  # the active expire cycle runs outside a turn
            self.hub.send(b"E", [b"%d" % db, event, key, b"K" if "K" in classes else b"",
                                 b"E" if "E" in classes else b""])

    def set_fsync(self, mode: str) -> None:
        """Apply appendfsync to the open DBs (CONFIG SET; open_engine reads the config)."""
        for db in self.dbs.values():
            db.engine.set_fsync(mode)

    def set_output_limits(self, text: str) -> None:
        """Apply client-output-buffer-limit (at start and on CONFIG SET)."""
        try:
            self.output_limits = parse_output_limits(text)
        except ValueError as e:
            log.error("client-output-buffer-limit %r: %s; no limits", text, e)
            self.output_limits = {}
        normal = self.output_limits.get("normal", (0, 0, 0))
        self.output_limited = bool(normal[0] or normal[1])

    def new_client_id(self) -> int:
        self._client_ids += self.nworkers
        return self._client_ids

    def owned(self) -> list[int]:
        return [i for i in range(self.ndbs) if i % self.nworkers == self.index]

    # -- turns -------------------------------------------------------------
    def begin_turn(self) -> None:
        if not self.turn_open:
            self.turn_open = True
            self.clock.tick()
            self.loop.call_soon(self.end_turn)  # type: ignore[union-attr]

    schedule_turn = begin_turn

    def in_thread(self, work: Callable[[], object], resp3: bool, what: str) -> Deferred:
        """Run ``work`` (RocksDB work that releases the GIL: a checkpoint ...)
        in a thread while the loop keeps serving; the engines stay open
        meanwhile (SWAPDB, DISKRECOVERY wait). The reply is what it returns,
        the RespError it raises, or "ERR <what> failed: ..." for any other."""
        d = Deferred(resp3)

        def done(fut) -> None:
            self.compacting -= 1
            self.begin_turn()
            error = fut.exception()
            if error is None:
                d.resolve(fut.result())
            else:
                d.resolve(error if isinstance(error, RespError) else RespError(f"ERR {what} failed: {error}"))

        self.compacting += 1
        self.loop.run_in_executor(None, work).add_done_callback(done)  # type: ignore[union-attr]
        return d

    def peer_lost(self, peer: int) -> None:
        """Worker ``peer`` went (a crash: the supervisor starts it again). The
        keys its DBs remembered for this worker's tracking clients went with
        it, so they drop all they cached (a null invalidation, as after
        FLUSHALL), and the new one learns of them again."""
        mine = [c.tracker for c in self.clients.values() if c.tracker is not None]
        if not mine:
            return
        self.begin_turn()
        for t in mine:
            self.tracking.drop_all(t, once=True)  # (a lost link may be reported twice)
            self.peers[peer].send(-1, False, [b"__tracking", b"set", *t.encode()], _ignore)

    def mark_tracking(self) -> None:
        """Invalidations are waiting: sent at the end of this turn."""
        self.tracking_due = True

    def mark_client(self, c: Client) -> None:
        self.dirty_clients.append(c)

    def mark_link(self, link) -> None:
        self.dirty_links.append(link)

    def end_turn(self) -> None:
        """Commit every DB written this turn, then send replies and forwards."""
        self.turn_open = False
        pending = engine.PENDING
        while pending:
            pending.pop().commit()
        if engine.FAILED:
            self.writes_lost()
        if self.tainted:
            self.tainted.clear()
        if self.tracking_due:
            self.tracking_due = False
            self.tracking.send()
        links, self.dirty_links = self.dirty_links, []
        for link in links:
            link.flush()
        clients, self.dirty_clients = self.dirty_clients, []
        for c in clients:
            c.flush()

    def writes_lost(self) -> None:
        """Some DB's batch could not be written (disk full ...): every reply of
        this turn that showed its writes becomes a MISCONF error, so that
        nothing unwritten is acknowledged. The DBs then refuse writes until
        the disk recovers (resume_writes)."""
        failed = engine.FAILED
        bad: dict[int, bytes] = {}
        for eng, reply, n in self.tainted:
            if eng in failed:
                bad[id(reply)] = encode(eng.refusal(), False) * n
        for eng in failed:
            log.error("%s: the writes of one event-loop turn were not applied (%s); %d replies "
                      "turned into errors; writes refused until the disk recovers",
                      eng.path, eng.failed, len(bad))
        failed.clear()
        if not bad:
            return
        for c in self.clients.values():
            out = c.out
            for i, r in enumerate(out):
                if id(r) in bad:
                    out[i] = bad[id(r)]
            slots = c.slots
            for i, r in enumerate(slots):
                if type(r) is list:
                    if id(r[0]) in bad:
                        r[0] = bad[id(r[0])]
                elif id(r) in bad:
                    slots[i] = bad[id(r)]
        for link in self.owner_links:
            link.replace_replies(bad)

    def resume_writes(self) -> str | None:
        """Reopen the DBs whose writes failed once the disk has room again
        (least-free-disk-resume-size); None when every DB writes again, else why not."""
        failed = [db for db in self.dbs.values() if db.engine.failed is not None]
        if not failed:
            return None
        if self.compacting:  # a COMPACT thread uses the engines: not now
            return "ERR a COMPACT is running; retry when it is done"
        need = self.config.int("least-free-disk-resume-size")
        for db in failed:
            st = os.statvfs(db.engine.path)
            free = st.f_bavail * st.f_frsize
            if free < need:
                return "ERR The available disk capacity is insufficient"
            log.info("db%d: %d bytes free on disk: reopening to resume writes", db.index, free)
            db.engine.close()
            try:
                db.reopen(self.open_engine(db.index))
            except Exception as e:  # still no room: try again later
                log.error("db%d: reopen failed: %s", db.index, e)
                return f"ERR reopening db{db.index} failed: {engine.short_error(e)}"
            log.info("db%d: writes resumed", db.index)
        return None

    # -- what the pipeline records (INFO commandstats / errorstats, SLOWLOG) ---
    def set_slowlog_threshold(self, micros: int) -> None:
        """slowlog-log-slower-than: -1 logs nothing, 0 every command."""
        self.slow_ns = micros * 1000 if micros >= 0 else 1 << 62
        self.record_ns = min(self.slow_ns, self.latency_ns)

    def set_latency_threshold(self, millis: int) -> None:
        """latency-monitor-threshold: 0 records nothing."""
        self.latency_ns = millis * 1_000_000 if millis > 0 else 1 << 62
        self.record_ns = min(self.slow_ns, self.latency_ns)

    def count_error(self, reply: bytes) -> bytes:
        """Count an encoded error reply by its code (INFO errorstats); returns it."""
        self._count_code(error_prefix(reply))
        return reply

    def _count_code(self, code: bytes) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    def account(self, cmd: Command, args: list[bytes], nanos: int, result: object, conn, client_id: int) -> None:
        """After a command ran: its counters, the error it answered, the slow log."""
        cmd = runs(cmd, args)  # counted as Redis does: config|set
        cmd.calls += 1
        cmd.nanos += nanos
        if self.track_latency:
            record_latency(cmd, nanos)
        if type(result) is RespError:
            cmd.failed += 1
            self._count_code(result.message.partition(" ")[0].encode("latin-1", "replace") or b"ERR")
        if nanos < self.record_ns or cmd.name[:2] == "__":  # internal ones: their nested commands count
            return
        if nanos >= self.slow_ns and "skip_slowlog" not in cmd.flags and cmd.name not in _SECRET_ARGS:
            self.log_slow(args, nanos // 1000, conn, client_id)
        if nanos >= self.latency_ns:
            self.latency.add(b"fast-command" if "fast" in cmd.flags else b"command", nanos // 1_000_000)

    def log_slow(self, args: list[bytes], micros: int, conn, client_id: int) -> None:
        """A slow log entry with the client's address and name; for a client
        of another worker, these are asked for and filled in when they come."""
        client = conn if conn is not None else self.clients.get(client_id)
        if client is not None or not client_id:
            addr, name = (client.addr, client.name) if client is not None else ("", b"")
            self.slowlog.add(args, micros, addr, name)
            return
        entry = self.slowlog.add(args, micros, "", b"")
        owner = client_id % self.nworkers

        def fill(reply: bytes) -> None:
            value = decode(reply)
            if type(value) is list and len(value) == 2:
                entry[4], entry[5] = value
        if owner in self.peers:
            self.peers[owner].send(-1, False, [b"__client_addr", b"%d" % client_id], fill)

    # -- execution -----------------------------------------------------------
    def run_owned(self, cmd: Command, db: int, resp3: bool, args: list[bytes], conn,
                  client_id: int = 0, user: acl.User | None = None) -> bytes | Deferred:
        """Run a command on a DB this worker owns (db -1: ALL route) and encode the
        reply; a handler that answers later returns its Deferred instead.
        ``user``: the client's user for a client of another worker (``conn``'s otherwise)."""
        ctx = self.ctxs[db] if db >= 0 else self.all_ctx
        ctx.resp3 = resp3
        ctx.conn = conn
        ctx.client_id = client_id
        if conn is not None:
            user = conn.user
        ctx.user = None if user is None or user.free else user
        if db >= 0:
            ctx.db.reading = cmd.reads  # its lookups count as keyspace hits / misses
            eng = ctx.db.engine
        else:
            eng = None
        if eng is not None and eng.failed is not None and cmd.is_write:
            return encode(eng.refusal(), resp3)
        if self.notify and eng is not None:
            ctx.db.touched.clear()  # what this command changes, for its events
        if self.trackers:  # CLIENT TRACKING NOLOOP: whose writes these are
            self.tracking.writer = client_id
        t0 = perf_counter_ns()
        try:
            r = cmd.handler(ctx, args)
        except RespError as e:
            r = e
        except Exception as e:  # a bug must not take the worker down
            log.exception("command %r failed", args[:1])
            r = RespError(f"ERR internal error: {type(e).__name__}")
        nanos = perf_counter_ns() - t0
        if self.trackers:
            self.tracking.writer = 0
        if self.monitoring and db >= 0 and monitor.shown(cmd, args):
            self.monitor.feed(db, client_id, args)
        if self.notify and eng is not None and ctx.db.touched and type(r) is not RespError:
            self.send_events(ctx.db, cmd, args)
        if cmd.subcommands or nanos >= self.record_ns or type(r) is RespError:
            self.account(cmd, args, nanos, r, conn, client_id)
        else:  # the common case, inline: one call less per command
            cmd.calls += 1
            cmd.nanos += nanos
            if self.track_latency:  # slowlog.record, inline: it runs for every command
                h = cmd.hist
                if h is None:
                    h = cmd.hist = [0] * HIST_SIZE
                b = nanos.bit_length() - 8
                h[(b << 8) | (nanos >> b) if b > 0 else nanos] += 1
        if READY and not self.in_exec:  # it fed keys clients are blocked on (EXEC: once it is done)
            _SERVING[:] = (eng, self.tainted)
            try:
                blocking.serve_all(self)
            finally:
                _SERVING.clear()
        if type(r) is Deferred or type(r) is Pending:  # Pending: an EXEC, its writes accounted for
            return r
        r = encode(r, resp3)
        if eng is not None and (eng.dirty or engine.FAILED):
            # The reply may show writes not committed yet: keep track of it.
            r = Pending(r)
            self.tainted.append((eng, r, ctx.nreplies))
            ctx.nreplies = 1
        return r

    def execute_forwarded(self, db: int, resp3: bool, client_id: int, args: list[bytes],
                          link: OwnerLink, rid: int, user: str = "") -> None:
        name = args[0]
        cmd = lookup_any(name)
        if cmd is None or (db >= 0 and db not in self.ctxs):
            link.reply(rid, b"-ERR request forwarded to the wrong worker\r\n")
            return
        held = link.held.get(client_id) if client_id else None
        if held is not None:  # an earlier command of this client is not answered yet
            held.append((db, resp3, args, rid, user))
            return
        r = self.run_owned(cmd, db, resp3, args, None, client_id, self.acl.restricted(user) if user else None)
        if type(r) is not Deferred:
            link.reply(rid, r)
            return
        if client_id:
            link.held[client_id] = deque()

        def done(reply: bytes) -> None:
            link.reply(rid, reply)
            # Like Redis, this client's next commands run only now.
            queued = link.held.pop(client_id, None)
            self.begin_turn()
            while queued:
                qdb, qresp3, qargs, qrid, quser = queued.popleft()
                self.execute_forwarded(qdb, qresp3, client_id, qargs, link, qrid, quser)
                if client_id in link.held:  # waiting again: the rest stays behind it
                    link.held[client_id].extend(queued)
                    break

        r.then(done)

    def call_owner(self, db: int, args: list[bytes], done: Callable[[bytes], None], resp3: bool = False,
                   client_id: int = 0, user: str = "") -> None:
        """Run a command (public or internal) on the owner of ``db``, wherever it
        is, for client ``client_id`` (0: the worker itself) whose restricted
        user is ``user`` (Client.restricted); ``done(reply_bytes)`` gets its
        RESP-encoded reply (maybe at once)."""
        self._call(db % self.nworkers, db, args, done, resp3, client_id, user)

    def call_worker(self, index: int, args: list[bytes], done: Callable[[bytes], None], resp3: bool = False,
                    client_id: int = 0) -> None:
        """Run an internal command (db -1) on worker ``index``; ``done`` gets its reply."""
        self._call(index, -1, args, done, resp3, client_id, "")

    def _call(self, index: int, db: int, args: list[bytes], done: Callable[[bytes], None], resp3: bool,
              client_id: int, user: str) -> None:
        if index != self.index:
            self.peers[index].send(db, resp3, args, done, client_id, user)
            return
        r = self.run_owned(lookup_any(args[0]), db, resp3, args, None, client_id, self.acl.restricted(user))
        if type(r) is not Deferred:
            done(r)
        else:
            r.then(done)

    def log_acl(self, conn, reason: str, context: bytes, obj: bytes, username: str | None = None) -> None:
        """An ACL refusal (or a failed login) for the ACL log, which worker 0 keeps."""
        name = (username if username is not None else conn.user.name).encode("utf-8", "surrogateescape")
        line = client_line(conn).rstrip(b"\n") if conn is not None else b""  # (a script's client elsewhere)
        entry = [b"__acl_op", b"logadd", reason.encode(), context, obj, name,
                 b"%d" % int(time.time() * 1000), line]
        self.call_worker(0, entry, _ignore)

    def call_all(self, args: list[bytes], done: Callable[[list[bytes]], None], resp3: bool = False) -> None:
        """Run a command with db -1 ("the DBs you own") on every worker;
        ``done`` gets the list of replies indexed by worker."""
        n = self.nworkers
        replies: list = [None] * n
        remaining = [n]

        def collect(i: int, reply: bytes) -> None:
            replies[i] = reply
            remaining[0] -= 1
            if remaining[0] == 0:
                done(replies)

        name = args[0]
        cmd = lookup_any(name)
        for i in range(n):
            if i == self.index:
                r = self.run_owned(cmd, -1, resp3, args, None)
                if type(r) is not Deferred:
                    collect(i, r)
                else:
                    r.then(lambda reply, i=i: collect(i, reply))
            else:
                self.peers[i].send(-1, resp3, args, lambda reply, i=i: collect(i, reply))

    # -- lifecycle -----------------------------------------------------------
    def db_path(self, index: int) -> str:
        """The RocksDB directory of DB ``index``."""
        return os.path.join(self.config.path_of("db-path"), f"db{index}")

    def open_engine(self, index: int) -> Engine:
        """Open DB ``index``'s RocksDB with the configured options."""
        cfg = self.config
        if self.tuning is None:
            self.tuning = tuning_from_config(cfg)
        eng = Engine(
            self.db_path(index),
            tuning=self.tuning,
            block_cache_size=cfg.int("block-cache"),
            max_background_jobs=cfg.int("max-background-jobs"),
            fsync=cfg.get("appendfsync"),
        )
        eng.follower = self.replica_of is not None  # (before the binlog: a replica logs no writes of its own)
        if cfg.bool("write-binlog"):
            try:
                eng.attach_binlog(Binlog(self.binlog_path(index), cfg.int("binlog-file-size"),
                                         sync=cfg.get("appendfsync") == "always"))
            except BaseException:
                eng.close()
                raise
        return eng

    def binlog_path(self, index: int) -> str:
        """DB ``index``'s binlog directory (Pika's log-path/log_db<i>)."""
        return os.path.join(self.config.path_of("log-path"), f"log_db{index}")

    def open_databases(self) -> None:
        for i in self.owned():
            db = Database(i, self.open_engine(i), self.clock)
            self.dbs[i] = db
            self.ctxs[i] = Ctx(db, self)
        self.set_notify(self.config.values.get("notify-keyspace-events", ""))
        self.set_replica(parse_slaveof(self.config.values.get("slaveof", "")))

    def set_replica(self, master: tuple[str, int] | None) -> None:
        """Follow ``master`` (None: be a master): writes refused, no expiry of our own."""
        self.replica_of = master
        for db in self.dbs.values():
            db.engine.set_follower(master is not None)  # a promoted replica's binlogs take new identities
        self.update_write_refusal()
        self.update_expiry()

    def update_write_refusal(self) -> None:
        if self.replica_of is not None and self.config.bool("slave-read-only"):
            self.write_refusal = b"-" + READONLY.encode() + b"\r\n"
        elif self.replica_of is None and self.good_replicas_short:
            self.write_refusal = b"-" + NOREPLICAS.encode() + b"\r\n"
        else:
            self.write_refusal = None

    def replicas_cron(self) -> None:
        """Once a second, as Redis' replicationCron: with min-replicas-to-write
        N and min-replicas-max-lag S, a master takes writes only while N
        replicas are online and acked within S seconds."""
        values = self.config.values
        want = int(values.get("min-replicas-to-write") or values.get("min-slaves-to-write") or 0)
        lag = int(values.get("min-replicas-max-lag") or values.get("min-slaves-max-lag") or 10)
        short = False
        if want and lag and self.replica_of is None:
            from pikamp.commands.replication import read_state  # (the command modules import the worker)

            good = sum(1 for r in read_state(self.run_dir).get("replicas", [])
                       if r.get("state") == "online" and r.get("lag", lag + 1) <= lag)
            short = good < want
        if short != self.good_replicas_short:
            self.good_replicas_short = short
            self.update_write_refusal()

    def update_expiry(self) -> None:
        """Keys expire here unless paused (CLIENT PAUSE) or a replica (the master expires them)."""
        for db in self.dbs.values():
            db.expiry_paused = self.replica_of is not None or bool(self.pause_kind)

    def new_owner_link(self) -> OwnerLink:
        link = OwnerLink(self)
        self.owner_links.append(link)
        return link

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.loop = loop
        cfg = self.config
        os.makedirs(self.run_dir, exist_ok=True)
        scripting.clear_marks(self.run_dir, self.index)  # left by a worker that died in a busy script
        path = socket_path(self.run_dir, self.index)
        if os.path.exists(path):
            os.unlink(path)
        ipc_server = await loop.create_unix_server(lambda: self.new_owner_link(), path)
        for i in range(self.nworkers):
            if i != self.index:
                self.peers[i] = PeerLink(self, i)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((cfg.get("bind"), cfg.int("port")))
        sock.listen(1024)
        server = await loop.create_server(lambda: Client(self), sock=sock)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, lambda: None)  # the supervisor decides
        cron = loop.create_task(self.cron())
        self.monitor.connect()
        fd_listener = handover.listen(loop, os.path.join(self.run_dir, f"worker{self.index}-fd.sock"),
                                      self.returned)
        log.info("worker %d serving %s:%s, owns %s", self.index, cfg.get("bind"), cfg.get("port"), self.owned())
        if self.index == 0:  # once the other processes have started too (they start together)
            loop.call_later(1.0, stats.record_startup_memory, self.run_dir)
        await stop.wait()
        self.stopping = True
        cron.cancel()
        server.close()
        ipc_server.close()
        fd_listener.close()
        self.end_turn()
        await asyncio.sleep(0.05)  # let in-flight replies drain

    async def cron(self) -> None:
        """Periodic work: the active expire cycle and idle-client timeouts."""
        tick = 0
        while True:
            await asyncio.sleep(0.1)
            tick += 1
            self.clock.tick()
            if tick % 10 == 0:
                self.disk_cron()
                self.replicas_cron()
            for db in self.dbs.values():
                if self.pause_kind or self.replica_of or not self.active_expire:  # paused, a replica (the
                    break  # master expires), or DEBUG SET-ACTIVE-EXPIRE 0
                # Like Redis: keep going while a cycle finds plenty to do, but yield often.
                for _ in range(10):
                    if db.expire_cycle(200) < 200:
                        break
                    await asyncio.sleep(0)
            timeout = self.config.int("timeout")  # CONFIG SET may change it
            if timeout and tick % 10 == 0:
                limit = time.monotonic() - timeout
                for c in list(self.clients.values()):
                    if c.last_io < limit and not c.waiting and c.transport is not None:
                        c.transport.close()

    def disk_cron(self) -> None:
        """Once a second: fsync the WAL (appendfsync everysec) and try to
        resume writes after a disk error (every manually-resume-interval s)."""
        for db in self.dbs.values():
            if db.engine.fsync == "everysec":
                db.engine.sync_wal()  # the binlog's too, and its manifest
            elif db.engine.binlog is not None:
                db.engine.binlog_cron()
        if any(db.engine.failed is not None for db in self.dbs.values()):
            now = time.monotonic()
            if now - self.last_resume_check >= self.config.int("manually-resume-interval"):
                self.last_resume_check = now
                self.resume_writes()

    def close(self) -> None:
        for db in self.dbs.values():
            db.commit()
            db.engine.close()


def _ignore(reply: bytes) -> None:
    pass


@command("__client_addr", 2, internal=True, route=ALL, summary="The address and name of a client of this worker")
def _client_addr(ctx, args):
    c = ctx.worker.clients.get(int(args[1]))
    return [c.addr.encode(), c.name] if c is not None else [b"", b""]


@command("__batch", 2, internal=True, summary="Run a client's read forwarded as raw RESP (Client.forward_read)")
def run_batch(ctx, args):
    """Execute each command of ``args[1]`` in order; one reply: all of theirs.
    A command answered later (a cross-worker MOVE ...) holds back the rest."""
    w = ctx.worker
    db, resp3, client = ctx.db.index, ctx.resp3, ctx.client_id
    reader = hiredis.Reader()
    reader.feed(args[1])
    cmds = []
    while (cmd_args := reader.gets()) is not False:
        cmds.append(cmd_args)
    parts: list[bytes] = []
    joined = Deferred(resp3)

    def run_from(i: int) -> None:
        while i < len(cmds):
            r = w.run_owned(w.dispatch[cmds[i][0]], db, resp3, cmds[i], None, client)
            i += 1
            if type(r) is Deferred:
                r.then(lambda reply, i=i: (parts.append(reply), w.begin_turn(), run_from(i)))
                return
            parts.append(r)
        joined.resolve_raw(b"".join(parts))

    run_from(0)
    ctx.nreplies = len(cmds)  # the nested commands reset it
    return Raw(joined.result) if joined.result is not None else joined


def run(index: int, config: Config) -> None:
    """Entry point of a worker process (called in the forked child)."""
    import uvloop

    load_all()
    load_runtime(config)  # CONFIG SET since the start survives this worker's restart
    w = Worker(index, config)
    owned = ",".join(f"db{i}" for i in w.owned())
    setproctitle(f"pikamp: worker {index} [{owned}]")
    try:
        w.open_databases()
    except Exception as e:
        # A full disk or a newer format: restarting cannot help, so say it once
        # and have the supervisor stop. Other errors restart with back-off.
        fatal = isinstance(e, FormatError) or engine.short_error(e) in engine.DISK_ERRORS
        if not fatal and not isinstance(e, OSError):
            raise
        log.error("worker %d cannot open its databases: %s", index, e)
        # An OSError (a path taken by a file, no permission ...) may pass:
        # the supervisor retries, and gives up after a few failed starts.
        raise SystemExit(FATAL_EXIT if fatal else 1) from None
    try:
        uvloop.run(w.serve())
    finally:
        w.close()
        log.info("worker %d stopped", index)
