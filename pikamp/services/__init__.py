"""Service processes beside the workers (replication, purge, bgsave, keyscan, monitor, pubsub).

Each runs in its own process (pikamp.services.<name>), with its role in the
title; the supervisor starts it, restarts it if it dies, and stops it.
"""
from __future__ import annotations

import importlib

from pikamp.config import Config

SERVICES = ("replication", "purge", "bgsave", "keyscan", "monitor", "pubsub")


def run(name: str, config: Config) -> None:
    """Entry point of a service process: pikamp.services.<name>.run."""
    importlib.import_module(f"pikamp.services.{name}").run(config)
