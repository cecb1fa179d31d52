"""Redis glob patterns (KEYS, SCAN MATCH, HSCAN/SSCAN/ZSCAN MATCH, CONFIG GET, PSUBSCRIBE)."""
from __future__ import annotations

_ANY = frozenset(range(256))
_STAR = None


class Glob:
    """A compiled Redis glob pattern (``* ? [abc] [^a] [a-z] \\x``), matching
    exactly like Redis's case-sensitive ``stringmatchlen``, edge cases included:
    an unterminated ``[`` takes the rest of the pattern as its set, ``[a-]``
    is a range up to ``]``, a trailing ``\\`` is literal, and an empty string
    is matched only by an empty pattern (KEYS/SCAN special-case a lone ``*``).

    Every token but ``*`` matches exactly one byte, so a two-pointer match
    with one backtracking point is exact and never recursive or exponential.
    """

    __slots__ = ("tokens", "prefix")

    def __init__(self, pattern: bytes) -> None:
        self.tokens = _tokenize(pattern)
        prefix = bytearray()
        for tok in self.tokens:
            if tok is _STAR or len(tok) != 1:
                break
            prefix += bytes(tok)
        # Every matching key starts with these bytes (lets KEYS/SCAN seek).
        self.prefix = bytes(prefix)

    def match(self, s: bytes) -> bool:
        toks = self.tokens
        if not s:
            return not toks
        n, ls = len(toks), len(s)
        ti = si = 0
        star = -1  # token index of the last '*' seen ...
        mark = 0  # ... and where in s its match currently ends
        while si < ls:
            if ti < n:
                tok = toks[ti]
                if tok is _STAR:
                    star, mark = ti, si
                    ti += 1
                    continue
                if s[si] in tok:
                    ti += 1
                    si += 1
                    continue
            if star < 0:
                return False
            mark += 1
            si, ti = mark, star + 1
        while ti < n and toks[ti] is _STAR:
            ti += 1
        return ti == n


def _tokenize(p: bytes) -> list:
    """Tokens: _STAR, or the frozenset of bytes one position may hold."""
    toks: list = []
    i, n = 0, len(p)
    while i < n:
        c = p[i]
        if c == 0x2A:  # '*'; consecutive stars are one
            while i + 1 < n and p[i + 1] == 0x2A:
                i += 1
            toks.append(_STAR)
        elif c == 0x3F:  # '?'
            toks.append(_ANY)
        elif c == 0x5B:  # '['
            i, tok = _char_class(p, i + 1)
            toks.append(tok)
        else:
            if c == 0x5C and i + 1 < n:  # '\' escapes the next byte
                i += 1
                c = p[i]
            toks.append(frozenset((c,)))
        i += 1
    return toks


def _char_class(p: bytes, i: int) -> tuple[int, frozenset]:
    """Parse a set starting after '['; returns (index of its last byte, token)."""
    n = len(p)
    negate = i < n and p[i] == 0x5E  # '^'
    if negate:
        i += 1
    chars: set[int] = set()
    while True:
        if i < n and p[i] == 0x5C and n - i >= 2:
            i += 1
            chars.add(p[i])
        elif i < n and p[i] == 0x5D:  # ']'
            break
        elif i >= n:  # unterminated: the set ends with the pattern
            i -= 1
            break
        elif n - i >= 3 and p[i + 1] == 0x2D:  # 'a-z' (either order)
            # Redis compares C chars, which are signed: bytes >= 0x80 sort before 'a'.
            lo, hi = sorted((_signed(p[i]), _signed(p[i + 2])))
            chars.update(c & 0xFF for c in range(lo, hi + 1))
            i += 2
        else:
            chars.add(p[i])
        i += 1
    return i, frozenset(_ANY - chars if negate else chars)


def compile_pattern(pattern: bytes) -> Glob | None:
    """The compiled pattern, or None for ``*`` (which Redis treats as "no filter")."""
    return None if pattern == b"*" else Glob(pattern)


def _signed(c: int) -> int:
    return c - 256 if c > 127 else c
