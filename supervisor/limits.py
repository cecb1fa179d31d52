"""Process limits the supervisor sets before it forks (children inherit them)."""
from __future__ import annotations

import resource


def raise_open_files(wanted: int) -> tuple[int, int, str | None]:
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (the hard limit too, where
    this process may). Returns (limit before, limit now, why not ``wanted``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    inf = resource.RLIM_INFINITY
    if soft == inf or soft >= wanted:
        return soft, soft, None
    why = None
    if hard != inf and hard < wanted:
        try:  # needs CAP_SYS_RESOURCE; Linux also caps it at fs.nr_open
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return soft, wanted, None
        except (OSError, ValueError):
            why = "the hard limit, which this process may not raise"
    target = wanted if hard == inf or hard >= wanted else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (OSError, ValueError) as e:
        return soft, soft, str(e)
    return soft, target, why
