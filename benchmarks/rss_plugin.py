"""pytest plugin for the memory runs: writes the pytest process's own peak RSS to $BENCH_RSS.

Loaded with `-p benchmarks.rss_plugin` only in the memory runs, never in the timed ones.
`getrusage(RUSAGE_SELF)` counts this process alone, not the docker CLIs it runs.
"""

from __future__ import annotations

import json
import os
import resource

import pytest


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    path = os.environ.get("BENCH_RSS")
    if not path:
        return
    hwm = None
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    data = {"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "vmhwm_kb": hwm}
    with open(path, "w") as out:
        json.dump(data, out)
