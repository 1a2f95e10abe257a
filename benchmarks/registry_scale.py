"""The registry at scale: the gate and ``versioning check`` beside the fastavro parse floor of the same files.

``python -m benchmarks.registry_scale`` generates, in a temporary folder (deleted afterwards, never committed):

- a 500-subject x 100-version x 100-field registry; a gate check whose releases name 10 of its subjects (live on
  v99, candidate v100, and the rollback v100 -> v99, which must read schemas) runs ``infra.gate``'s own
  ``load_registry`` + ``check_flip``;
- a 100 x 100 x 100 registry under FULL_TRANSITIVE, checked by ``python -m versioning check`` as CI runs it.

Every contender runs in its own child process (its time measured inside it, imports excluded; its peak RSS its
own high-water mark, ``VmHWM``, see ``benchmarks.file_child.own_peak_mib``), cold (an empty verdict cache) and
warm, interleaved with the floor (``json.loads`` + ``fastavro.parse_schema`` of exactly the files the contender
reads) round by round. Prints the median of the rounds and the ratio to the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.registry_gen import generate

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, resource, sys, time
from pathlib import Path
kind, root, names = sys.argv[1], Path(sys.argv[2]), [n for n in sys.argv[3].split(",") if n]
if kind == "floor":
    import fastavro
    started = time.perf_counter()
    count = 0
    for name in names or sorted(p.name for p in root.iterdir() if p.is_dir()):
        for path in sorted((root / name).glob("*.avsc")):
            fastavro.parse_schema(json.loads(path.read_bytes()), _write_hint=False, _force=True)
            count += 1
    seconds = time.perf_counter() - started
elif kind == "process":  # the whole command as CI runs it: interpreter start and imports included
    import subprocess
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "versioning", "check", "--registry", str(root)], capture_output=True)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-2000:]
    count = done.stdout.count(b"ok ")
    # The command's own peak, not this wrapper's: the largest child's (it started from this small process).
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
elif kind == "gate":
    from infra.gate import check_flip, load_registry
    newest = int(sys.argv[4])
    live = {n: newest - 1 for n in names}
    candidate = {n: newest for n in names}
    started = time.perf_counter()
    registry = load_registry(root, names)
    found = check_flip(registry, live, candidate) + check_flip(registry, candidate, live)
    seconds = time.perf_counter() - started
    assert not found, found
    count = len(names)
elif kind == "check":
    from click.testing import CliRunner
    from versioning.cli import cli
    import versioning.registry  # noqa: F401  # the command imports it when it runs: not part of the check
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["check", "--registry", str(root)])
    seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output[-2000:]
    count = result.output.count("\nok ") + result.output.startswith("ok ")
# The child's own high-water mark (VmHWM): ru_maxrss would carry the parent's across exec.
status = Path("/proc/self/status")
hwm = [l for l in status.read_text().splitlines() if l.startswith("VmHWM:")] if status.exists() else []
peak = int(hwm[0].split()[1]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if kind == "process":
    peak = child_peak
print(json.dumps({"seconds": seconds, "count": count, "peak_mib": peak}))
"""


VERSIONS = 100


def child(kind: str, root: Path, names: list[str], cache: Path) -> dict[str, float]:
    """One measurement in a fresh process; the verdict cache is ``cache`` (an empty folder: cold)."""
    env = {**os.environ, "VERSIONING_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(root), ",".join(names), str(VERSIONS)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def gate_registry(base: Path, subjects: int, versions: int, fields: int) -> Path:
    """The gate's registry: 10 subjects of their own; the others hard links to the same files (never read)."""
    root = base / "gate"
    generate(root, 10, versions, fields)
    template = root / "subject_0000"
    for s in range(10, subjects):
        folder = root / f"subject_{s:04d}"
        folder.mkdir()
        for path in template.iterdir():
            os.link(path, folder / path.name)
    return root


def measure(rounds: int, contenders: dict[str, tuple[str, Path, list[str], bool]], work: Path) -> dict[str, list]:
    """Run every contender once per round, in turn; cold contenders get a fresh empty verdict cache each time."""
    results: dict[str, list[dict[str, float]]] = {name: [] for name in contenders}
    warm_cache = work / "warm-cache"
    for index in range(rounds):
        for name, (kind, root, names, cold) in contenders.items():
            cache = work / f"cold-cache-{index}-{kind}" if cold else warm_cache
            results[name].append(child(kind, root, names, cache))
            if cold:
                shutil.rmtree(cache, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gate-subjects", type=int, default=500)
    parser.add_argument("--check-subjects", type=int, default=100)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--fields", type=int, default=100)
    parser.add_argument("--only", choices=["gate", "check"])
    args = parser.parse_args(argv)
    global VERSIONS
    VERSIONS = args.versions
    print(f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as temp:
        work = Path(temp)
        tables = []
        if args.only in (None, "gate"):
            root = gate_registry(work, args.gate_subjects, args.versions, args.fields)
            names = [f"subject_{s:04d}" for s in range(10)]
            warm_up = child("gate", root, names, work / "warm-cache")  # fills the warm cache
            assert warm_up["count"] == 10
            tables.append(
                (
                    f"gate: 10 named subjects of {args.gate_subjects} x {args.versions} x {args.fields}",
                    measure(
                        args.rounds,
                        {
                            "fastavro parse floor (the 10 subjects' files)": ("floor", root, names, False),
                            "gate, cold (no verdicts)": ("gate", root, names, True),
                            "gate, warm (verdicts cached)": ("gate", root, names, False),
                        },
                        work,
                    ),
                )
            )
        if args.only in (None, "check"):
            root = generate(work / "check", args.check_subjects, args.versions, args.fields)
            child("check", root, [], work / "warm-cache")
            tables.append(
                (
                    f"versioning check: {args.check_subjects} x {args.versions} x {args.fields}, FULL_TRANSITIVE",
                    measure(
                        args.rounds,
                        {
                            "fastavro parse floor (every file)": ("floor", root, [], False),
                            "versioning check, cold (no verdicts)": ("check", root, [], True),
                            "versioning check, warm (verdicts cached)": ("check", root, [], False),
                            "python -m versioning check, warm, whole process": ("process", root, [], False),
                        },
                        work,
                    ),
                )
            )
    for title, results in tables:
        print(f"\n{title} (median of {args.rounds} interleaved rounds; time inside the child, imports excluded)")
        floor = None
        floor_runs: list[float] = []
        for name, runs in results.items():
            seconds = statistics.median(r["seconds"] for r in runs)
            peak = max(r["peak_mib"] for r in runs)
            floor = floor or seconds
            floor_runs = floor_runs or [r["seconds"] for r in runs]
            # Every round as measured, and its ratio to the floor measured in the same round.
            each = ", ".join(f"{r['seconds']:.3f}" for r in runs)
            ratios = ", ".join(f"{r['seconds'] / f:.2f}x" for r, f in zip(runs, floor_runs, strict=True))
            print(f"  {name:48s} {seconds:8.3f} s  {seconds / floor:6.2f}x floor  peak RSS {peak:6.0f} MiB")
            print(f"  {'':48s} rounds: {each} s; vs that round's floor: {ratios}")
    print(f"# load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
