"""Service processes beside the workers (replication, purge, bgsave, keyscan, monitor, pubsub).

Each runs in its own process with its role in the title. pubsub, monitor,
bgsave, keyscan and purge do their work (pikamp.services.<name>); until
replication lands, its process only holds its place in the process tree: it
is started, titled, restarted if it dies, and stopped cleanly, and does no
work.
"""
from __future__ import annotations

import logging
import signal
import threading

from setproctitle import setproctitle

from pikamp.config import Config

SERVICES = ("replication", "purge", "bgsave", "keyscan", "monitor", "pubsub")

log = logging.getLogger("pikamp.services")


def run(name: str, config: Config) -> None:
    """Entry point of a service process."""
    if name == "pubsub":
        from pikamp.services import pubsub

        pubsub.run(config)
        return
    if name == "keyscan":
        from pikamp.services import keyscan

        keyscan.run(config)
        return
    if name == "bgsave":
        from pikamp.services import bgsave

        bgsave.run(config)
        return
    if name == "purge":
        from pikamp.services import purge

        purge.run(config)
        return
    if name == "monitor":
        from pikamp.services import monitor

        monitor.run(config)
        return
    setproctitle(f"pikamp: {name}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    log.info("%s service up", name)
    while not stop.wait(1.0):
        pass
    log.info("%s service stopped", name)
