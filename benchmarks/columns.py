"""Columns that are checked value by value: the columnar validation and upgrade beside pyarrow by hand.

``python -m benchmarks.columns`` builds an ``events`` subject (in a temporary registry) whose checks touch every
value: ``id`` is a ``uuid`` string (canonical form checked), ``kind`` an enum (symbols checked), ``amount`` a
long that v2 copies into ``amount_before``, and v2 adds ``source`` with a default. At three sizes it times,
interleaved round by round (median):

- valid table, v1 -> v2, output written as Parquet: pyarrow by hand (``is_in`` on the enum, a regular
  expression on the UUIDs, null counts, two appended columns, ``write_table``) beside ``ColumnUpgrader.upgrade``
  + ``write_table``;
- the same table with one invalid row in 10,000 (a symbol not in the enum and an upper-case UUID, alternately):
  finding and reporting them, pyarrow by hand (masks, counts, first rows) beside ``ColumnValidator.errors``;
  both must report the same counts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from versioning.registry import Registry, Subject
from versioning.upgrade import ColumnUpgrader
from versioning.validation import ColumnValidator
from versioning.validation.columns import CANONICAL_UUID

KINDS = ["OPEN", "CLOSE", "MOVE"]
V1 = {
    "type": "record",
    "name": "Event",
    "fields": [
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": KINDS}},
        {"name": "amount", "type": "long"},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}
V2 = {
    **V1,
    "fields": [
        *V1["fields"],
        {"name": "source", "type": "string", "default": "legacy"},
        {"name": "amount_before", "type": ["null", "long"], "default": None},
    ],
}
STEPS = [{"from": 1, "to": 2, "upgrade": [{"add": "source"}, {"copy": {"field": "amount_before", "from": "amount"}}]}]


def events_subject(folder: Path) -> Subject:
    """The ``events`` subject, written into ``folder`` as a registry."""
    subject = folder / "events"
    subject.mkdir(parents=True)
    (subject / "v1.avsc").write_text(json.dumps(V1))
    (subject / "v2.avsc").write_text(json.dumps(V2))
    (subject / "subject.yaml").write_text(yaml.safe_dump({"compatibility": "BACKWARD", "steps": STEPS}))
    return Registry.load(folder, ["events"]).subject("events")


def events_table(rows: int, arrow: pa.Schema, invalid_every: int = 0, seed: int = 0) -> pa.Table:
    """``rows`` events (ids from a pool of distinct UUIDs); every ``invalid_every``-th row made invalid."""
    rng = np.random.default_rng(seed)
    pool = pa.array(
        [str(uuid.UUID(bytes=bytes(b))) for b in rng.integers(0, 256, (min(rows, 100_000), 16), dtype=np.uint8)]
    )
    ids = pool.take(pa.array(rng.integers(0, len(pool), rows)))
    kinds = pa.array(np.array(KINDS)[rng.integers(0, 3, rows)])
    amounts = pa.array(rng.integers(-(10**9), 10**9, rows))
    notes = pa.array(rng.random(rows) < 0.5).cast(pa.int8())  # half the notes null, half "a note"
    notes = pc.if_else(pc.equal(notes, 1), pa.scalar(None, pa.string()), pa.scalar("a note"))
    if invalid_every:
        bad = np.arange(invalid_every - 1, rows, invalid_every)
        kinds_np = kinds.to_numpy(zero_copy_only=False).astype(object)
        ids_np = ids.to_numpy(zero_copy_only=False).astype(object)
        kinds_np[bad[::2]] = "ZZZ"
        ids_np[bad[1::2]] = [str(i).upper() for i in ids_np[bad[1::2]]]
        kinds, ids = pa.array(kinds_np, pa.string()), pa.array(ids_np, pa.string())
    return pa.Table.from_arrays([ids, kinds, amounts, notes], schema=arrow)


def by_hand_upgrade(table: pa.Table, target: Path) -> int:
    """pyarrow by hand: the same checks (enum symbols, canonical UUIDs, nulls), two columns, written."""
    bad = pc.invert(pc.is_in(table["kind"], value_set=pa.array(KINDS)))
    bad = pc.or_(bad, pc.invert(pc.match_substring_regex(table["id"], CANONICAL_UUID)))
    invalid = pc.sum(bad).as_py() + table["id"].null_count + table["kind"].null_count + table["amount"].null_count
    if invalid:
        raise ValueError(f"{invalid} invalid rows")
    out = table.append_column("source", pa.repeat("legacy", table.num_rows).cast(pa.string()))
    out = out.append_column("amount_before", table["amount"])
    pq.write_table(out, target)
    return out.num_rows


def by_hand_report(table: pa.Table) -> dict[str, int]:
    """pyarrow by hand: the invalid values of each column counted, with their first rows."""
    found = {}
    for name, bad in (
        ("kind", pc.invert(pc.is_in(table["kind"], value_set=pa.array(KINDS)))),
        ("id", pc.invert(pc.match_substring_regex(table["id"], CANONICAL_UUID))),
    ):
        count = pc.sum(bad).as_py()
        if count:
            pc.indices_nonzero(bad).slice(0, 5).to_pylist()
            found[name] = count
    return found


def ours_report(validator: ColumnValidator, table: pa.Table) -> dict[str, int]:
    return {e.path: int(e.message.split(" ", 1)[0]) for e in validator.errors(table)}


def interleaved(rounds: int, contenders: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """The median time of each contender, run in turn round by round."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(runs) for name, runs in times.items()}


def measure_size(
    rows: int, rounds: int, work: Path, validator: ColumnValidator, upgrader: ColumnUpgrader
) -> list[tuple[str, int, dict[str, float]]]:
    """Both scenarios at one size, with the answers checked first."""
    valid = events_table(rows, validator.arrow)
    dirty = events_table(rows, validator.arrow, invalid_every=10_000)
    expected = by_hand_report(dirty)
    assert ours_report(validator, dirty) == expected, (ours_report(validator, dirty), expected)
    assert sum(expected.values()) == rows // 10_000
    ours_out, hand_out = work / "ours.parquet", work / "hand.parquet"

    def ours_upgrade() -> None:
        pq.write_table(upgrader.upgrade(valid), ours_out)

    upgrade = interleaved(
        rounds,
        {
            "pyarrow by hand": lambda: by_hand_upgrade(valid, hand_out),
            "ColumnUpgrader.upgrade + write_table": ours_upgrade,
        },
    )
    ours, hand = pq.read_table(ours_out), pq.read_table(hand_out)
    assert ours.column_names == hand.column_names
    assert all(ours[n].equals(hand[n]) for n in ours.column_names)  # the same output, value for value
    report = interleaved(
        rounds,
        {
            "pyarrow by hand": lambda: by_hand_report(dirty),
            "ColumnValidator.errors": lambda: ours_report(validator, dirty),
        },
    )
    return [
        ("valid table, v1 -> v2, checked and written", rows, upgrade),
        ("1 row in 10,000 invalid: found and reported", rows, report),
    ]


def measure(sizes: list[int], rounds: int) -> list[tuple[str, int, dict[str, float]]]:
    """Every (scenario, size) with its contenders' median seconds."""
    results = []
    with tempfile.TemporaryDirectory(prefix="columns-bench-") as temp:
        work = Path(temp)
        events = events_subject(work / "registry")
        validator = ColumnValidator(events.schemas[1])
        upgrader = ColumnUpgrader(events, 1, 2)
        for rows in sizes:
            results += measure_size(rows, rounds, work, validator, upgrader)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="250000,1000000,4000000")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"# {os.cpu_count()} cores, load {os.getloadavg()}")
    for scenario, rows, medians in measure([int(s) for s in args.sizes.split(",")], args.rounds):
        base = next(iter(medians.values()))
        print(f"\n{scenario}, {rows:,} rows (median of {args.rounds} interleaved rounds)")
        for name, seconds in medians.items():
            print(f"  {name:40s} {seconds:8.3f} s  {rows / seconds / 1e6:7.2f} M rows/s  {seconds / base:5.2f}x")
    print(f"\n# load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
