"""Benchmark data: the same records for every contender, generated deterministically."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq

SIX_FIELDS = {
    "type": "record",
    "name": "Event",
    "fields": [{"name": n, "type": "string"} for n in ("id", "kind", "source", "actor", "target", "at")],
}
"""Six string fields: the record shape the issue's starting figures were measured on."""


def six_field_records(count: int) -> list[dict[str, Any]]:
    """``count`` records of :data:`SIX_FIELDS`."""
    kinds = ["click", "view", "buy", "share"]
    return [
        {
            "id": f"e{i:09d}",
            "kind": kinds[i % 4],
            "source": f"web-{i % 17}",
            "actor": f"user-{i * 7919 % 100_003}",
            "target": f"item-{i * 104_729 % 1_000_003}",
            "at": f"2024-05-{i % 28 + 1:02d}T12:{i % 60:02d}:00Z",
        }
        for i in range(count)
    ]


def user_records(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` records of the ``users`` subject's v1 (id, name, created_at), with varied text."""
    rng = random.Random(seed)
    names = ["Ann", "Bo", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana"]
    return [
        {
            "id": f"u{i:010d}-{rng.getrandbits(32):08x}",
            "name": f"{rng.choice(names)} {rng.choice(names)}son {rng.getrandbits(20)}",
            "created_at": f"20{rng.randint(10, 24)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T00:00:00Z",
        }
        for i in range(count)
    ]


def user_table(count: int, arrow_schema: pa.Schema, seed: int = 0) -> pa.Table:
    """:func:`user_records` as an Arrow table of the given schema."""
    return pa.Table.from_pylist(user_records(count, seed), schema=arrow_schema)


def write_parquet_of_size(path: Path, megabytes: float, arrow_schema: pa.Schema) -> int:
    """Write a users v1 Parquet file of at least ``megabytes``; returns its row count."""
    group_rows = 200_000 if megabytes >= 50 else 2_000
    rows = 0
    with pq.ParquetWriter(path, arrow_schema, compression="snappy") as writer:
        seed = 0
        while True:
            writer.write_table(user_table(group_rows, arrow_schema, seed))
            rows += group_rows
            seed += 1
            if path.stat().st_size >= megabytes * 1e6:
                break
    return rows


def write_avro_of_size(path: Path, megabytes: float, avro_schema: dict[str, Any]) -> int:
    """Write a users v1 Avro container file (deflate) of at least ``megabytes``; returns its record count."""
    block_rows = 100_000 if megabytes >= 50 else 2_000
    parsed = fastavro.parse_schema(avro_schema)
    rows = 0
    with path.open("wb") as out:
        writer = fastavro.write.Writer(out, parsed, codec="deflate")
        seed = 0
        while out.tell() < megabytes * 1e6:
            for record in user_records(block_rows, seed):
                writer.write(record)
            writer.flush()
            rows += block_rows
            seed += 1
    return rows
