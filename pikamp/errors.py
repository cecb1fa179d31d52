"""Error replies, worded exactly as Redis 7.0 words them (clients match on them)."""
from __future__ import annotations


class RespError(Exception):
    """An error reply. ``message`` is the text after the leading '-'."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"
NO_SUCH_KEY = "ERR no such key"
OUT_OF_RANGE = "ERR index out of range"
DB_INDEX = "ERR DB index is out of range"
INVALID_DB = "ERR invalid DB index"
BIT_OFFSET = "ERR bit offset is not an integer or out of range"
BIT_VALUE = "ERR bit is not an integer or out of range"
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
INVALID_EXPIRE = "ERR invalid expire time in '{}' command"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
READONLY = "READONLY You can't write against a read only replica."
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."
SAME_OBJECT = "ERR source and destination objects are the same"
NESTED_MULTI = "ERR MULTI calls can not be nested"


def misconf(cause: str) -> str:
    """Redis' MISCONF, worded for a write the disk refused (Pika: read-only on disk full)."""
    return (f"MISCONF Errors writing to the disk ({cause}): this command was not applied. "
            "Commands that may modify the data set are disabled until the disk has room again; "
            "see the log, INFO persistence and DISKRECOVERY.")


def wrong_arity(name: str) -> RespError:
    return RespError(f"ERR wrong number of arguments for '{name}' command")


def unknown_command(name: bytes, args: list[bytes]) -> RespError:
    """Redis 7.0: -ERR unknown command 'x', with args beginning with: 'a' 'b' """
    # Redis formats with %.128s: C strings, so each one ends at a NUL byte.
    shown = ""
    for a in args:
        if len(shown) >= 128:
            break
        shown += "'" + _c_string(a)[: 128 - len(shown)].decode("latin-1") + "' "
    return RespError(
        _oneline(f"ERR unknown command '{_c_string(name)[:128].decode('latin-1')}', "
                 f"with args beginning with: {shown}")
    )


def unknown_subcommand(sub: bytes, cmd: str) -> RespError:
    return RespError(
        _oneline(f"ERR unknown subcommand '{sub[:128].decode('latin-1')}'. Try {cmd.upper()} HELP.")
    )


def _c_string(b: bytes) -> bytes:
    return b.split(b"\0", 1)[0]


def _oneline(s: str) -> str:
    # As Redis does: an error reply must not contain newlines.
    return s.replace("\r", " ").replace("\n", " ")




def subcommand_syntax(args: list[bytes]) -> RespError:
    """Redis' reply to a subcommand given the wrong arguments: the
    subcommand as the client sent it, the container's HELP to try."""
    return RespError(f"ERR unknown subcommand or wrong number of arguments for "
                     f"'{args[1][:128].decode('latin-1')}'. Try {args[0].decode('latin-1').upper()} HELP.")
