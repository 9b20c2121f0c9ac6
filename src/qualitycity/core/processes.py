"""Facts about operating-system processes that several parts of the platform need."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """Whether a process with this id exists (someone else's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
