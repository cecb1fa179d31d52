"""HyperLogLog commands (PFADD, PFCOUNT, PFMERGE); storage in pikamp.storage.hyperloglog.

PFDEBUG (GETREG, DECODE, ENCODING, TODENSE) as Redis 7.0; PFSELFTEST, which
tests Redis' own C implementation, is not provided.
"""
from __future__ import annotations

from pikamp.commands.table import command
from pikamp.errors import RespError
from pikamp.storage import hyperloglog


def _sparse_max_bytes(ctx) -> int:
    return ctx.worker.config.redis_int("hll-sparse-max-bytes")


@command("pfadd", -2, "write denyoom fast", (1, 1, 1), group="hyperloglog", since="2.8.9",
         summary="Adds the specified elements to the specified HyperLogLog.",
         complexity="O(1) to add every element.")
def pfadd(ctx, args):
    return hyperloglog.pf_add(ctx.db, args[1], args[2:], _sparse_max_bytes(ctx))


@command("pfcount", -2, "readonly", (1, -1, 1), group="hyperloglog", since="2.8.9",
         summary="Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
         complexity="O(1) with a very small average constant time when called with a single key. O(N) "
                    "with N being the number of keys, and much bigger constant times, when called with "
                    "multiple keys.")
def pfcount(ctx, args):
    # A stale cached cardinality is stored back on a master only: a replica's
    # copy stays what its master sent (the master's PFCOUNT reaches it anyway).
    store = ctx.worker.replica_of is None and ctx.db.engine.failed is None
    return hyperloglog.pf_count(ctx.db, args[1:], store)


@command("pfmerge", -2, "write denyoom", (1, -1, 1), group="hyperloglog", since="2.8.9",
         summary="Merge N different HyperLogLogs into a single one.",
         complexity="O(N) to merge N HyperLogLogs, but with high constant times.")
def pfmerge(ctx, args):
    hyperloglog.pf_merge(ctx.db, args[1], args[2:], _sparse_max_bytes(ctx))
    return "OK"


@command("pfdebug", 3, "write denyoom admin", (2, 2, 1), group="hyperloglog", since="2.8.9",
         summary="Internal commands for debugging HyperLogLog values", complexity="N/A")
def pfdebug(ctx, args):
    sub = args[1].lower()
    if sub not in (b"getreg", b"decode", b"encoding", b"todense"):
        # (after the key is checked, as Redis does)
        hyperloglog.pf_debug(ctx.db, b"encoding", args[2])
        raise RespError(f"ERR Unknown PFDEBUG subcommand '{args[1].decode('latin-1')}'")
    return hyperloglog.pf_debug(ctx.db, sub, args[2])
