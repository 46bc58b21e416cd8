"""Run one command and report its wall time and peak memory (of it and its children).

    python benchmarks/measure.py -- personae run users.parquet --out out
prints one JSON line: {"seconds": ..., "peak_gib": ..., "returncode": ...}
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1:] if "--" in argv else argv
    started = time.perf_counter()
    completed = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, check=False)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": round(seconds, 2), "peak_gib": round(peak_kib / 2**20, 3),
                      "returncode": completed.returncode,
                      "stderr_tail": completed.stderr[-500:]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
