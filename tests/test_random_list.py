"""Randomised differential test of the list commands: a seeded generator sends
the same tens of thousands of commands (pipelined in random batches) to pikamp
and redis-server over a small key space and compares every reply byte for byte.

Reproduce a failure with PIKAMP_RANDOM_SEED=<seed printed in the message>.
"""
from __future__ import annotations

import os
import random

from resp_client import encode_command

COMMANDS_PER_PROTOCOL = 20_000
KEYS = [f"k{i}" for i in range(6)]
VALUES = ["a", "b", "c", "d", "", "\x00x"]
BLOCKING = {"BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BLMPOP"}


def _seed() -> int:
    env = os.environ.get("PIKAMP_RANDOM_SEED")
    return int(env) if env else random.SystemRandom().randrange(2**32)


class ListCommandGenerator:
    """Random list commands, with DEL, SET (type changes) and EXPIRE mixed in."""

    def __init__(self, rng: random.Random, with_expire: bool) -> None:
        self.rng = rng
        weighted = [
            (self.push, 14), (self.pushx, 3), (self.pop, 10), (self.read, 12), (self.lset, 3),
            (self.ltrim, 2), (self.linsert, 4), (self.lrem, 4), (self.lpos, 5), (self.move, 5),
            (self.lmpop, 3), (self.bulk_push, 1), (self.keyspace, 3), (self.blocking, 1),
        ]
        if with_expire:
            weighted.append((self.expire, 1))
        self.makers = [m for m, w in weighted for _ in range(w)]

    def key(self) -> str:
        return self.rng.choice(KEYS)

    def value(self) -> str:
        return self.rng.choice(VALUES)

    def index(self) -> str:
        return str(self.rng.randint(-12, 12))

    def end(self) -> str:
        return self.rng.choice(["LEFT", "RIGHT", "left", "Right"])

    def next(self) -> tuple[str, ...]:
        return self.rng.choice(self.makers)()

    # -- makers --------------------------------------------------------------
    def push(self):
        return (self.rng.choice(["LPUSH", "RPUSH"]), self.key(),
                *[self.value() for _ in range(self.rng.randint(1, 4))])

    def pushx(self):
        return (self.rng.choice(["LPUSHX", "RPUSHX"]), self.key(), self.value())

    def bulk_push(self):
        return ("RPUSH", self.key(), *[self.value() for _ in range(self.rng.randint(17, 60))])

    def pop(self):
        cmd = (self.rng.choice(["LPOP", "RPOP"]), self.key())
        r = self.rng.random()
        if r < 0.3:
            return cmd + (str(self.rng.randint(0, 25)),)
        if r < 0.33:
            return cmd + (self.rng.choice(["-1", "x"]),)
        return cmd

    def read(self):
        r = self.rng.random()
        if r < 0.3:
            return ("LRANGE", self.key(), self.index(), self.index())
        if r < 0.45:
            return ("LRANGE", self.key(), "0", "-1")
        if r < 0.75:
            return ("LINDEX", self.key(), self.index())
        return ("LLEN", self.key())

    def lset(self):
        return ("LSET", self.key(), self.index(), self.value())

    def ltrim(self):
        return ("LTRIM", self.key(), str(self.rng.randint(-3, 3)), str(self.rng.randint(-3, 40)))

    def linsert(self):
        return ("LINSERT", self.key(), self.rng.choice(["BEFORE", "AFTER"]), self.value(), self.value())

    def lrem(self):
        return ("LREM", self.key(), str(self.rng.randint(-3, 3)), self.value())

    def lpos(self):
        cmd: tuple[str, ...] = ("LPOS", self.key(), self.value())
        if self.rng.random() < 0.5:
            cmd += ("RANK", str(self.rng.choice([-3, -2, -1, 1, 2, 3])))
        if self.rng.random() < 0.5:
            cmd += ("COUNT", str(self.rng.randint(0, 4)))
        if self.rng.random() < 0.3:
            cmd += ("MAXLEN", str(self.rng.randint(0, 8)))
        return cmd

    def move(self):
        if self.rng.random() < 0.3:
            return ("RPOPLPUSH", self.key(), self.key())
        return ("LMOVE", self.key(), self.key(), self.end(), self.end())

    def lmpop(self):
        keys = self.rng.sample(KEYS, self.rng.randint(1, 3))
        cmd = ("LMPOP", str(len(keys)), *keys, self.end())
        if self.rng.random() < 0.5:
            cmd += ("COUNT", str(self.rng.randint(1, 6)))
        return cmd

    def keyspace(self):
        r = self.rng.random()
        if r < 0.35:
            return ("DEL", self.key())
        if r < 0.6:
            return ("SET", self.key(), self.value())
        if r < 0.8:
            return ("TYPE", self.key())
        if r < 0.9:
            return ("EXISTS", *self.rng.sample(KEYS, 2))
        return ("DBSIZE",)

    def expire(self):
        return ("EXPIRE", self.key(), str(self.rng.randint(10_000, 100_000)))

    def blocking(self):
        """Sent alone: a blocked command holds up the rest of Redis's pipeline."""
        r = self.rng.random()
        if r < 0.3:
            return (self.rng.choice(["BLPOP", "BRPOP"]), *self.rng.sample(KEYS, 2), "0.01")
        if r < 0.55:
            return ("BLMOVE", self.key(), self.key(), self.end(), self.end(), "0.01")
        if r < 0.7:
            return ("BRPOPLPUSH", self.key(), self.key(), "0.01")
        return ("BLMPOP", "0.01", "2", *self.rng.sample(KEYS, 2), self.end(), "COUNT", "2")


def _supports_expire(diff) -> bool:
    return not diff.p.call("EXPIRE", "nokey", "100").startswith(b"-ERR unknown command")


def _exchange(diff, batch: list[tuple[str, ...]]) -> list[tuple[bytes, bytes]]:
    payload = b"".join(encode_command(c) for c in batch)
    diff.p.send_raw(payload)
    diff.r.send_raw(payload)
    return [(diff.p.read_reply(), diff.r.read_reply()) for _ in batch]


def test_random_list_commands_match_redis(diff):
    seed = _seed()
    rng = random.Random(seed)
    gen = ListCommandGenerator(rng, _supports_expire(diff))
    sent = 0
    history: list[tuple[str, ...]] = []
    while sent < COMMANDS_PER_PROTOCOL:
        first = gen.next()
        batch = [first]
        size = rng.randint(1, 40)
        while first[0] not in BLOCKING and len(batch) < size:
            cmd = gen.next()
            if cmd[0] in BLOCKING:
                break  # dropped: it would have to go alone
            batch.append(cmd)
        for cmd, (mine, theirs) in zip(batch, _exchange(diff, batch)):
            history.append(cmd)
            assert mine == theirs, (
                f"seed {seed} (PIKAMP_RANDOM_SEED={seed}), RESP{diff.proto}, command #{len(history)} {cmd!r}:\n"
                f"  pikamp: {mine!r}\n  redis:  {theirs!r}\n  last commands: {history[-12:]!r}")
        sent += len(batch)
    for key in KEYS:
        mine, theirs = _exchange(diff, [("LRANGE", key, "0", "-1")])[0]
        assert mine == theirs, f"seed {seed}: final contents of {key}"
