"""SLAVEOF / REPLICAOF / ROLE, and each owner's part of replication.

The replication process (pikamp.services.replication) does the network side;
a DB's owner worker does what touches the DB, on request over its IPC socket:

- master: ``__checkpoint_db dir`` (a full sync's RocksDB checkpoint; answers the
  binlog position it holds);
- replica: ``__master_position`` (the binlog position the DB holds),
  ``__replicate position frame...`` (apply the master's binlog items: their
  effects go into this DB's batch, the items verbatim into its binlog, which is
  a copy of the master's, and the position after them into the same batch),
  ``__install_db dir position`` (a full sync's files become the DB).

A replica refuses writes from clients (``slave-read-only``) and expires no key
itself: it waits for the master's deletes (reads still hide expired keys).
"""
from __future__ import annotations

import os
import shutil

from pikamp import servicecall, stats
from pikamp.commands.table import ALL, LOCAL, command
from pikamp.config import save_runtime
from pikamp.deferred import Deferred
from pikamp.errors import SYNTAX, RespError
from pikamp.numbers import parse_int
from pikamp.resp import decode
from pikamp.storage.binlog import BinlogError, offset_value, unpack_position
from pikamp.storage import codec
from pikamp.storage.engine import META, STATE

UNAVAILABLE = b"-ERR the replication process is not available; try again\r\n"
REPL_SOCKET = "replication.sock"
REPL_STATE = "replication.json"
ORIGIN_FILE = "pikamp-sync-origin"  # in a full sync's staging directory: whose files these are
STALE_S = 3.0


def repl_socket(run_dir: str) -> str:
    return os.path.join(run_dir, REPL_SOCKET)


def read_state(run_dir: str) -> dict:
    """The replication process' last published state ({} before any). It
    publishes twice a second: older than STALE_S, it died, and with it its
    links (they come back when it is restarted)."""
    import json
    import time

    try:
        with open(os.path.join(run_dir, REPL_STATE)) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return {}
    if time.time() - state.get("published", 0) > STALE_S:
        state["replicas"] = []
        if "link" in state:
            state["link"] = "connect"
    return state


def _replicaof(conn, args):
    if len(args) > 4 or (len(args) == 4 and args[3].lower() != b"force"):
        raise RespError(SYNTAX)
    w = conn.worker
    if args[1].lower() == b"no" and args[2].lower() == b"one":
        target = None
    else:
        port = parse_int(args[2])
        if not 0 < port < 65536:
            raise RespError("ERR Invalid master port")
        target = (args[1].decode("latin-1"), port)
    force = len(args) == 4
    if target is not None and target == w.replica_of and not force:
        return "OK Already connected to specified master"
    if not w.config.bool("write-binlog"):
        raise RespError("ERR replication needs write-binlog yes")
    role = [b"__role"] if target is None else [b"__role", target[0].encode(), b"%d" % target[1]]
    d = Deferred(conn.resp3)
    request = [b"SLAVEOF", b"NO", b"ONE"] if target is None else [
        b"SLAVEOF", target[0].encode(), b"%d" % target[1], b"1" if force else b"0"]

    def roles_set(_value) -> None:
        from pikamp.commands.server import rewrite_config_file  # (server's INFO imports this module)

        if w.config.path:  # as Pika: the file says whom to follow after a restart (that line only)
            try:
                rewrite_config_file(w.config.path, {"slaveof": w.config.values.get("slaveof", "")})
            except OSError:
                pass
        servicecall.ask(w, repl_socket(w.run_dir), request, d.resolve_raw, 10.0, UNAVAILABLE)

    # Once, here, before any worker acts on it: a worker restarted meanwhile
    # reads the new role from the runtime file.
    w.config.values["slaveof"] = f"{target[0]}:{target[1]}" if target else ""
    save_runtime(w.config, ["slaveof"])
    stats.gather(w, role, False, lambda replies: "OK").then(roles_set)
    return d


# SLAVEOF takes Pika's "force" (a full sync): arity -3 where Redis has 3.
@command("slaveof", -3, "admin noscript stale no_async_loading", route=LOCAL, group="server",
         summary="Make the server a replica of another instance, or promote it as master")
def slaveof(ctx, args):
    """SLAVEOF host port [force] | SLAVEOF NO ONE."""
    conn = ctx.conn
    return _replicaof(conn, args)


@command("replicaof", 3, "admin noscript stale no_async_loading", route=LOCAL, group="server", since="5.0.0",
         summary="Make the server a replica of another instance, or promote it as master")
def replicaof(ctx, args):
    conn = ctx.conn
    return _replicaof(conn, args)


@command("__role", -1, internal=True, route=ALL, group="server", summary="Become a master or a replica")
def _role_here(ctx, args):
    w = ctx.worker
    target = (args[1].decode("latin-1"), int(args[2])) if len(args) == 3 else None
    w.config.values["slaveof"] = f"{target[0]}:{target[1]}" if target else ""  # (the file is written by SLAVEOF)
    w.set_replica(target)
    return "OK"


@command("role", 1, "noscript loading stale fast", route=LOCAL, group="server", since="2.8.12",
         categories="@admin @fast @dangerous",
         summary="Return the role of the instance in the context of replication")
def role(ctx, args):
    w = ctx.worker
    state = read_state(w.run_dir)
    if w.replica_of is not None:
        return [b"slave", w.replica_of[0].encode(), w.replica_of[1], state.get("link", "connect").encode(),
                int(state.get("offset", -1))]
    size = w.config.int("binlog-file-size")
    replicas = [[r["ip"].encode(), str(r["port"]).encode(), str(r.get("offset", 0)).encode()]
                for r in state.get("replicas", []) if r.get("state") == "online"]
    return stats.gather(w, [b"__binlog_positions"], ctx.resp3, lambda replies: [
        b"master", sum(offset_value(f, o, size) for reply in replies for _, f, o in reply), replicas])


@command("__binlog_positions", 1, internal=True, route=ALL, group="server",
         summary="[db, filenum, offset] of the end of each binlog of this worker")
def _binlog_positions(ctx, args):
    out = []
    for i, db in sorted(ctx.worker.dbs.items()):
        if db.engine.binlog is not None:
            db.commit()  # a write of this turn (pipelined before WAIT) is in the binlog now
            out.append([i, *db.engine.binlog.position])
    return out


@command("wait", 3, "noscript", route=LOCAL, group="generic", since="3.0.0", categories="@slow @connection",
         summary="Wait for the synchronous replication of all the write commands sent in the context of "
                 "the current connection", complexity="O(1)")
def wait(ctx, args):
    """WAIT numreplicas timeout: how many replicas acked every DB's binlog up to
    its end now (a superset of this client's writes), waiting up to timeout ms
    (0: for ever) for numreplicas of them; inside EXEC, not waiting at all."""
    w = ctx.worker
    numreplicas = parse_int(args[1])
    timeout = parse_int(args[2], "ERR timeout is not an integer or out of range")
    if timeout < 0:
        raise RespError("ERR timeout is negative")
    if w.replica_of is not None:
        raise RespError("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 "
                        "if a replica is configured to be writable (which is not the default) writes to replicas "
                        "are just local and are not propagated.")
    if w.in_exec:  # inside EXEC, as Redis: the count now, no waiting
        timeout = -1
    d = Deferred(ctx.resp3)

    def positions(replies: list) -> None:
        target = [b"%d" % x for reply in replies for p in reply for x in p]
        request = [b"WAIT", b"%d" % numreplicas, b"%d" % timeout, *target]
        servicecall.ask(w, repl_socket(w.run_dir), request, d.resolve_raw, None, b":0\r\n")

    w.call_all([b"__binlog_positions"], lambda replies: positions([decode(r) for r in replies]))
    return d


# -- the owner's side ----------------------------------------------------------
@command("__checkpoint_db", 2, internal=True, group="server",
         summary="Checkpoint this DB into args[1] for a full sync; answers its binlog position")
def _checkpoint_db(ctx, args):
    eng = ctx.db.engine
    if eng.binlog is None:
        raise RespError("ERR the master has write-binlog no")
    w = ctx.worker
    ctx.db.commit()
    # The checkpoint holds at least what this position covers (writes go on
    # while it is made, in a thread: the loop keeps serving). Replaying items
    # it already holds changes nothing: each sets keys to absolute values.
    position = eng.binlog.position_record()
    target = os.fsdecode(args[1])

    def work() -> bytes:
        eng.checkpoint_committed(target)
        return position

    return w.in_thread(work, ctx.resp3, "checkpoint")


@command("__master_position", 1, internal=True, group="server",
         summary="The binlog position this DB has applied (nil: none)")
def _master_position(ctx, args):
    # A replica's binlog copies its master's, so this is a position in the
    # master's history (or in the history it came from, after a failover).
    ctx.db.commit()
    return ctx.db.engine.position()


@command("__replicate", -3, "write", internal=True, group="server",
         summary="Apply binlog items (whole frames) from the master, under its identity args[1]")
def _replicate(ctx, args):
    db = ctx.db
    blocked = db.blocked

    def on_put(cf: int, key: bytes) -> None:
        if cf == META and blocked and key in blocked:
            db.mark_ready(key)  # a client BLPOPs this key on the replica
        elif cf == STATE and key.startswith(codec.FUNCTION_PREFIX):
            ctx.worker.functions = None  # the libraries changed: read again on next use

    def on_delete(cf: int, key: bytes) -> None:
        if cf == STATE and key.startswith(codec.FUNCTION_PREFIX):
            ctx.worker.functions = None

    try:
        db.engine.replicate(unpack_position(args[1])[0], args[2:], on_put, on_delete)
    except BinlogError as e:
        raise RespError(f"ERR {e}") from None
    db.reload_size()  # the key count came with the effects
    return "OK"


@command("__install_db", 3, "write", internal=True, group="server",
         summary="Make a full sync's checkpoint (args[1]) this DB, at master position args[2]")
def _install_db(ctx, args):
    db = ctx.db
    w = ctx.worker
    staging = os.fsdecode(args[1])
    try:
        os.unlink(os.path.join(staging, ORIGIN_FILE))  # (the staging's, not the DB's)
    except FileNotFoundError:
        pass
    path = w.db_path(db.index)
    old = path + ".replaced"
    db.commit()
    db.engine.close()
    shutil.rmtree(old, ignore_errors=True)
    try:
        os.rename(path, old)
        try:
            os.rename(staging, path)
        except OSError:
            os.rename(old, path)  # keep what the DB held; the full sync is retried
            raise
    finally:
        db.reopen(w.open_engine(db.index))
    shutil.rmtree(old, ignore_errors=True)
    db.engine.adopt_position(*unpack_position(args[2]))
    w.functions = None  # the master's function libraries came with its DB
    for key in list(db.blocked):
        if db.lookup(key) is not None:
            db.mark_ready(key)
    return "OK"
