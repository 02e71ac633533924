"""Peak memory of the process a benchmark measures in."""

import resource
import sys
from pathlib import Path


def peak_kib() -> int:
    """Peak RSS of this process. Linux's VmHWM belongs to this program alone; ru_maxrss there
    also counts the parent's size at fork, which would hide a small child behind a big parent."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB elsewhere
