"""SCAN cursors: the opaque integers handed to clients, mapped to where the
next call resumes (a key for SCAN, a field or member for HSCAN/SSCAN/ZSCAN).

Redis cursors encode a hash-table position; ours name a row of one small LRU
table per worker process, like Pika's cursor store. A cursor that is unknown
(evicted, from before a restart, or issued for another scan) restarts the scan
from the beginning: entries may then come twice, none is missed.
"""
from __future__ import annotations

import random
from collections import OrderedDict
from typing import Hashable


class ScanCursors:
    """cursor -> (scope, resume point); scope names what is scanned, e.g.
    (db index, None) for a DB's keys or (db index, key) for one collection."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self.rows: OrderedDict[int, tuple[Hashable, bytes]] = OrderedDict()
        # Numbering starts at a random point so that a cursor from before a
        # restart is unlikely to name a live row.
        self.next_id = random.randrange(1, 1 << 48)

    def resume_point(self, cursor: int, scope: Hashable) -> bytes:
        """Where a scan of ``scope`` continues for ``cursor``; b"" = the start."""
        row = self.rows.get(cursor)
        if row is None or row[0] != scope:
            return b""
        self.rows.move_to_end(cursor)
        return row[1]

    def new_cursor(self, scope: Hashable, resume: bytes) -> int:
        """A fresh non-zero cursor that resumes the scan of ``scope`` at ``resume``."""
        cursor = self.next_id
        self.next_id += 1
        self.rows[cursor] = (scope, resume)
        if len(self.rows) > self.capacity:
            self.rows.popitem(last=False)
        return cursor


CURSORS = ScanCursors()
