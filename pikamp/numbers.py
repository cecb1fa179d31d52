"""Number parsing exactly as Redis does it (string2ll and friends)."""
from __future__ import annotations

from pikamp.errors import NOT_INTEGER, RespError

_MIN, _MAX = -(2**63), 2**63 - 1


def parse_int(b: bytes, error: str = NOT_INTEGER) -> int:
    """Redis's strict 64-bit integer parsing: optional '-', ASCII digits, no
    leading zeros, spaces, '+' or '_'; out of range is an error."""
    digits = b[1:] if b[:1] == b"-" else b
    if (
        not digits
        or len(digits) > 19
        or not digits.isdigit()  # bytes.isdigit is ASCII-only
        or (digits[:1] == b"0" and (len(digits) > 1 or len(b) > 1))
    ):
        raise RespError(error)
    n = int(b)
    if not _MIN <= n <= _MAX:
        raise RespError(error)
    return n
