"""Randomized differential testing of hashes and sets against Redis 7.0.

A seeded generator sends thousands of random hash/set commands, mixed with DEL,
EXPIRE (long TTLs), SET over the same keys and the store commands, to pikamp
and redis-server over a small key space, and compares every reply: byte for
byte, or as unordered collections where Redis's order is unspecified, or by
properties where the reply is random (HRANDFIELD, SRANDMEMBER, SPOP; after an
SPOP the reference server is brought back in step with pikamp). The whole
state is compared every few hundred commands.

Reproduce a failure with PIKAMP_RANDOM_SEED=<seed printed in the failure>.
"""
from __future__ import annotations

import os
import random
from collections import deque

from resp_client import parse

COMMANDS_PER_PROTOCOL = 12_000
CHECK_STATE_EVERY = 400

HASH_KEYS = ["h0", "h1", "h2"]
SET_KEYS = ["s0", "s1", "s2"]
KEYS = HASH_KEYS + SET_KEYS
FIELDS = ["f0", "f1", "f2", "f3", "f4", "f5", ""]
MEMBERS = ["a", "b", "c", "d", "1", "2", "10", "-3", ""]  # at most 9: SSCAN returns all in one call
VALUES = ["v", "1", "-2", "10", "0", "1.5", "", "x" * 70, "9223372036854775807", "1e3", "abc"]
INCRS = ["1", "-1", "5", "100", "9223372036854775807", "-9223372036854775808", "x", "1.5"]
FLOAT_INCRS = ["0.1", "-0.1", "1.5", "1e3", "3", "-2.5e-3", "1e300", "abc", "inf", "0x10"]
PATTERNS = ["*", "f*", "?", "[ab]*", "*1*", "[^a]", "f[0-2]"]
COUNTS = ["0", "1", "2", "3", "5", "20", "-1", "-3", "-20"]


def _empty(reply) -> bool:
    return reply is None or reply == []


def _elements(reply) -> list:
    """Members of a parsed array (RESP2) or set (RESP3) reply."""
    return reply[1] if isinstance(reply, tuple) else reply


def _pairs(reply) -> list:
    """(field, value) pairs of a parsed HGETALL: RESP3 map or RESP2 flat array."""
    return reply[1] if isinstance(reply, tuple) else list(zip(reply[::2], reply[1::2]))


def _seed() -> int:
    env = os.environ.get("PIKAMP_RANDOM_SEED")
    return int(env) if env else random.randrange(1 << 32)


class Generator:
    """Random commands over the small key space; each with how to compare its reply."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, pool, lo: int = 1, hi: int = 3) -> list[str]:
        return [self.rng.choice(pool) for _ in range(self.rng.randint(lo, hi))]

    def key(self) -> str:
        return self.rng.choice(KEYS)

    def hkey(self) -> str:
        """Mostly a key used for hashes; sometimes any key (WRONGTYPE paths)."""
        return self.rng.choice(HASH_KEYS if self.rng.random() < 0.9 else KEYS)

    def skey(self) -> str:
        return self.rng.choice(SET_KEYS if self.rng.random() < 0.9 else KEYS)

    def skeys(self, lo: int, hi: int) -> list[str]:
        return [self.skey() for _ in range(self.rng.randint(lo, hi))]

    def next(self) -> tuple[str, tuple]:
        """-> (comparison kind, command args)."""
        _, kind, make = self.rng.choices(MENU, weights=WEIGHTS)[0]
        return kind, make(self)

    def hset_args(self):
        n = self.rng.randint(1, 3)
        args = [x for _ in range(n) for x in (self.rng.choice(FIELDS), self.rng.choice(VALUES))]
        if self.rng.random() < 0.03:
            args = args[:-1]  # odd count: arity error
        return (self.rng.choice(["HSET", "HMSET"]), self.hkey(), *args)

    def scan_args(self, cmd: str):
        args = [cmd, self.hkey() if cmd == "HSCAN" else self.skey(), "0"]
        if self.rng.random() < 0.5:
            args += ["MATCH", self.rng.choice(PATTERNS)]
        if self.rng.random() < 0.2:
            args += ["COUNT", self.rng.choice(["10", "100", "0"])]
        return tuple(args)

    def random_read_args(self):
        cmd = self.rng.choice(["HRANDFIELD", "SRANDMEMBER"])
        args = [cmd, self.hkey() if cmd == "HRANDFIELD" else self.skey()]
        if self.rng.random() < 0.8:
            args.append(self.rng.choice(COUNTS))
            if cmd == "HRANDFIELD" and self.rng.random() < 0.4:
                args.append("WITHVALUES")
        return tuple(args)

    def spop_args(self):
        args = ["SPOP", self.skey()]
        if self.rng.random() < 0.6:
            args.append(self.rng.choice(["0", "1", "2", "3", "20", "-1"]))
        return tuple(args)

    def store_args(self):
        op = self.rng.choice(["SUNIONSTORE", "SINTERSTORE", "SDIFFSTORE"])
        return (op, self.skey(), *self.skeys(1, 3))

    def sintercard_args(self):
        keys = self.skeys(1, 3)
        args = ["SINTERCARD", str(len(keys)), *keys]
        if self.rng.random() < 0.4:
            args += ["LIMIT", self.rng.choice(["0", "1", "2", "-1"])]
        return tuple(args)


# (weight, how to compare the reply, command maker)
MENU = (
    (12, "exact", Generator.hset_args),
    (3, "exact", lambda g: ("HSETNX", g.hkey(), g.rng.choice(FIELDS), g.rng.choice(VALUES))),
    (6, "exact", lambda g: ("HGET", g.hkey(), g.rng.choice(FIELDS))),
    (2, "exact", lambda g: ("HMGET", g.hkey(), *g.pick(FIELDS))),
    (5, "exact", lambda g: ("HDEL", g.hkey(), *g.pick(FIELDS))),
    (2, "exact", lambda g: ("HLEN", g.hkey())),
    (1, "exact", lambda g: ("HSTRLEN", g.hkey(), g.rng.choice(FIELDS))),
    (1, "exact", lambda g: ("HEXISTS", g.hkey(), g.rng.choice(FIELDS))),
    (4, "exact", lambda g: ("HINCRBY", g.hkey(), g.rng.choice(FIELDS), g.rng.choice(INCRS))),
    (4, "exact", lambda g: ("HINCRBYFLOAT", g.hkey(), g.rng.choice(FIELDS), g.rng.choice(FLOAT_INCRS))),
    (2, "unordered", lambda g: (g.rng.choice(["HKEYS", "HVALS", "HGETALL"]), g.hkey())),
    (2, "unordered", lambda g: g.scan_args("HSCAN")),
    (12, "exact", lambda g: ("SADD", g.skey(), *g.pick(MEMBERS))),
    (5, "exact", lambda g: ("SREM", g.skey(), *g.pick(MEMBERS))),
    (2, "exact", lambda g: ("SCARD", g.skey())),
    (2, "exact", lambda g: ("SISMEMBER", g.skey(), g.rng.choice(MEMBERS))),
    (1, "exact", lambda g: ("SMISMEMBER", g.skey(), *g.pick(MEMBERS))),
    (2, "unordered", lambda g: ("SMEMBERS", g.skey())),
    (3, "exact", lambda g: ("SMOVE", g.skey(), g.skey(), g.rng.choice(MEMBERS))),
    (4, "unordered", lambda g: (g.rng.choice(["SUNION", "SINTER", "SDIFF"]), *g.skeys(1, 3))),
    (3, "exact", Generator.store_args),
    (2, "exact", Generator.sintercard_args),
    (2, "unordered", lambda g: g.scan_args("SSCAN")),
    (4, "random", Generator.random_read_args),
    (3, "spop", Generator.spop_args),
    (3, "exact", lambda g: ("DEL", *g.pick(KEYS, 1, 2))),
    (2, "exact", lambda g: ("EXPIRE", g.key(), str(g.rng.randint(1000, 100000)))),
    (1, "exact", lambda g: ("SET", g.key(), g.rng.choice(VALUES))),
    (1, "exact", lambda g: ("TYPE", g.key())),
    (1, "exact", lambda g: ("EXISTS", *g.pick(KEYS))),
)
WEIGHTS = [w for w, _, _ in MENU]


class Checker:
    """Runs commands on both servers and compares them, keeping a trail for failures."""

    def __init__(self, diff, seed: int) -> None:
        self.diff = diff
        self.seed = seed
        self.trail: deque = deque(maxlen=25)

    def fail(self, message: str) -> None:
        trail = "\n".join(f"  {cmd!r}" for cmd in self.trail)
        raise AssertionError(f"seed={self.seed} RESP{self.diff.proto}: {message}\nlast commands:\n{trail}")

    def run(self, kind: str, args: tuple) -> None:
        self.trail.append(args)
        try:
            if kind == "exact":
                self.diff(*args)
            elif kind == "unordered":
                self.diff(*args, unordered=True)
            elif kind == "random":
                self.random_read(args)
            else:
                self.spop(args)
        except AssertionError as e:
            self.fail(str(e))

    def random_read(self, args: tuple) -> None:
        a, b = self.diff.both(*args)
        got, ref = parse(a), parse(b)
        if a[:1] == b"-" or b[:1] == b"-" or _empty(got) or _empty(ref):  # errors, nulls, empty arrays
            assert a == b, f"{a!r} != {b!r}"
            return
        assert a[:1] == b[:1], f"shape: {a!r} vs {b!r}"
        content = self.content(args[1])
        if len(args) == 2:
            assert got in content, f"{got!r} not in {content!r}"
            return
        count = int(args[2])
        assert len(got) == len(ref), f"shape: {a!r} vs {b!r}"
        if len(args) == 4:  # HRANDFIELD ... WITHVALUES
            pairs = got if self.diff.proto == 3 else list(zip(got[::2], got[1::2]))
            assert all(content.get(f) == v for f, v in pairs), f"{pairs!r} vs {content!r}"
            picked = [f for f, _ in pairs]
        else:
            picked = got
            assert set(picked) <= set(content), f"{picked!r} not in {content!r}"
        if count > 0:
            assert len(set(picked)) == len(picked) == min(count, len(content)), f"{picked!r}"
        else:
            assert len(picked) == -count, f"{picked!r}"

    def content(self, key: str) -> dict:
        """pikamp's current hash (field -> value) or set (member -> None) at ``key``."""
        p = self.diff.p
        if parse(p.call("TYPE", key))[1] == b"hash":
            return dict(_pairs(parse(p.call("HGETALL", key))))
        return dict.fromkeys(_elements(parse(p.call("SMEMBERS", key))))

    def spop(self, args: tuple) -> None:
        key = args[1]
        is_set = parse(self.diff.p.call("TYPE", key))[1] == b"set"
        size = parse(self.diff.p.call("SCARD", key)) if is_set else 0
        a, b = self.diff.both(*args)
        if a[:1] == b"-" or size == 0 or (len(args) == 3 and args[2] == "0"):
            assert a == b, f"{a!r} != {b!r}"
            return
        got, ref = parse(a), parse(b)
        if len(args) == 2:
            got, ref = [got], [ref]
        else:
            got, ref = _elements(got), _elements(ref)
        assert a[:1] == b[:1], f"shape: {a!r} vs {b!r}"
        count = min(size, int(args[2]) if len(args) == 3 else 1)
        assert len(got) == len(ref) == len(set(got)) == count, f"{a!r} vs {b!r}"
        if count == size:
            assert sorted(got) == sorted(ref), f"{a!r} vs {b!r}"
            return
        # Bring the reference in step: it must lose what pikamp lost.
        self.diff.r.call("SADD", key, *ref)
        self.diff.r.call("SREM", key, *got)

    def check_state(self) -> None:
        self.trail.append(("<state check>",))
        try:
            self.diff("DBSIZE")
            for key in KEYS:
                kind = self.diff("TYPE", key)
                if kind == b"+hash\r\n":
                    self.diff("HGETALL", key, unordered=True)
                elif kind == b"+set\r\n":
                    self.diff("SMEMBERS", key, unordered=True)
                elif kind == b"+string\r\n":
                    self.diff("GET", key)
        except AssertionError as e:
            self.fail(str(e))


def test_random_hash_and_set_commands_match_redis(diff):
    seed = _seed()
    rng = random.Random(seed * 2 + diff.proto)
    gen = Generator(rng)
    check = Checker(diff, seed)
    for i in range(1, COMMANDS_PER_PROTOCOL + 1):
        check.run(*gen.next())
        if i % CHECK_STATE_EVERY == 0:
            check.check_state()
    check.check_state()
