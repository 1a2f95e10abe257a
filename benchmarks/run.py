"""Run the benchmarks: our fast paths and the reference path beside pydantic, msgspec, fastavro and pyarrow.

``python -m benchmarks`` (or ``python benchmarks/run.py``) generates the data under ``benchmarks/data/``,
runs every contender on the same records in one run and prints one table per group with ratios to the group's
baseline. ``--quick`` shrinks everything to seconds; sizes are flags (``--help``). Timings are the best of
``--repeat`` runs on this machine's one core; file runs are one child process each (for its peak RSS).
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typing_extensions import TypedDict

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fastavro
import msgspec
import pyarrow as pa
import pydantic
from rich.console import Console
from rich.table import Table

from benchmarks import columns as columns_bench
from benchmarks import data_gen
from versioning.compatibility import Compatibility, check_compatibility
from versioning.compatibility.cached import CompatibilityChecker
from versioning.registry import Registry, Subject
from versioning.schema import Schema, parse_schema
from versioning.upgrade.pipeline import RowPipeline
from versioning.validation import ColumnValidator
from versioning.validation.rows import RowValidator

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    """One contender's measurement in a group."""

    name: str
    seconds: float
    items: int
    unit: str = "records"
    peak_rss_mib: float | None = None
    note: str = ""


def interleaved(repeat: int, contenders: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Each contender's median time over ``repeat`` rounds, the contenders taking turns within each round (so a
    burst of load on the shared machine hits all of them, not the one that happened to run then)."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, run in contenders.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(runs) for name, runs in times.items()}


class _Event(TypedDict):
    id: str
    kind: str
    source: str
    actor: str
    target: str
    at: str


class _EventStruct(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    kind: str
    source: str
    actor: str
    target: str
    at: str


def rows_validation(count: int, repeat: int) -> list[Result]:
    """Validate six-field string records: reference, our fast path, pydantic, msgspec."""
    records = data_gen.six_field_records(count)
    schema = parse_schema(data_gen.SIX_FIELDS)
    fast = RowValidator(schema)
    uncompiled = RowValidator(schema, compiled=False)
    fast_name = "fast RowValidator.invalid" + ("" if fast.compiled else " (compiled scan not built)")
    adapter = pydantic.TypeAdapter(list[_Event])
    from versioning.validation import Validator

    reference = Validator(schema)
    assert not list(fast.invalid(records)) and not list(uncompiled.invalid(records))
    medians = interleaved(
        repeat,
        {
            "reference Validator.invalid": lambda: list(reference.invalid(records)),
            "pydantic v2 TypeAdapter(list[TypedDict])": lambda: adapter.validate_python(records),
            "msgspec convert(list[Struct])": lambda: msgspec.convert(records, list[_EventStruct]),
            fast_name: lambda: list(fast.invalid(records)),
            "fast RowValidator.invalid, scan in Python": lambda: list(uncompiled.invalid(records)),
        },
    )
    return [Result(name, seconds, count) for name, seconds in medians.items()]


def rows_upgrade(users: Subject, count: int, repeat: int) -> list[Result]:
    """users v1 -> v3 with validation: reference, fast pipeline; fastavro schema resolution as the peer."""
    records = data_gen.user_records(count)
    validator = users.validator(1)

    def reference() -> list[dict[str, Any]]:
        bad = {e.position for e in validator.invalid(records, 0)}
        return [users.convert(r, 3, 1) for i, r in enumerate(records) if i not in bad]

    pipeline = RowPipeline(users, 1, 3)
    assert pipeline.run(records).records == reference()
    encoded = _avro_bytes(users.schema(1), records)
    v3 = fastavro.parse_schema(users.schema(3))

    def fastavro_resolve() -> list[Any]:
        import io

        return list(fastavro.reader(io.BytesIO(encoded), reader_schema=v3))

    medians = interleaved(
        repeat,
        {
            "reference validate + Subject.convert": reference,
            "fastavro read v1 bytes as v3 (resolution)": fastavro_resolve,
            "fast RowPipeline.run": lambda: pipeline.run(records),
        },
    )
    notes = {"fastavro read v1 bytes as v3 (resolution)": "no copy step: updated_at stays null"}
    return [Result(name, seconds, count, note=notes.get(name, "")) for name, seconds in medians.items()]


def _avro_bytes(schema: dict[str, Any], records: list[dict[str, Any]]) -> bytes:
    import io

    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(schema), records, codec="null")
    return out.getvalue()


def columns_groups(largest: int, repeat: int) -> list[tuple[str, list[Result]]]:
    """The columns benchmark (:mod:`benchmarks.columns`) at three sizes: largest / 16, / 4, and largest."""
    sizes = [max(1, largest // 16), max(1, largest // 4), largest]
    return [
        (f"Columns: {scenario}, {rows:,} rows", [Result(n, s, rows, "rows") for n, s in medians.items()])
        for scenario, rows, medians in columns_bench.measure(sizes, repeat)
    ]


def files_upgrade(
    users: Subject, data: Path, megabytes: float, registry: Path, kind: str, rounds: int = 3
) -> list[Result]:
    """A Parquet or Avro file of ``megabytes``: a plain read+write (pyarrow, fastavro) against our upgrade."""
    data.mkdir(parents=True, exist_ok=True)
    source = data / f"users-v1-{megabytes:g}MB.{kind}"
    if not source.exists():
        if kind == "parquet":
            data_gen.write_parquet_of_size(source, megabytes, ColumnValidator(users.schemas[1]).arrow)
        else:
            write_avro_of_size(source, megabytes, users.schema(1))
    size = source.stat().st_size / 1e6
    with source.open("rb") as handle:  # into the page cache, so neither contender pays for a cold disk
        while handle.read(1 << 24):
            pass
    peer = "pyarrow" if kind == "parquet" else "fastavro"
    results = []
    modes = [("plain", f"{peer} read + write")]
    if kind == "avro":
        # Writing six fields costs fastavro more than three: the floor of any upgrade that decodes. The byte
        # path does not decode, so it is measured beside both the plain copy and the decoding upgrade.
        modes.append(("floor", "fastavro read v1, inline dict to v3, write v3"))
        modes.append(("decode", "decoding upgrade v1->v3 (fastavro + RowPipeline), validated"))
        modes.append(("bytes", "byte upgrade v1->v3 (record bytes sliced), validated"))
    else:
        modes.append(("fast", "fast upgrade v1->v3, validated"))
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode, _ in modes}
    for _ in range(rounds):  # the contenders take turns, round after round
        for mode, _label in modes:
            target = data / f"out-{mode}.{kind}"
            command = [sys.executable, "-m", "benchmarks.file_child", f"{kind}-{mode}", str(source), str(target)]
            done = subprocess.run(
                [*command, "--registry", str(registry)], capture_output=True, text=True, check=True, cwd=ROOT
            )
            runs[mode].append(json.loads(done.stdout.strip().splitlines()[-1]))
            target.unlink(missing_ok=True)
    for mode, label in modes:
        measured = runs[mode]
        seconds = statistics.median(m["seconds"] for m in measured)
        peak = max(m["peak_rss_mib"] for m in measured)
        name = f"{label} ({size:.1f} MB)"
        note = f"CPU {statistics.median(m['cpu_seconds'] for m in measured):.1f} s" if kind == "avro" else ""
        results.append(Result(name, seconds, measured[0]["rows"], "rows", peak, note))
    return results


def write_avro_of_size(path: Path, megabytes: float, avro_schema: dict[str, Any]) -> int:
    """Write a users v1 Avro container file (deflate) of at least ``megabytes``; returns its record count.

    fastavro encodes and compresses 20,000 records (2,000 below 1 MB) once, in its own blocks (its default
    block size); the file is that header followed by those blocks again and again (one file, one sync marker).
    Encoding 1 GB record by record took over 13 minutes; this writes it at disk speed, and every block is
    still fastavro's own.
    """
    chunk = io.BytesIO()
    chunk_rows = 20_000 if megabytes >= 1 else 2_000
    fastavro.writer(chunk, fastavro.parse_schema(avro_schema), data_gen.user_records(chunk_rows), codec="deflate")
    chunk.seek(0)
    fastavro.reader(chunk)  # reads the header: the blocks start where it stops
    header_end = chunk.tell()
    raw = chunk.getvalue()
    blocks, rows = raw[header_end:], 0
    with path.open("wb") as out:
        out.write(raw[:header_end])
        while out.tell() < megabytes * 1e6:
            out.write(blocks)
            rows += chunk_rows
    return rows


def compatibility(fields: int, versions: int) -> list[Result]:
    """Register version ``versions + 1`` of a ``fields``-field subject under FULL_TRANSITIVE."""
    history = [_wide_version(fields, k) for k in range(1, versions + 2)]
    *previous, new = history
    started = time.perf_counter()
    expected = check_compatibility(new, previous, Compatibility.FULL_TRANSITIVE)
    reference = time.perf_counter() - started
    checker = CompatibilityChecker()
    started = time.perf_counter()
    assert checker.check(new, previous, Compatibility.FULL_TRANSITIVE) == expected
    cold = time.perf_counter() - started
    started = time.perf_counter()
    assert checker.check(new, previous, Compatibility.FULL_TRANSITIVE) == expected
    warm = time.perf_counter() - started
    label = f"v{versions + 1} of {fields} fields"
    return [
        Result(f"reference check_compatibility ({label})", reference, 1, "checks"),
        Result("fast checker, first sight of every version", cold, 1, "checks"),
        Result("fast checker, versions already seen (a loaded registry)", warm, 1, "checks"),
    ]


_WIDE_TYPES: list[Any] = [
    "string",
    "long",
    "double",
    "boolean",
    ["null", "string"],
    {"type": "array", "items": "string"},
    {"type": "map", "values": "long"},
]


def _wide_version(fields: int, k: int) -> Schema:
    """A wide record; each version adds one optional field, so every version differs from the others."""
    body: list[dict[str, Any]] = [
        {"name": f"f{i}", "type": _WIDE_TYPES[i % len(_WIDE_TYPES)]} for i in range(fields - 1)
    ]
    body.append({"name": f"extra_{k}", "type": ["null", "long"], "default": None})
    return parse_schema({"type": "record", "name": "Wide", "fields": body})


def print_group(console: Console, title: str, results: list[Result]) -> None:
    """One table: each contender's time, throughput and ratio to the first (the baseline)."""
    table = Table(title=title, title_justify="left")
    for column in ("contender", "time (s)", "throughput", "vs baseline", "peak RSS (MiB)", "note"):
        table.add_column(column, justify="left" if column in ("contender", "note") else "right")
    baseline = results[0].seconds
    for r in results:
        rate = r.items / r.seconds if r.seconds else float("inf")
        rss = f"{r.peak_rss_mib:.0f}" if r.peak_rss_mib is not None else ""
        table.add_row(
            r.name,
            f"{r.seconds:.4f}",
            f"{rate / 1e6:.2f} M {r.unit}/s" if r.unit != "checks" else "",
            f"{baseline / r.seconds:.2f}x" if r.seconds else "",
            rss,
            r.note,
        )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    """Parse the sizes, run every group, print the tables; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run in seconds")
    parser.add_argument("--rows", type=int, default=200_000, help="records for the rows groups (200000)")
    parser.add_argument(
        "--columns", type=int, default=4_000_000, help="largest of the columns group's three sizes (4000000)"
    )
    parser.add_argument("--file-mb", type=float, default=100, help="size of each generated file in MB (100)")
    parser.add_argument("--fields", type=int, default=200, help="fields of the compatibility subject (200)")
    parser.add_argument("--versions", type=int, default=1000, help="earlier versions it has (1000)")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds per in-process group, median (5)")
    parser.add_argument("--file-rounds", type=int, default=3, help="interleaved rounds of the file children (3)")
    parser.add_argument("--data", type=Path, default=ROOT / "benchmarks" / "data", help="where files go")
    parser.add_argument("--only", choices=["rows", "columns", "files", "compatibility"], action="append")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.columns, args.file_mb = min(args.rows, 2_000), min(args.columns, 20_000), min(args.file_mb, 0.2)
        args.fields, args.versions, args.repeat = min(args.fields, 20), min(args.versions, 20), 1
        args.file_rounds = 1
    groups = set(args.only or ["rows", "columns", "files", "compatibility"])
    registry = ROOT / "schemas"
    users = Registry.load(registry).subject("users")
    console = Console(width=160)
    console.print(
        f"machine: {platform.machine()}, {platform.processor() or '?'}; Python {platform.python_version()}; "
        f"pyarrow {pa.__version__}, fastavro {fastavro.__version__}, msgspec {msgspec.__version__}, "
        f"pydantic {pydantic.VERSION}"
    )
    if "rows" in groups:
        print_group(
            console, f"Rows: validate {args.rows} six-field string records", rows_validation(args.rows, args.repeat)
        )
        print_group(
            console,
            f"Rows: users v1 -> v3 with validation, {args.rows} records",
            rows_upgrade(users, args.rows, args.repeat),
        )
    if "columns" in groups:
        for title, results in columns_groups(args.columns, args.repeat):
            print_group(console, title, results)
    if "files" in groups:
        for kind in ("parquet", "avro"):
            title = f"Files: {kind}, users v1 -> v3, {args.file_mb:g} MB (one process per run)"
            results = files_upgrade(users, args.data, args.file_mb, registry, kind, args.file_rounds)
            print_group(console, title, results)
    if "compatibility" in groups:
        print_group(
            console,
            f"Compatibility: FULL_TRANSITIVE, {args.fields} fields, {args.versions} earlier versions",
            compatibility(args.fields, args.versions),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
