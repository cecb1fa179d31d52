"""Blocking commands (BLPOP & co.): waiters parked per key in the owner of the DB.

Database.put_meta appends a key to ``db.ready`` when it has waiters; after each
command the worker calls ``serve_ready`` to hand the new data to them.
"""
from __future__ import annotations


def serve_ready(worker, db) -> None:
    """Serve the clients blocked on keys of ``db`` that were written."""
    db.ready.clear()
