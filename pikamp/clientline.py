"""A client's CLIENT LIST / CLIENT INFO line (also the ACL log's client-info)."""
from __future__ import annotations

import time


def client_line(c) -> bytes:
    """One CLIENT LIST / CLIENT INFO line, in Redis 7.0's field order."""
    now = time.monotonic()
    in_multi = c.multi is not None
    subs = c.pubsub
    # Redis' flags: P subscribed, x in MULTI, b blocked (BLPOP ...), N none.
    t = c.tracker
    # t tracking (CLIENT TRACKING), R its redirect is gone, B in BCAST mode.
    flags = (("P" if subs else "") + ("x" if in_multi else "") + ("b" if c.backlog is not None else "")
             + ("t" if t is not None else "") + ("R" if t is not None and t.broken else "")
             + ("B" if t is not None and t.bcast else "")) or "N"
    redir = -1 if t is None else 0 if t.target == c.id else t.target
    counts = (len(subs.channels), len(subs.patterns), len(subs.shard)) if subs else (0, 0, 0)
    return (
        f"id={c.id} addr={c.addr} laddr={c.laddr} fd=-1 name={c.name.decode('latin-1')} "
        f"age={int(now - c.created)} idle={int(now - c.last_io)} flags={flags} db={c.db_index} sub={counts[0]} "
        f"psub={counts[1]} ssub={counts[2]} multi={len(c.multi) if in_multi else -1} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 "
        f"events=r cmd={c.last_cmd.name if c.last_cmd else 'NULL'} user={c.user.name} redir={redir} resp={3 if c.resp3 else 2}\n"
    ).encode()
