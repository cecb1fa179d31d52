"""Bitmap commands: argument parsing and reply shaping; storage in pikamp.storage.bitmaps."""
from __future__ import annotations

from pikamp.commands.table import command
from pikamp.errors import BIT_OFFSET, BIT_VALUE, SYNTAX, RespError
from pikamp.numbers import c_word, parse_int, wrap_int64
from pikamp.storage import bitmaps, strings
from pikamp.storage.bitmaps import FieldOp

BIT_ARGUMENT = "ERR The bit argument must be 1 or 0."
BITOP_NOT_ONE_KEY = "ERR BITOP NOT must be called with a single source key."
BITFIELD_TYPE = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
BITFIELD_OVERFLOW = "ERR Invalid OVERFLOW type specified"
BITFIELD_RO_GET_ONLY = "ERR BITFIELD_RO only supports the GET subcommand"

_OPS = {b"and": bitmaps.AND, b"or": bitmaps.OR, b"xor": bitmaps.XOR, b"not": bitmaps.NOT}
# BITFIELD's operations: the arguments each takes.
_FIELD_OPS = {b"get": (bitmaps.GET, 2), b"set": (bitmaps.SET, 3), b"incrby": (bitmaps.INCRBY, 3)}
_OVERFLOWS = {b"wrap": bitmaps.WRAP, b"sat": bitmaps.SAT, b"fail": bitmaps.FAIL}


def _bit_offset(arg: bytes, max_bulk: int, width: int = 0) -> int:
    """A bit offset: non-negative and inside the largest string allowed
    (proto-max-bulk-len). Given a field ``width`` (BITFIELD), "#N" is the
    N-th field of that width; the product is C's, so it may wrap."""
    if width and arg[:1] == b"#":
        offset = wrap_int64(parse_int(arg[1:], BIT_OFFSET) * width)
    else:
        offset = parse_int(arg, BIT_OFFSET)
    if offset < 0 or offset >> 3 >= max_bulk:
        raise RespError(BIT_OFFSET)
    return offset


def _field_type(arg: bytes) -> tuple[bool, int]:
    """A BITFIELD type: (signed, bits) from i1..i64 or u1..u63 (case matters)."""
    sign = arg[:1]
    if sign not in (b"i", b"u"):
        raise RespError(BITFIELD_TYPE)
    bits = parse_int(arg[1:].split(b"\0", 1)[0], BITFIELD_TYPE)  # Redis reads it as a C string
    if not 1 <= bits <= (64 if sign == b"i" else 63):
        raise RespError(BITFIELD_TYPE)
    return sign == b"i", bits


def _field_ops(args: list[bytes], max_bulk: int) -> list[FieldOp]:
    """BITFIELD's operations, every one checked before any runs (an error
    anywhere runs none), in Redis' order: the operation and its argument
    count, the type, the offset, then SET's value or INCRBY's increment."""
    ops = []
    overflow = bitmaps.WRAP
    i, n = 2, len(args)
    while i < n:
        word, left = c_word(args[i]), n - i - 1
        if word == b"overflow" and left >= 1:
            mode = _OVERFLOWS.get(c_word(args[i + 1]))
            if mode is None:
                raise RespError(BITFIELD_OVERFLOW)
            overflow = mode
            i += 2
            continue
        spec = _FIELD_OPS.get(word)
        if spec is None or left < spec[1]:
            raise RespError(SYNTAX)
        kind, nargs = spec
        signed, bits = _field_type(args[i + 1])
        offset = _bit_offset(args[i + 2], max_bulk, bits)
        value = parse_int(args[i + 3]) if kind != bitmaps.GET else 0
        ops.append(FieldOp(kind, signed, bits, offset, value, overflow))
        i += 1 + nargs
    return ops


def _in_bits(arg: bytes) -> bool:
    """The BYTE | BIT unit argument: True for BIT."""
    unit = arg.lower()
    if unit not in (b"bit", b"byte"):
        raise RespError(SYNTAX)
    return unit == b"bit"


@command("setbit", 4, "write denyoom", (1, 1, 1), group="bitmap", since="2.2.0",
         summary="Sets or clears the bit at offset in the string value stored at key")
def setbit(ctx, args):
    offset = _bit_offset(args[2], ctx.worker.max_bulk)
    on = parse_int(args[3], BIT_VALUE)
    if on not in (0, 1):
        raise RespError(BIT_VALUE)
    return bitmaps.set_bit(ctx.db, args[1], offset, on)


@command("getbit", 3, "readonly fast", (1, 1, 1), group="bitmap", since="2.2.0",
         summary="Returns the bit value at offset in the string value stored at key")
def getbit(ctx, args):
    return bitmaps.get_bit(ctx.db, args[1], _bit_offset(args[2], ctx.worker.max_bulk))


@command("bitcount", -2, "readonly", (1, 1, 1), group="bitmap", since="2.6.0",
         summary="Count set bits in a string", complexity="O(N)")
def bitcount(ctx, args):
    # Redis 7.0 looks the key up first: a missing key answers 0 whatever the arguments.
    raw = strings.lookup(ctx.db, args[1])
    if raw is None:
        return 0
    if len(args) == 2:
        start, end, in_bits = 0, -1, False
    elif len(args) in (4, 5):
        start = parse_int(args[2])
        end = parse_int(args[3])
        in_bits = len(args) == 5 and _in_bits(args[4])
        if start < 0 and end < 0 and start > end:  # answered before clamping, unlike BITPOS
            return 0
    else:
        raise RespError(SYNTAX)
    span = bitmaps.bit_range(strings.length(raw), start, end, in_bits)
    if span is None:
        return 0
    return bitmaps.count_bits(*bitmaps.read_span(ctx.db, args[1], raw, *span))


@command("bitpos", -3, "readonly", (1, 1, 1), group="bitmap", since="2.8.7",
         summary="Find first bit set or clear in a string", complexity="O(N)")
def bitpos(ctx, args):
    bit = parse_int(args[2])
    if bit not in (0, 1):
        raise RespError(BIT_ARGUMENT)
    # A missing key is an endless run of zeros; its range arguments are not even read.
    raw = strings.lookup(ctx.db, args[1])
    if raw is None:
        return -1 if bit else 0
    n = len(args)
    if n not in (3, 4, 5, 6):
        raise RespError(SYNTAX)
    start = parse_int(args[3]) if n > 3 else 0
    in_bits = n == 6 and _in_bits(args[5])
    end = parse_int(args[4]) if n > 4 else -1
    span = bitmaps.bit_range(strings.length(raw), start, end, in_bits)
    if span is None:
        return -1
    value, first, last = bitmaps.read_span(ctx.db, args[1], raw, *span)
    pos = bitmaps.find_bit(value, bit, first, last)
    if pos != -1:
        pos += span[0] - first
    if pos == -1 and bit == 0 and n <= 4:
        # Without an explicit end the string counts as padded with zeros on the right.
        return span[1] + 1
    return pos


@command("bitop", -4, "write denyoom", (2, -1, 1), group="bitmap", since="2.6.0",
         summary="Perform bitwise operations between strings", complexity="O(N)")
def bitop(ctx, args):
    op = _OPS.get(args[1].lower())
    if op is None:
        raise RespError(SYNTAX)
    if op == bitmaps.NOT and len(args) != 4:
        raise RespError(BITOP_NOT_ONE_KEY)
    return bitmaps.bit_op(ctx.db, op, args[2], args[3:])


@command("bitfield", -2, "write denyoom", (1, 1, 1), group="bitmap", since="3.2.0",
         summary="Perform arbitrary bitfield integer operations on strings",
         complexity="O(1) for each subcommand specified")
def bitfield(ctx, args):
    ops = _field_ops(args, ctx.worker.max_bulk)
    if all(op.kind == bitmaps.GET for op in ops):
        ctx.db.reading = True  # Redis looks the key up for reading then: a keyspace hit or miss
    return bitmaps.bit_field(ctx.db, args[1], ops)


@command("bitfield_ro", -2, "readonly fast", (1, 1, 1), group="bitmap", since="6.0.0",
         summary="Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
         complexity="O(1) for each subcommand specified")
def bitfield_ro(ctx, args):
    ops = _field_ops(args, ctx.worker.max_bulk)
    if any(op.kind != bitmaps.GET for op in ops):
        raise RespError(BITFIELD_RO_GET_ONLY)
    return bitmaps.bit_field(ctx.db, args[1], ops)
