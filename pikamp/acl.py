"""Users and their permissions (Redis 7.0's ACL): rules, checks, descriptions.

A user has flags (on/off, nopass, payload sanitizing), SHA-256 password
hashes and selectors: the root one, then any ``(...)`` ones. A selector
allows commands (a set of full names: ``get``, ``config|get``; "first args"
for commands without subcommands: ``+select|0``), keys (``~pat`` read and
write, ``%R~`` / ``%W~``) and pub/sub channels (``&pat``). A command runs if
some selector allows the command, each of its keys and each of its channels.

This module holds no server state: each worker keeps a ``Registry`` (all
workers hold the same one; commands/acl.py keeps them equal), the ACL log
lives in worker 0. Descriptions are Redis 7.0's: ``-@all``/``+@all``, then the
categories that fit best, then single commands, so what ACL LIST prints reads
back (ACL SETUSER, an ACL file) into exactly the same permissions.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from pikamp.commands.table import COMMANDS, Command
from pikamp.glob import Glob
from pikamp.numbers import c_word

READ, WRITE = 1, 2
ALL_PERMS = READ | WRITE

# Check results, ordered as Redis orders them when it picks one to report.
OK, DENIED_CMD, DENIED_KEY, DENIED_AUTH, DENIED_CHANNEL = 0, 1, 2, 3, 4
REASONS = {DENIED_CMD: "command", DENIED_KEY: "key", DENIED_AUTH: "auth", DENIED_CHANNEL: "channel"}

# Redis' categories, in the order ACL CAT lists them (and the best fit tries them).
CATEGORY_NAMES = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
    "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
    "transaction", "scripting",
)

# ACL SETUSER's error texts (Redis' ACLSetUserStringError), by cause.
UNKNOWN = "Unknown command or category name in ACL"
SYNTAX = "Syntax error"
KEYS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have "
                  "any effect. Try 'resetkeys' to start with an empty list of patterns")
CHANNELS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does "
                      "not have any effect. Try 'resetchannels' to start with an empty list of channels")
NO_SUCH_PASSWORD = "The password you are trying to remove from the user does not exist"
BAD_HASH = "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
SUBCOMMAND_FIRST_ARG = "Allowing first-arg of a subcommand is not supported"

NOPERM_CMD = "NOPERM this user has no permissions to run the '%s' command"
NOPERM_KEY = "NOPERM this user has no permissions to access one of the keys used as arguments"
NOPERM_CHANNEL = "NOPERM this user has no permissions to access one of the channels used as arguments"

# Key access that does not follow from the command's read/write flag (Redis
# 7.0's key specs): (first key, the keys after it). R: the value is read; W:
# written; "": neither (EXISTS, TYPE: any key pattern will do).
_KEY_ACCESS = {
    "append": ("W", "W"), "bitop": ("W", "R"), "blmove": ("RW", "W"), "brpoplpush": ("RW", "W"),
    "copy": ("R", "W"), "del": ("W", "W"), "exists": ("", ""), "expire": ("W", "W"), "expireat": ("W", "W"),
    "geoadd": ("W", "W"), "pfdebug": ("R", "R"), "georadius": ("R", "W"), "georadiusbymember": ("R", "W"), "geosearchstore": ("W", "R"),
    "hdel": ("W", "W"), "hexists": ("", ""), "hlen": ("", ""), "hmset": ("W", "W"), "hset": ("W", "W"),
    "hsetnx": ("W", "W"), "hstrlen": ("", ""), "linsert": ("W", "W"), "llen": ("", ""),
    "lmove": ("RW", "W"), "lpush": ("W", "W"), "lpushx": ("W", "W"), "lrem": ("W", "W"), "lset": ("W", "W"),
    "ltrim": ("W", "W"), "memory|usage": ("", ""), "mset": ("W", "W"), "msetnx": ("W", "W"),
    "object|encoding": ("", ""), "object|freq": ("", ""), "object|idletime": ("", ""),
    "object|refcount": ("", ""), "persist": ("W", "W"), "pexpire": ("W", "W"), "pexpireat": ("W", "W"),
    "pfadd": ("W", "W"), "pfmerge": ("RW", "R"),
    "psetex": ("W", "W"), "rename": ("RW", "W"), "renamenx": ("RW", "W"), "restore": ("W", "W"),
    "rpoplpush": ("RW", "W"),
    "rpush": ("W", "W"), "rpushx": ("W", "W"), "sadd": ("W", "W"), "scard": ("", ""),
    "sdiffstore": ("W", "R"), "setex": ("W", "W"), "setnx": ("W", "W"), "setrange": ("W", "W"),
    "sinterstore": ("W", "R"), "sismember": ("", ""), "sort": ("R", "W"), "smove": ("RW", "W"), "srem": ("W", "W"),
    "strlen": ("", ""), "sunionstore": ("W", "R"), "touch": ("", ""), "type": ("", ""), "unlink": ("W", "W"),
    "watch": ("", ""), "zadd": ("W", "W"), "zcard": ("", ""), "zdiffstore": ("W", "R"),
    "zinterstore": ("W", "R"), "zrangestore": ("W", "R"), "zrem": ("W", "W"), "zremrangebylex": ("W", "W"),
    "zremrangebyrank": ("W", "W"), "zremrangebyscore": ("W", "W"), "zunionstore": ("W", "R"),
    # Pika's own: like their Redis counterparts.
    "pksetexat": ("W", "W"), "delvx": ("W", "W"), "pkpatternmatchdel": ("W", "W"),
}
_PERM_BITS = {"": 0, "R": READ, "W": WRITE, "RW": ALL_PERMS}

# Commands whose arguments are channels: (first channel index, patterns?)
_CHANNELS = {"publish": (1, False), "spublish": (1, False), "subscribe": (1, False),
             "ssubscribe": (1, False), "psubscribe": (1, True)}


def hash_password(password: bytes) -> str:
    return hashlib.sha256(password).hexdigest()


def _universe() -> list[Command]:
    """Every command and subcommand a client can run, sorted by full name."""
    out: list[Command] = []
    for name in sorted(COMMANDS):
        cmd = COMMANDS[name]
        out.append(cmd)
        out += [cmd.subcommands[s] for s in sorted(cmd.subcommands)]
    return out


def _in_category(cmd: Command, category: str) -> bool:
    return "@" + category in cmd.acl_categories


def lookup_full(name: str) -> Command | None:
    """``get`` or ``config|get`` (lower case) -> the command, else None."""
    parent, _, sub = name.partition("|")
    cmd = COMMANDS.get(parent.encode("utf-8", "surrogateescape"))
    if cmd is None or not sub:
        return cmd
    if not cmd.subcommands:
        return None
    return cmd.subcommands.get(sub)


class AclError(Exception):
    """A rule ACL SETUSER (or a user line) refuses; the message is Redis'."""


class AclLinesError(AclError):
    """Lines of users (an ACL file) that do not load: every line's errors, in
    Redis' words, each ending with ". "."""


class Selector:
    """What a set of rules allows: commands, keys and channels."""

    __slots__ = ("allowed", "future", "firstargs", "allkeys", "patterns", "allchannels", "channels")

    def __init__(self, allchannels: bool = False) -> None:
        self.allowed: set[str] = set()  # full command names
        self.future = False  # +@all: commands added later are allowed too
        self.firstargs: dict[str, list[bytes]] = {}  # +select|0: command -> first args allowed
        self.allkeys = False
        self.patterns: list[list] = []  # [perm bits, pattern bytes, its Glob]
        self.allchannels = allchannels
        self.channels: list[bytes] = []

    def copy(self) -> "Selector":
        s = Selector()
        s.allowed = set(self.allowed)
        s.future = self.future
        s.firstargs = {k: list(v) for k, v in self.firstargs.items()}
        s.allkeys = self.allkeys
        s.patterns = [list(p) for p in self.patterns]
        s.allchannels = self.allchannels
        s.channels = list(self.channels)
        return s

    @property
    def all_commands(self) -> bool:
        return self.future and len(self.allowed) == len(_UNIVERSE_NAMES)

    # -- rules -----------------------------------------------------------------
    def apply(self, op: str) -> None:
        """One rule about commands, keys or channels; AclError if it is not one."""
        low = op.lower()
        if low in ("allkeys", "~*"):
            self.allkeys, self.patterns = True, []
        elif low == "resetkeys":
            self.allkeys, self.patterns = False, []
        elif low in ("allchannels", "&*"):
            self.allchannels, self.channels = True, []
        elif low == "resetchannels":
            self.allchannels, self.channels = False, []
        elif low in ("allcommands", "+@all"):
            self.future, self.allowed, self.firstargs = True, set(_UNIVERSE_NAMES), {}
        elif low in ("nocommands", "-@all"):
            self.future, self.allowed, self.firstargs = False, set(), {}
        elif op[:1] == "~" or op[:1] == "%":
            self._add_pattern(op)
        elif op[:1] == "&":
            if self.allchannels:
                raise AclError(CHANNELS_AFTER_ALL)
            channel = op[1:].encode("utf-8", "surrogateescape")
            if channel not in self.channels:
                self.channels.append(channel)
        elif op[:2] in ("+@", "-@"):
            category = low[2:]
            if category not in CATEGORY_NAMES:
                raise AclError(UNKNOWN)
            self._set_category(category, op[0] == "+")
        elif op[:1] == "+":
            self._allow(low[1:])
        elif op[:1] == "-":
            cmd = lookup_full(low[1:])
            if cmd is None:
                raise AclError(UNKNOWN)
            self._change(cmd, False)
        else:
            raise AclError(SYNTAX)

    def _add_pattern(self, op: str) -> None:
        if op[0] == "%":
            flags, sep, pattern = op[1:].partition("~")
            if not sep or not flags:
                raise AclError(SYNTAX)
            perms = 0
            for c in flags.upper():
                if c == "R":
                    perms |= READ
                elif c == "W":
                    perms |= WRITE
                else:
                    raise AclError(SYNTAX)
        else:
            perms, pattern = ALL_PERMS, op[1:]
        if self.allkeys:
            raise AclError(KEYS_AFTER_ALL)
        if pattern == "*" and perms == ALL_PERMS:
            self.allkeys, self.patterns = True, []
            return
        raw = pattern.encode("utf-8", "surrogateescape")
        for p in self.patterns:
            if p[1] == raw:
                p[0] |= perms
                return
        self.patterns.append([perms, raw, Glob(raw)])

    def _change(self, cmd: Command, allow: bool) -> None:
        """A command and its subcommands on or off; its first-arg rules go."""
        names = [cmd.name] + [s.name for s in cmd.subcommands.values()]
        if allow:
            self.allowed.update(names)
        else:
            self.allowed.difference_update(names)
        self.firstargs.pop(cmd.name, None)

    def _set_category(self, category: str, allow: bool) -> None:
        # A container in the category takes its subcommands along; each
        # subcommand in it counts on its own too (Redis' order: parent first).
        for cmd in _UNIVERSE:
            if _in_category(cmd, category):
                self._change(cmd, allow)

    def _allow(self, name: str) -> None:
        if "|" not in name:
            cmd = lookup_full(name)
            if cmd is None:
                raise AclError(UNKNOWN)
            self._change(cmd, True)
            return
        head, _, arg = name.rpartition("|")
        cmd = lookup_full(head)
        if cmd is None:
            raise AclError(UNKNOWN)
        if "|" in cmd.name:
            raise AclError(SUBCOMMAND_FIRST_ARG)
        if not arg:
            raise AclError(SYNTAX)
        if cmd.subcommands:
            sub = cmd.subcommands.get(arg)
            if sub is None:
                raise AclError(UNKNOWN)
            self._change(sub, True)
        else:  # +select|0: only with that first argument (Redis calls it a misuse, and keeps it)
            args = self.firstargs.setdefault(cmd.name, [])
            if arg.encode() not in args:
                args.append(arg.encode())

    # -- checks ----------------------------------------------------------------
    def check(self, cmd: Command, args: list[bytes]) -> tuple[int, int]:
        """(OK or why not, the argument position that was refused)."""
        if cmd.name not in self.allowed and "no_auth" not in cmd.flags:
            allowed = self.firstargs.get(cmd.name)
            at = 2 if "|" in cmd.name else 1
            if not allowed or len(args) <= at or args[at].lower() not in allowed:
                return DENIED_CMD, 0
        if not self.allkeys and (cmd.first_key or "movablekeys" in cmd.flags):
            for pos, perms in key_positions(cmd, args):
                if not self._key_ok(args[pos], perms):
                    return DENIED_KEY, pos
        if not self.allchannels:
            where = _CHANNELS.get(cmd.name)
            if where is not None:
                first, patterns = where
                last = 1 if cmd.name in ("publish", "spublish") else len(args) - 1
                for pos in range(first, last + 1):
                    if not channel_allowed(self.channels, args[pos], patterns):
                        return DENIED_CHANNEL, pos
        return OK, 0

    def _key_ok(self, key: bytes, perms: int) -> bool:
        for allowed, _, glob in self.patterns:
            if allowed & perms == perms and glob.match(key):
                return True
        return False

    # -- descriptions ------------------------------------------------------------
    def describe_commands(self) -> str:
        """The command rules, Redis 7.0's way: -@all or +@all, the categories
        that fit best, then the single commands that still differ."""
        fake = Selector()
        rules = ["+@all" if self.future else "-@all"]
        fake.apply(rules[0])
        temp = set(self.allowed)
        applied: set[str] = set()
        while True:
            best, mindiff, maxsame = None, None, 0
            for category in CATEGORY_NAMES:
                if category in applied:
                    continue
                on = off = 0
                for cmd in _UNIVERSE:
                    if _in_category(cmd, category):
                        if cmd.name in temp:
                            on += 1
                        else:
                            off += 1
                diff, same = (on, off) if self.future else (off, on)
                if same > diff and (mindiff is None or diff < mindiff or (diff == mindiff and same > maxsame)):
                    best, mindiff, maxsame = category, diff, same
            if best is None:
                break
            op = ("-@" if self.future else "+@") + best
            fake.apply(op)
            inverse = Selector()
            inverse.allowed = temp
            inverse.apply(("+@" if self.future else "-@") + best)
            temp = inverse.allowed
            rules.append(op)
            applied.add(best)
        for cmd in _UNIVERSE:
            mine, theirs = cmd.name in self.allowed, cmd.name in fake.allowed
            if mine != theirs:
                rules.append(("+" if mine else "-") + cmd.name)
                fake._change(cmd, mine)
            if not mine and cmd.name in self.firstargs:
                rules += [f"+{cmd.name}|{a.decode('latin-1')}" for a in self.firstargs[cmd.name]]
        return " ".join(rules)

    def describe_keys(self) -> str:
        if self.allkeys:
            return "~*"
        return " ".join(_pattern_text(p) for p in self.patterns)

    def describe_channels(self) -> str:
        if self.allchannels:
            return "&*"
        return " ".join("&" + c.decode("utf-8", "surrogateescape") for c in self.channels)

    def describe(self) -> str:
        """As ACL LIST writes it."""
        parts = []
        keys = self.describe_keys()
        if keys:
            parts.append(keys)
        if self.allchannels:
            parts.append("&*")
        else:
            parts.append("resetchannels")
            parts += ["&" + c.decode("utf-8", "surrogateescape") for c in self.channels]
        parts.append(self.describe_commands())
        return " ".join(parts)


def _pattern_text(p: list) -> str:
    perms, pattern, _ = p
    text = pattern.decode("utf-8", "surrogateescape")
    if perms == ALL_PERMS:
        return "~" + text
    return ("%R~" if perms == READ else "%W~") + text


def channel_allowed(channels: list[bytes], channel: bytes, is_pattern: bool) -> bool:
    """A channel against the allowed patterns; a pattern (PSUBSCRIBE) only
    if it is one of them, literally (as Redis)."""
    if is_pattern:
        return channel in channels
    return any(Glob(allowed).match(channel) for allowed in channels)


def key_positions(cmd: Command, args: list[bytes]) -> list[tuple[int, int]]:
    """(argument index, READ/WRITE bits it needs) for each key of the command."""
    positions = cmd.key_positions(args)
    access = _KEY_ACCESS.get(cmd.name)
    if access is None:
        default = "R" if "readonly" in cmd.flags else "RW" if "write" in cmd.flags else ""
        access = (default, default)
    first, rest = _PERM_BITS[access[0]], _PERM_BITS[access[1]]
    if cmd.name == "set":  # SET reads the old value only with GET (Redis' variable flags)
        first = ALL_PERMS if any(a.lower() == b"get" for a in args[3:]) else WRITE
    elif cmd.name == "bitfield":  # only reads with GETs alone (variable flags too)
        first = READ if _bitfield_reads_only(args) else ALL_PERMS
    return [(pos, first if i == 0 else rest) for i, pos in enumerate(positions)]


def _bitfield_reads_only(args: list[bytes]) -> bool:
    """Redis' bitfieldGetKeys: BITFIELD only reads when it has no SET or
    INCRBY; a syntax error counts as a write."""
    i, n = 2, len(args)
    while i < n:
        word, left = c_word(args[i]), n - i - 1
        if word == b"get" and left >= 2:
            i += 3
        elif word == b"overflow" and left >= 1:
            i += 2
        else:
            return False
    return True


class User:
    """One user: flags, password hashes and selectors (root first)."""

    __slots__ = ("name", "enabled", "nopass", "sanitize", "passwords", "selectors", "free")

    def __init__(self, name: str, allchannels: bool = False) -> None:
        self.name = name
        self.enabled = False
        self.nopass = False
        self.sanitize = ""  # "", "sanitize-payload" or "skip-sanitize-payload"
        self.passwords: list[str] = []
        self.selectors = [Selector(allchannels)]
        self.free = False  # may run anything: no check needed (the hot path)

    def copy_from(self, other: "User") -> None:
        """Take the other's rules, keeping this object (clients point at it)."""
        self.enabled, self.nopass, self.sanitize = other.enabled, other.nopass, other.sanitize
        self.passwords = list(other.passwords)
        self.selectors = [s.copy() for s in other.selectors]
        self.update()

    def clone(self) -> "User":
        u = User(self.name)
        u.copy_from(self)
        return u

    def update(self) -> None:
        root = self.selectors[0]
        self.free = root.all_commands and root.allkeys and root.allchannels

    # -- rules -----------------------------------------------------------------
    def apply(self, op: str, pubsub_default: bool) -> None:
        """One ACL SETUSER rule (a ``(...)`` selector is one rule)."""
        low = op.lower()
        if low == "on":
            self.enabled = True
        elif low == "off":
            self.enabled = False
        elif low in ("skip-sanitize-payload", "sanitize-payload"):
            self.sanitize = low
        elif low == "nopass":
            self.nopass, self.passwords = True, []
        elif low == "resetpass":
            self.nopass, self.passwords = False, []
        elif op[:1] == ">" or op[:1] == "#":
            digest = hash_password(op[1:].encode("utf-8", "surrogateescape")) if op[0] == ">" else op[1:]
            if op[0] == "#" and not _is_hash(digest):
                raise AclError(BAD_HASH)
            if digest not in self.passwords:
                self.passwords.append(digest)
            self.nopass = False
        elif op[:1] == "<" or op[:1] == "!":
            digest = hash_password(op[1:].encode("utf-8", "surrogateescape")) if op[0] == "<" else op[1:]
            if op[0] == "!" and not _is_hash(digest):
                raise AclError(BAD_HASH)
            if digest not in self.passwords:
                raise AclError(NO_SUCH_PASSWORD)
            self.passwords.remove(digest)
        elif op[:1] == "(" and op[-1:] == ")":
            selector = Selector(pubsub_default)
            for rule in op[1:-1].split():
                selector.apply(rule)
            self.selectors.append(selector)
        elif low == "clearselectors":
            del self.selectors[1:]
        elif low == "reset":
            self.nopass, self.passwords = False, []
            root = Selector(pubsub_default)
            self.selectors = [root]
            self.enabled = False
            self.sanitize = "sanitize-payload"
        else:
            self.selectors[0].apply(op)

    def check(self, cmd: Command, args: list[bytes]) -> tuple[int, int]:
        """(OK or why not, the argument refused) over all selectors, with the
        error Redis would pick: a command refused by all, else the key or
        channel the last selector to get furthest refused."""
        worst, where = DENIED_CMD, 0
        for selector in self.selectors:
            why, pos = selector.check(cmd, args)
            if why == OK:
                return OK, 0
            if why > worst or (why == worst and pos > where):
                worst, where = why, pos
        return worst, where

    def channel_ok(self, channel: bytes, is_pattern: bool) -> bool:
        """May this user (some selector of it) use ``channel`` (a PSUBSCRIBE pattern: literally)?"""
        return any(s.allchannels or channel_allowed(s.channels, channel, is_pattern) for s in self.selectors)

    def password_ok(self, password: bytes) -> bool:
        if self.nopass:
            return True
        digest = hash_password(password)
        return any(hmac.compare_digest(digest, p) for p in self.passwords)

    # -- descriptions --------------------------------------------------------------
    def flags(self) -> list[str]:
        out = ["on" if self.enabled else "off"]
        if self.nopass:
            out.append("nopass")
        if self.sanitize:
            out.append(self.sanitize)
        return out

    def describe(self) -> str:
        """The rules that make this user, as ACL LIST and an ACL file write them."""
        parts = self.flags() + ["#" + p for p in self.passwords] + [self.selectors[0].describe()]
        parts += ["(" + s.describe() + ")" for s in self.selectors[1:]]
        return " ".join(parts)


def _is_hash(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def merge_selectors(ops: list[str]) -> list[str]:
    """ACL SETUSER arguments with each ``(...)`` selector joined into one,
    as Redis reads them: ``(~a`` ``+get)`` is one selector."""
    out: list[str] = []
    i = 0
    while i < len(ops):
        op = ops[i]
        if op[:1] == "(" and op[-1:] != ")":
            j = i
            while j < len(ops) and ops[j][-1:] != ")":
                j += 1
            if j == len(ops):
                raise AclError(f"Unmatched parenthesis in acl selector starting at '{op}'.")
            out.append(" ".join(ops[i : j + 1]))
            i = j + 1
            continue
        out.append(op)
        i += 1
    return out


def valid_name(name: str) -> bool:
    return not any(c in name for c in " \0")


class Registry:
    """A worker's users, by name; "default" always exists."""

    def __init__(self, pubsub_default: bool = False) -> None:
        self.pubsub_default = pubsub_default  # acl-pubsub-default allchannels
        self.limit_from_userpass = False  # user "limit" is Pika's userpass user
        self.users: dict[str, User] = {}
        default = User("default")
        for op in ("on", "nopass", "~*", "&*", "+@all"):
            default.apply(op, True)
        default.update()
        self.users["default"] = default
        self.default = default

    def get(self, name: str) -> User | None:
        return self.users.get(name)

    def restricted(self, name: str) -> User | None:
        """The user a forwarded command names as restricted ("" : none, None
        back). A user deleted meanwhile may run nothing (Redis disconnects its
        clients; one still in flight here is refused)."""
        if not name:
            return None
        user = self.users.get(name)
        return user if user is not None else User(name)

    @property
    def open(self) -> bool:
        """A new connection is logged in as the default user (no password needed)."""
        return self.default.nopass and self.default.enabled

    def set_user(self, name: str, ops: list[str]) -> User:
        """ACL SETUSER name ops...: all of them or none (AclError for the first
        that fails, with its argument). Returns the (new) user."""
        if not valid_name(name):
            raise AclError("Usernames can't contain spaces or null characters")
        current = self.users.get(name)
        temp = current.clone() if current is not None else User(name, self.pubsub_default)
        for op in merge_selectors(ops):
            try:
                temp.apply(op, self.pubsub_default)
            except AclError as e:
                if str(e).startswith("Unmatched"):
                    raise
                raise AclError(f"Error in ACL SETUSER modifier '{op}': {e}") from None
        temp.update()
        if current is None:
            self.users[name] = temp
            return temp
        current.copy_from(temp)
        return current

    def delete(self, names: list[str]) -> int:
        gone = 0
        for name in names:
            if name == "default":
                raise AclError("The 'default' user cannot be removed")
        for name in dict.fromkeys(names):
            if self.users.pop(name, None) is not None:
                gone += 1
        return gone

    def set_default_password(self, password: str) -> None:
        """requirepass: the default user's only password (empty: nopass)."""
        self.default.apply("resetpass", self.pubsub_default)
        self.default.apply(">" + password if password else "nopass", self.pubsub_default)
        self.default.update()

    def lines(self) -> list[str]:
        """Every user as an ACL file line, sorted by name (as ACL LIST)."""
        return [f"user {name} {self.users[name].describe()}" for name in sorted(self.users)]

    def load_lines(self, lines: list[str], where: str = "") -> None:
        """Replace every user by ``user name rules...`` lines (an ACL file,
        the config's user lines, the state another worker sent). Users kept
        by name keep their objects. AclLinesError (nothing changed) if a line
        is bad, with Redis 7.0's ACL LOAD texts: every unknown command or
        category, else the first error of a line (later rules may depend on
        it, and its argument may be a password)."""
        fresh: dict[str, User] = {}
        errors: list[str] = []
        for n, line in enumerate(lines, 1):
            words = line.split()
            if not words:
                continue
            if words[0] != "user" or len(words) < 2:
                errors.append(f"{where}{n} should start with user keyword followed by the username. ")
                continue
            name = words[1]
            if not valid_name(name):
                errors.append(f"{where}{n}: username '{name}' contains invalid characters. ")
                continue
            if name in fresh:
                errors.append(f"WARNING: Duplicate user '{name}' found on line {n}. ")
                continue
            try:
                ops = merge_selectors(words[2:])
            except AclError as e:  # (redis-server 7.0.15 crashes on this one)
                errors.append(f"{where}{n}: {e} ")
                continue
            user = User(name, self.pubsub_default)
            first = True
            for op in ops:
                try:
                    user.apply(op, self.pubsub_default)
                except AclError as e:
                    if str(e) == UNKNOWN:
                        errors.append(f"{where}{n}: Error in applying operation '{op}': {e}. ")
                    elif first:
                        errors.append(f"{where}{n}: {e}. ")
                        first = False
            user.update()
            fresh[name] = user
        if errors:
            raise AclLinesError("".join(errors).rstrip())
        self.replace(fresh)

    def replace(self, fresh: dict[str, User]) -> None:
        if "default" not in fresh:
            d = Registry(self.pubsub_default).default
            fresh["default"] = d
        kept: dict[str, User] = {}
        for name, user in fresh.items():
            old = self.users.get(name)
            if old is not None:
                old.copy_from(user)
                kept[name] = old
            else:
                kept[name] = user
        self.users = kept
        self.default = kept["default"]


def genpass(bits: int) -> str:
    """ACL GENPASS: ``bits`` of randomness as lower-case hex."""
    chars = (bits + 3) // 4
    return secrets.token_hex((chars + 1) // 2)[:chars]


_UNIVERSE: list[Command] = []
_UNIVERSE_NAMES: frozenset[str] = frozenset()


def build() -> None:
    """Index the command table (once every command module is loaded)."""
    global _UNIVERSE, _UNIVERSE_NAMES
    _UNIVERSE = _universe()
    _UNIVERSE_NAMES = frozenset(c.name for c in _UNIVERSE)


class Log:
    """ACL LOG (kept by worker 0): the newest entry first; an entry like one
    of the last 10 within a minute counts up instead of adding one."""

    def __init__(self, max_len: int = 128) -> None:
        self.max_len = max_len
        self.entries: list[list] = []  # [count, reason, context, object, username, ms, client info]

    def add(self, reason: str, context: str, obj: bytes, username: bytes, ms: int, cinfo: bytes) -> None:
        for i, e in enumerate(self.entries[:10]):
            if e[1] == reason and e[2] == context and e[3] == obj and e[4] == username and ms - e[5] <= 60000:
                e[0] += 1
                e[5], e[6] = ms, cinfo
                self.entries.insert(0, self.entries.pop(i))
                return
        self.entries.insert(0, [1, reason, context, obj, username, ms, cinfo])
        del self.entries[self.max_len:]

    def reply(self, count: int | None) -> list[dict]:
        now = int(time.time() * 1000)
        shown = self.entries if count is None else self.entries[:count]
        return [{b"count": e[0], b"reason": e[1].encode(), b"context": e[2].encode(), b"object": e[3],
                 b"username": e[4], b"age-seconds": (now - e[5]) / 1000.0, b"client-info": e[6]}
                for e in shown]


# -- users from the configuration ------------------------------------------------
BOTH_SOURCES = ("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is "
                "invalid. This setup is very likely to lead to configuration errors and security holes, please "
                "define either an ACL file or declare users directly in your redis.conf, but not both.")
LIMIT_USER = "limit"  # Pika's user for userpass


def from_config(config) -> Registry:
    """The users a server starts with: requirepass (the default user's
    password), the config's ``user`` lines or the ACL file, then Pika's
    userpass user. AclError with the reason if they cannot be made."""
    registry = Registry(config.get("acl-pubsub-default") == "allchannels")
    if config.get("requirepass"):
        registry.set_default_password(config.get("requirepass"))
    lines = [line.strip() for line in config.get("user").split("\n") if line.strip()]
    path = config.get("aclfile")
    if lines and path:
        raise AclError(BOTH_SOURCES)
    if lines:
        add_config_users(registry, lines)
    elif path:
        registry.load_lines(read_acl_file(path), where=f"{path}:")
    apply_userpass(registry, config)
    return registry


def from_state(config, lines: list[str]) -> Registry:
    """The users as worker 0 last wrote them (a worker restarted while the
    server runs: the configuration's sources may have changed since)."""
    registry = Registry(config.get("acl-pubsub-default") == "allchannels")
    registry.load_lines(lines)
    password = config.get("userpass")
    registry.limit_from_userpass = bool(password) and password != config.get("requirepass")
    return registry


def add_config_users(registry: Registry, lines: list[str]) -> None:
    """``user`` lines of the config: each creates its user (the default user
    is reset first, as Redis does); AclError names the line that fails."""
    seen: set[str] = set()
    for line in lines:
        words = line.split()
        if words[0] == "user":  # Redis' own form, "user alice ...", read from a copied line
            words = words[1:]
        if not words:
            continue
        name = words[0]
        if name in seen:
            raise AclError(f"user {name}: Duplicate user found. A user can only be defined once in config files")
        seen.add(name)
        ops = (["reset"] if name == "default" else []) + words[1:]
        try:
            registry.set_user(name, ops)
        except AclError as e:
            raise AclError(f"user {name}: {e}") from None


def apply_userpass(registry: Registry, config) -> None:
    """Pika's userpass / userblacklist: user "limit" with that password, all
    commands but the blacklisted ones (none when userpass is empty or equals
    requirepass: then every client is an admin, as in Pika)."""
    password = config.get("userpass")
    if not password or password == config.get("requirepass"):
        if registry.limit_from_userpass and LIMIT_USER in registry.users:
            registry.delete([LIMIT_USER])
        registry.limit_from_userpass = False
        return
    ops = ["resetpass", "clearselectors", "on", ">" + password, "~*", "&*", "+@all"]
    for name in config.get("userblacklist").replace(",", " ").split():
        if lookup_full(name.lower()) is not None:
            ops.append("-" + name.lower())
    registry.set_user(LIMIT_USER, ops)
    registry.limit_from_userpass = True


def read_acl_file(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read().split("\n")
    except OSError as e:
        raise AclError(f"Error loading ACLs, opening file '{path}': {e.strerror or e}") from None


def write_acl_file(path: str, lines: list[str]) -> None:
    """ACL SAVE: the whole file replaced at once (a crash leaves the old one)."""
    import os

    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("".join(line + "\n" for line in lines))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_state(config, lines: list[str]) -> None:
    """The users, for a worker restarted while the server runs (worker 0
    writes them at every change)."""
    import os

    from pikamp.config import runtime_file

    path = runtime_file(config, "acl-state")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("\n".join(lines))
    os.replace(tmp, path)


def load_state(config) -> list[str] | None:
    """The users worker 0 last wrote, if it did since the server started."""
    from pikamp.config import runtime_file

    try:
        with open(runtime_file(config, "acl-state"), encoding="utf-8", errors="surrogateescape") as f:
            return f.read().split("\n")
    except OSError:
        return None
