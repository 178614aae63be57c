"""Run every benchmark in turn (``make bench``); each prints its own figures.

    python -m benchmarks [name ...]     # names: indeed, upwork, classifier, extraction, injection, marts
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ["indeed", "upwork", "classifier", "extraction", "injection", "marts"]


def main(argv: list[str]) -> int:
    failed = []
    for name in argv or BENCHMARKS:
        print(f"\n=== benchmarks.bench_{name} ===", flush=True)
        # One process each: a benchmark's imports and caches do not colour the next one's figures.
        if subprocess.run([sys.executable, "-m", f"benchmarks.bench_{name}"]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
