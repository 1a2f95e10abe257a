"""One file measurement in its own process, so its peak RSS is its own: ``python -m benchmarks.file_child``.

Prints one JSON object: seconds, rows, peak RSS in MiB (this process's own high-water mark, see
:func:`own_peak_mib`), CPU seconds (user + system, imports included).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import fastavro
import pyarrow.parquet as pq

from versioning.datafiles.avro_bytes import upgrade_avro_bytes
from versioning.datafiles.upgrade import PARQUET_READ, upgrade_avro, upgrade_parquet
from versioning.registry import Registry


def plain_parquet(source: Path, target: Path, batch_size: int) -> int:
    """The peer: pyarrow reads the file in batches and writes them back, nothing else."""
    parquet = pq.ParquetFile(source, **PARQUET_READ)  # read as the upgrade reads, so only the work differs
    rows = 0
    with pq.ParquetWriter(target, parquet.schema_arrow, compression="snappy") as writer:
        for batch in parquet.iter_batches(batch_size=batch_size):
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def plain_avro(source: Path, target: Path) -> int:
    """The peer: fastavro reads every record and writes it back with the same schema and codec."""
    count = [0]

    def counted(records: Iterable[Any]) -> Iterator[Any]:
        for record in records:
            count[0] += 1
            yield record

    with source.open("rb") as handle, target.open("wb") as out:
        reader = fastavro.reader(handle)
        fastavro.writer(out, reader.writer_schema, counted(reader), codec=reader.codec)
    return count[0]


def floor_avro(source: Path, target: Path, v3: dict[str, object]) -> int:
    """The least any v1 -> v3 upgrade can do with fastavro: read, build the v3 dicts inline, write; no checks."""
    count = [0]

    def moved(records: Iterable[Any]) -> Iterator[Any]:
        for r in records:
            count[0] += 1
            yield {**r, "email": None, "updated_at": r["created_at"], "phone": None}

    with source.open("rb") as handle, target.open("wb") as out:
        reader = fastavro.reader(handle)
        fastavro.writer(out, fastavro.parse_schema(v3), moved(reader), codec=reader.codec)
    return count[0]


def own_peak_mib(usage: resource.struct_rusage) -> float:
    """This process's own peak RSS in MiB: ``VmHWM``, the high-water mark of the memory it runs in.

    Not ``ru_maxrss`` alone: Linux carries the forking parent's high-water mark into the child's ``ru_maxrss``
    across ``exec`` (so a child of a 222 MiB parent reports at least 222 MiB). ``ru_maxrss`` only where there is
    no ``/proc`` (it is in KiB on Linux, bytes on macOS).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    modes = ["parquet-plain", "parquet-fast", "avro-plain", "avro-floor", "avro-decode", "avro-bytes"]
    parser.add_argument("mode", choices=modes)
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--registry", default="schemas")
    parser.add_argument("--batch-size", type=int, default=65_536)
    args = parser.parse_args()
    users = Registry.load(args.registry).subject("users")
    started = time.perf_counter()
    if args.mode == "parquet-plain":
        rows = plain_parquet(args.source, args.target, args.batch_size)
    elif args.mode == "parquet-fast":
        rows = upgrade_parquet(users, args.source, args.target, 3, 1, batch_size=args.batch_size)
    elif args.mode == "avro-plain":
        rows = plain_avro(args.source, args.target)
    elif args.mode == "avro-floor":
        rows = floor_avro(args.source, args.target, users.schema(3))
    elif args.mode == "avro-decode":
        rows = upgrade_avro(users, args.source, args.target, 3, 1, batch_size=args.batch_size, byte_path=False)
    else:  # the byte path itself, so a refusal fails the run instead of measuring the decoding path
        rows = upgrade_avro_bytes(users, args.source, args.target, 3, 1)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = own_peak_mib(usage)
    # CPU time beside wall time: the Avro byte path compresses in threads, so its wall time can be less.
    cpu = usage.ru_utime + usage.ru_stime
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss_mib": peak, "cpu_seconds": cpu}))


if __name__ == "__main__":
    main()
