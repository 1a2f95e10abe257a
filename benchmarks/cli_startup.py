"""CLI start-up: ``--help`` of every command of the three CLIs, beside ``python -c pass``.

    .venv/bin/python benchmarks/cli_startup.py [--runs 7]

Each command line runs ``--runs`` times in a fresh interpreter, the rounds interleaved; the best wall time counts
(the least disturbed by other work on the machine). Prints each command's time and its ratio to
``python -c pass``; the target is at most 3x, which holds only if a CLI imports what a command needs after
parsing its arguments.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 3.0

COMMANDS: list[list[str]] = [
    ["-m", "versioning", "--help"],
    *(
        ["-m", "versioning", *command, "--help"]
        for command in (
            ["compat"],
            ["check"],
            ["subjects"],
            ["validate"],
            ["upgrade"],
            ["migrate"],
            ["migrate", "sql"],
            ["migrate", "current"],
            ["migrate", "upgrade"],
            ["migrate", "downgrade"],
            ["export"],
            ["demo"],
        )
    ),
    ["-m", "datapipe", "--help"],
    *(
        ["-m", "datapipe", *command, "--help"]
        for command in (["init"], ["generate"], ["generate", "schema"], ["generate", "dag"], ["extract"])
    ),
    ["-m", "infra.cli", "--help"],
    ["-m", "infra.cli", "render", "--help"],
    ["-m", "infra.cli", "gate", "--help"],
    ["-m", "infra.render", "--help"],
]


def _once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *argv], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    lines = [["-c", "pass"], *COMMANDS]
    best = [float("inf")] * len(lines)
    # Rounds interleave every command line, so a busy moment on a shared machine slows all of them alike; the
    # best of the rounds is each one's undisturbed time.
    for _ in range(args.runs):
        for index, argv in enumerate(lines):
            best[index] = min(best[index], _once(argv))
    baseline = best[0]
    print(f"{'python -c pass':<44}{baseline * 1000:8.1f} ms   1.00x")
    worst = 0.0
    for argv, took in zip(COMMANDS, best[1:], strict=True):
        ratio = took / baseline
        worst = max(worst, ratio)
        flag = "" if ratio <= TARGET else f"   above {TARGET:.0f}x"
        print(f"{'python ' + ' '.join(argv):<44}{took * 1000:8.1f} ms   {ratio:4.2f}x{flag}")
    print(f"worst: {worst:.2f}x (target: at most {TARGET:.0f}x)")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
