"""Numbers exactly as Redis reads, computes and prints them: string2ll for
integers, C long double for INCRBYFLOAT / HINCRBYFLOAT."""
from __future__ import annotations

import ctypes
import ctypes.util
import math
import re

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


def wrap_int64(n: int) -> int:
    """``n`` as a C int64_t holds it: a product or sum past 64 bits wraps (two's complement)."""
    n &= 2**64 - 1
    return n - 2**64 if n > _MAX else n


SPACE = b" \t\n\v\f\r"  # C's isspace (what strtod skips first)


def c_word(arg: bytes) -> bytes:
    """A keyword as Redis' strcasecmp sees it: lower case, up to a NUL byte."""
    return arg.split(b"\0", 1)[0].lower()


def parse_cursor(arg: bytes) -> int:
    """Redis's parseScanCursorOrReply: strtoul base 10 over the C string (so a
    sign is accepted and "-1" wraps around), no leading space, 64-bit range."""
    text = arg.split(b"\0", 1)[0]
    if not text:
        return 0
    digits = text[1:] if text[:1] in b"+-" else text
    if text[:1] in SPACE or not digits.isdigit() or int(digits) >= 2**64:
        raise RespError("ERR invalid cursor")
    n = int(digits)
    return (-n) % 2**64 if text[:1] == b"-" else n


# Redis computes INCRBYFLOAT / HINCRBYFLOAT in the platform's long double (80-bit
# x87 on x86-64) and prints the result with "%.17Lf" minus trailing zeros. Python
# floats cannot reproduce that (1e400 is finite, 0.1 + 0.2 prints "0.3"), so the
# C library does the parsing, the adding and the printing, exactly as in Redis.
class LongDouble(ctypes.c_longdouble):
    """A C long double that ctypes keeps as is (subclasses are not turned into floats)."""


_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libm = ctypes.CDLL(ctypes.util.find_library("m"))
_strtold = _libc.strtold
_strtold.restype = LongDouble
_strtold.argtypes = (ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p))
_fmal = _libm.fmal  # x*1 + y with a single rounding: exactly the C sum x + y
_fmal.restype = LongDouble
_fmal.argtypes = (LongDouble, LongDouble, LongDouble)
_fpclassifyl = _libm.__fpclassifyl
_fpclassifyl.restype = ctypes.c_int
_fpclassifyl.argtypes = (LongDouble,)
_snprintf = _libc.snprintf
_snprintf.restype = ctypes.c_int
_snprintf.argtypes = (ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, LongDouble)

_FP_NAN, _FP_INFINITE, _FP_ZERO = 0, 1, 2  # glibc's fpclassify() results
_ERANGE = 34
_MAX_LONG_DOUBLE_CHARS = 5 * 1024  # Redis's MAX_LONG_DOUBLE_CHARS: longer input is invalid
_ONE = LongDouble(1)


def parse_long_double(text: bytes) -> LongDouble | None:
    """Redis's string2ld: the whole of ``text`` as a long double, else None.

    No leading space, nothing after the number, no NaN; overflow to infinity or
    underflow to zero is invalid, but "inf" and hex floats are accepted.
    """
    if not 0 < len(text) < _MAX_LONG_DOUBLE_CHARS or text[0] in SPACE:
        return None
    buf = ctypes.create_string_buffer(text)
    end = ctypes.c_void_p()
    ctypes.set_errno(0)
    value = _strtold(buf, ctypes.byref(end))
    errno = ctypes.get_errno()
    if end.value - ctypes.addressof(buf) != len(text):
        return None
    kind = _fpclassifyl(value)
    if kind == _FP_NAN or (errno == _ERANGE and kind in (_FP_INFINITE, _FP_ZERO)):
        return None
    return value


def add_long_doubles(a: LongDouble, b: LongDouble) -> bytes | None:
    """``a + b`` printed as Redis stores it ("%.17Lf", trailing zeros cut); None if NaN or infinite."""
    total = _fmal(a, _ONE, b)
    if _fpclassifyl(total) in (_FP_NAN, _FP_INFINITE):
        return None
    buf = ctypes.create_string_buffer(_MAX_LONG_DOUBLE_CHARS)
    n = _snprintf(buf, _MAX_LONG_DOUBLE_CHARS, b"%.17Lf", total)
    text = buf.raw[:n]
    if b"." in text:
        text = text.rstrip(b"0").rstrip(b".")
    return b"0" if text == b"-0" else text


def is_finite(value: LongDouble) -> bool:
    """Neither infinite nor NaN."""
    return _fpclassifyl(value) not in (_FP_NAN, _FP_INFINITE)


# -- strtod, as glibc reads a double (ZADD scores, SORT) ---------------------
_HEX = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?")
_INF = re.compile(rb"[+-]?inf(?:inity)?", re.IGNORECASE)
_NAN = re.compile(rb"[+-]?nan", re.IGNORECASE)
_DEC = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NONZERO_DIGIT = re.compile(rb"[1-9a-fA-F]")


def strtod(s: bytes) -> tuple[float, int, bool]:
    """glibc's strtod on ``s``: (value, bytes used (0: no number), out of range).

    "Out of range" is ERANGE: an overflow to +-inf or an underflow to 0."""
    i = 0
    while i < len(s) and s[i] in SPACE:
        i += 1
    m = _HEX.match(s, i)
    if m is not None:
        text = m.group()
        try:
            v = float.fromhex(text.decode())
        except OverflowError:
            return (-math.inf if text[:1] == b"-" else math.inf), m.end(), True
        mantissa = text.split(b"x", 1)[-1].split(b"X", 1)[-1].split(b"p")[0].split(b"P")[0]
        return v, m.end(), v == 0 and _NONZERO_DIGIT.search(mantissa) is not None
    m = _INF.match(s, i)
    if m is not None:
        return (-math.inf if s[i:i + 1] == b"-" else math.inf), m.end(), False
    m = _NAN.match(s, i)
    if m is not None:
        return math.nan, m.end(), False
    m = _DEC.match(s, i)
    if m is None:
        return 0.0, 0, False
    text = m.group()
    v = float(text)
    mantissa = re.split(rb"[eE]", text)[0]
    erange = math.isinf(v) or (v == 0 and re.search(rb"[1-9]", mantissa) is not None)
    return v, m.end(), erange
