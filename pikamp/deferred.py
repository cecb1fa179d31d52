"""Replies that come later or are not final yet, below the worker and the
command modules so both can use them."""
from __future__ import annotations

from typing import Callable

from pikamp.resp import encode


class Pending(bytes):
    """A reply that shows writes not yet committed: its own object, so that
    if the commit fails it can be found and replaced in the outgoing buffers."""

    __slots__ = ()


# While blocked clients are served after a write (run_owned), the engine
# whose uncommitted data their replies show, and the worker's taint list.
SERVING: list = []


class Deferred:
    """A reply that comes later: a handler returns one and calls ``resolve``
    when the answer is known (cross-worker work, blocking commands)."""

    __slots__ = ("resp3", "callback", "result")

    def __init__(self, resp3: bool) -> None:
        self.resp3 = resp3
        self.callback: Callable[[bytes], None] | None = None
        self.result: bytes | None = None

    def resolve(self, value: object) -> None:
        """Deliver the reply value (encoded in the requester's protocol)."""
        self.resolve_raw(encode(value, self.resp3))

    def resolve_raw(self, reply: bytes) -> None:
        if SERVING:  # popped for a blocked client from data of this turn
            reply = Pending(reply)
            SERVING[1].append((SERVING[0], reply, 1))
        if self.callback is None:
            self.result = reply
        else:
            cb, self.callback = self.callback, None
            cb(reply)

    def then(self, callback: Callable[[bytes], None]) -> None:
        """Call ``callback(reply_bytes)`` once resolved (at once if it already is)."""
        if self.result is not None:
            callback(self.result)
        else:
            self.callback = callback
