"""Reading Avro defensively, beside fastavro's own reader (which trusts the file).

    .venv/bin/python benchmarks/avro_reading.py [--rows 200000] [--repeat 5]

Writes one ``users`` v3 Avro file (deflate, fastavro's default block size), then reads every record with
fastavro's ``reader`` (the baseline: no magic check, blocks inflated whole, leftover bytes ignored) and with
``versioning.datafiles.read_batches`` (framed by ``avro_container``: magic, codec, block sizes and counts, sync
markers, exact record ends, inflation bounded by ``--max-block-bytes``). Prints the best time of each and the
ratio to the baseline, and the peak memory of inflating a 256 MiB deflate bomb with fastavro versus the bounded
inflater refusing it at the default limit.
"""

from __future__ import annotations

import argparse
import io
import json
import time
import tracemalloc
import zlib
from pathlib import Path
from tempfile import TemporaryDirectory

import fastavro

from versioning.datafiles import DataFileError, read_batches

ROOT = Path(__file__).resolve().parents[1]


def _best(run: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def _bomb(expanded: int, schema: dict[str, object]) -> bytes:
    """One record whose name is ``expanded`` bytes, deflated a megabyte at a time."""
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(schema), [], codec="deflate")
    header = out.getvalue()
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [compressor.compress(b"\x02x" + _zigzag(expanded))]
    parts += [compressor.compress(b"a" * (1 << 20)) for _ in range(expanded >> 20)]
    parts.append(compressor.compress(b"\x02z") + compressor.flush())
    body = b"".join(parts)
    sync = header[-16:]
    return header + _zigzag(1) + _zigzag(len(body)) + body + sync


def _zigzag(value: int) -> bytes:
    n, out = (value << 1) ^ (value >> 63), bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    schema = json.loads((ROOT / "schemas" / "users" / "v1.avsc").read_text())
    rows = [{"id": f"u-{i}", "name": f"Name {i}", "created_at": "2024-01-01T00:00:00Z"} for i in range(args.rows)]
    with TemporaryDirectory() as folder:
        path = Path(folder) / "users.avro"
        with path.open("wb") as handle:
            fastavro.writer(handle, fastavro.parse_schema(schema), rows, codec="deflate")

        def baseline() -> None:
            with path.open("rb") as handle:
                for _ in fastavro.reader(handle):
                    pass

        def defensive() -> None:
            for _ in read_batches(path):
                pass

        base, ours = _best(baseline, args.repeat), _best(defensive, args.repeat)
        print(f"{args.rows} records, {path.stat().st_size / 1e6:.1f} MB deflate, best of {args.repeat}")
        print(f"  fastavro.reader (trusts the file)       {base:7.3f} s   1.00x")
        print(f"  read_batches (framed, bounded)          {ours:7.3f} s   {ours / base:4.2f}x")

        bomb = Path(folder) / "bomb.avro"
        bomb.write_bytes(_bomb(256 << 20, schema))
        tracemalloc.start()
        with bomb.open("rb") as handle:
            for _ in fastavro.reader(handle):
                pass
        trusting = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        tracemalloc.start()
        try:
            for _ in read_batches(bomb, max_block_bytes=16 << 20):
                pass
        except DataFileError:
            pass
        bounded = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"deflate bomb: {bomb.stat().st_size / 1e3:.0f} kB on disk, one record of 256 MiB")
        print(f"  fastavro.reader peak Python memory      {trusting / 2**20:7.0f} MiB (read whole)")
        print(f"  read_batches, --max-block-bytes 16 MiB  {bounded / 2**20:7.0f} MiB (refused at the limit)")


if __name__ == "__main__":
    main()
