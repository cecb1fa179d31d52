"""Command modules: each registers its commands in the table on import."""
from __future__ import annotations

import importlib

MODULES = (
    "connection",
    "server",
    "keys",
    "strings",
    "bitmaps",
    "hyperloglog",
    "sort",
    "hashes",
    "lists",
    "sets",
    "zsets",
    "blocking_zsets",
    "geo",
    "admin",
    "pika_scans",
    "transactions",
    "slowlog",
    "introspection",
    "dump",
    "pubsub",
    "monitor",
    "persistence",
    "binlog",
    "replication",
    "acl",
    "scripting",
    "debug",
    "standalone",
)


def load_all() -> None:
    """Import every command module (a module not written yet is skipped)."""
    for name in MODULES:
        try:
            importlib.import_module(f"pikamp.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"pikamp.commands.{name}":
                raise
    from pikamp import acl

    acl.build()  # the ACL's index of every command and category
