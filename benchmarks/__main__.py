"""Run every benchmark in turn (``make bench``); each prints its own figures, then a table of every
figure with its goal and whether it was met.

    python -m benchmarks [name ...]     # names: indeed, upwork, classifier, extraction, injection, marts, load, publish
"""

from __future__ import annotations

import subprocess
import sys

from benchmarks.figures import parse

BENCHMARKS = ["indeed", "upwork", "classifier", "extraction", "injection", "marts", "load", "publish"]


def table(rows: list[tuple[str, dict]]) -> str:
    """The closing table: benchmark, figure, value, goal, met."""
    def value(f: dict) -> str:
        v = f["value"]
        text = f"{v:,.2f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)
        return f"{text} {f['unit']}".strip()

    lines = [("benchmark", "figure", "value", "goal", "met")]
    for bench, f in rows:
        met = "-" if f["met"] is None else "met" if f["met"] else "NOT met"
        lines.append((bench, f["figure"], value(f), f["goal"] or "-", met))
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    out = [" | ".join(c.ljust(w) for c, w in zip(line, widths)) for line in lines]
    out.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str]) -> int:
    failed, rows = [], []
    for name in argv or BENCHMARKS:
        print(f"\n=== benchmarks.bench_{name} ===", flush=True)
        # One process each: a benchmark's imports and caches do not colour the next one's figures.
        with subprocess.Popen([sys.executable, "-m", f"benchmarks.bench_{name}"], stdout=subprocess.PIPE,
                              text=True, bufsize=1) as proc:
            for line in proc.stdout:
                figure = parse(line)
                if figure is None:
                    print(line, end="", flush=True)
                else:
                    rows.append((name, figure))
        if proc.returncode != 0:
            failed.append(name)
    print("\n=== figures ===")
    print(table(rows) if rows else "no figures")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
