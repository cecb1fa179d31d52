"""The command table is checked, not trusted: for every command both servers
have, COMMAND INFO's arity, flags, key positions and ACL categories are
Redis 7.0's (and of each subcommand pikamp has), and COMMAND GETKEYS agrees.
Flags come from a fixed set, checked when the table is built."""
from __future__ import annotations

import pytest

from resp_client import RawConn, parse
from pikamp.commands.table import command

# Pika's own commands, which Redis does not have.
PIKA_ONLY = {b"pksetexat", b"delvx", b"hscanx", b"pkhscanrange", b"pkhrscanrange", b"compact", b"diskrecovery",
             b"pkscanrange", b"pkrscanrange", b"scanx", b"pkpatternmatchdel", b"delbackup",
             b"purgelogsto"}


def _plain(v):
    """RESP3 sets and statuses come back as (kind, value) tuples: compare values."""
    if isinstance(v, tuple):
        return _plain(v[1])
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _entries(conn: RawConn) -> dict[bytes, list]:
    return {e[0]: e for e in _plain(parse(conn.call("COMMAND")))}


@pytest.fixture(scope="module")
def tables(pikamp_server, redis_server):
    p, r = RawConn(pikamp_server.port), RawConn(redis_server.port)
    try:
        yield _entries(p), _entries(r)
    finally:
        p.close()
        r.close()


def _compare(name: bytes, mine: list, ref: list) -> list[str]:
    problems = []
    if mine[1] != ref[1]:
        problems.append(f"{name!r} arity {mine[1]} != {ref[1]}")
    if sorted(mine[2]) != sorted(ref[2]):
        problems.append(f"{name!r} flags {mine[2]} != {ref[2]}")
    if mine[3:6] != ref[3:6]:
        problems.append(f"{name!r} keys {mine[3:6]} != {ref[3:6]}")
    if sorted(mine[6]) != sorted(ref[6]):
        problems.append(f"{name!r} ACL categories {mine[6]} != {ref[6]}")
    ref_subs = {s[0]: s for s in ref[9]} if len(ref) > 9 else {}
    for sub in (mine[9] if len(mine) > 9 else []):
        if sub[0] in ref_subs:
            problems += _compare(sub[0], sub, ref_subs[sub[0]])
        else:
            problems.append(f"{sub[0]!r}: a subcommand Redis does not have")
    return problems


def test_every_command_matches_redis(tables):
    mine, ref = tables
    assert set(mine) - set(ref) <= PIKA_ONLY, sorted(set(mine) - set(ref) - PIKA_ONLY)
    problems = [p for name in sorted(set(mine) & set(ref)) for p in _compare(name, mine[name], ref[name])
                if p != "b'slaveof' arity -3 != 3"]  # Pika's SLAVEOF host port force
    assert not problems, "\n".join(problems)


GETKEYS = [
    ("SET", "k", "v"), ("MSET", "a", "1", "b", "2"), ("ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"),
    ("BLMPOP", "0", "2", "a", "b", "LEFT"), ("LMPOP", "2", "a", "b", "LEFT"), ("RENAME", "a", "b"),
    ("SINTERCARD", "2", "a", "b"), ("GET",), ("COPY", "a", "b", "DB", "1"), ("NOSUCH", "a"),
]


def test_command_getkeys_matches_redis(diff):
    for args in GETKEYS:
        diff("COMMAND", "GETKEYS", *args, unordered=True)


def test_flags_are_checked_when_the_table_is_built():
    with pytest.raises(ValueError, match="unknown flags"):
        command("__typo_check", 1, "readonly fsat", internal=True)(lambda ctx, args: None)
    with pytest.raises(ValueError, match="unknown ACL categories"):
        command("__typo_check", 1, "readonly", internal=True, categories="@raed")(lambda ctx, args: None)


def _specs_access(entry: list) -> list[int]:
    """A COMMAND INFO entry's key specs as the READ/WRITE bits each needs (ACL)."""
    from pikamp import acl

    out = []
    for spec in entry[8]:
        flags = {f.lower() for f in _plain(dict(zip(spec[0::2], spec[1::2]))[b"flags"])}
        out.append((acl.READ if b"access" in flags else 0)
                   | (acl.WRITE if flags & {b"insert", b"delete", b"update"} else 0))
    return out


def test_acl_key_access_matches_redis_key_specs(tables):
    """What a %R~ / %W~ key pattern lets through follows Redis' key specs: the
    first key's access, then the others' (the table carries one spec shape)."""
    from pikamp import acl
    from pikamp.commands import load_all
    from pikamp.commands.table import COMMANDS

    load_all()
    mine, ref = tables
    problems = []
    for name in sorted(set(mine) & set(ref)):
        cmd = COMMANDS[name]
        entries = [(cmd, ref[name])] + [(s, r) for s in cmd.subcommands.values() for r in ref[name][9]
                                        if r[0] == s.name.encode()]
        for c, entry in entries:
            specs = _specs_access(entry)
            if not specs or c.name == "set" or c.key_finder is not None:  # variable: checked below
                continue
            # Enough arguments for every key position (keys, numkeys of 2).
            args = [c.name.encode()] + [b"2"] * 12
            got = [perms for _, perms in acl.key_positions(c, args)]
            want = [specs[0]] + [specs[-1]] * (len(got) - 1)
            if got[:1] != want[:1] or (len(specs) > 1 and got[1:2] != [specs[1]]) or \
                    (len(specs) == 1 and set(got) != {specs[0]}):
                problems.append(f"{c.name}: {got} != Redis' {specs}")
    assert not problems, "\n".join(problems)
    # SORT: the sorted key is read, STORE's destination written (Redis' BY /
    # GET specs are "unknown": keys made from the data, not named in the line).
    assert acl.key_positions(COMMANDS[b"sort"], [b"sort", b"k", b"BY", b"x", b"STORE", b"d"]) == [
        (1, acl.READ), (5, acl.WRITE)]
    assert acl.key_positions(COMMANDS[b"sort_ro"], [b"sort_ro", b"k", b"GET", b"x"]) == [(1, acl.READ)]
    set_cmd = COMMANDS[b"set"]
    assert acl.key_positions(set_cmd, [b"set", b"k", b"v"]) == [(1, acl.WRITE)]
    assert acl.key_positions(set_cmd, [b"set", b"k", b"v", b"GET"]) == [(1, acl.READ | acl.WRITE)]
