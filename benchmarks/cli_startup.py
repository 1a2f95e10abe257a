"""CLI start-up: ``--help`` of every command of the three CLIs, beside ``python -c pass``.

    .venv/bin/python benchmarks/cli_startup.py [--runs 7]

Each command line runs ``--runs`` times in a fresh interpreter, the rounds interleaved; the best wall time counts
(the least disturbed by other work on the machine). Prints each command's time and its ratio to
``python -c pass``; the target is at most 3x, which holds only if a CLI imports what a command needs after
parsing its arguments.

    .venv/bin/python benchmarks/cli_startup.py --pairs 50

The batch form instead: ``versioning compat OLD NEW`` run once per pair (a CI job checking each changed schema
in its own process) beside one ``versioning compat --pairs FILE`` over the same pairs (the registry's ``users``
versions, in turn); prints both times and their ratio.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
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


def pairs_batch(count: int, runs: int) -> int:
    """``count`` pairs: one process each, beside one ``--pairs`` process; best of ``runs`` interleaved rounds."""
    users = ROOT / "schemas" / "users"
    steps = [(users / f"v{v}.avsc", users / f"v{v + 1}.avsc") for v in (1, 2)]
    pairs = [steps[i % len(steps)] for i in range(count)]
    command = [sys.executable, "-m", "versioning", "compat"]
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "pairs.txt"
        listing.write_text("".join(f"{old} {new}\n" for old, new in pairs))
        one_each, batch = float("inf"), float("inf")
        for _ in range(runs):
            start = time.perf_counter()
            for old, new in pairs:
                subprocess.run([*command, str(old), str(new)], cwd=ROOT, check=True, capture_output=True)
            one_each = min(one_each, time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run([*command, "--pairs", str(listing)], cwd=ROOT, check=True, capture_output=True)
            batch = min(batch, time.perf_counter() - start)
    print(f"{count} pairs, one process each:   {one_each:8.3f} s   1.00x")
    print(f"{count} pairs, one --pairs process: {batch:8.3f} s   {batch / one_each:.3f}x the time")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--pairs", type=int, default=0, help="measure the batch form of compat on this many pairs")
    args = parser.parse_args()
    if args.pairs:
        return pairs_batch(args.pairs, args.runs)
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
