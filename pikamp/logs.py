"""Logging: one file under log-path, plus stderr when running in the foreground."""
from __future__ import annotations

import logging
import os
import sys

from pikamp.config import Config


def setup(config: Config, foreground: bool) -> None:
    """Configure the root logger for this process tree (children inherit it)."""
    log_dir = config.path_of("log-path")
    os.makedirs(log_dir, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.INFO)
    fh = logging.FileHandler(os.path.join(log_dir, "pikamp.log"))
    fh.setFormatter(fmt)
    root.addHandler(fh)
    if foreground:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(fmt)
        root.addHandler(sh)
