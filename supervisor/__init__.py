"""A small process manager: forks children, restarts them with back-off, stops them cleanly.

It knows nothing about pikamp; pikamp.server tells it which children to run.
(This top-level package shadows the unrelated PyPI package ``supervisor``.)
"""
from supervisor.manager import ChildSpec, Supervisor

__all__ = ["ChildSpec", "Supervisor"]
