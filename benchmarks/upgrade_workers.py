"""The per-file upgrade fanned out over 1, 2 and 4 parallel workers, on local folders and on S3.

``python -m benchmarks.upgrade_workers`` writes ``--files`` Parquet files of ``--rows`` ``users`` v1 rows each
(in a temporary folder, deleted afterwards), then upgrades all of them to v3 with
:func:`versioning.datafiles.storage.upgrade_one_file` (what each mapped task of the ``versioning_upgrade`` DAG
runs) from a pool of 1, 2 and 4 worker processes, each process taking files as a Celery worker takes tasks:

- local: input and output folders on the local disk;
- s3: input and output prefixes on a local S3-compatible server (moto's server mode, in this process; its
  request handling shares the machine's cores with the workers).

Worker counts are interleaved round by round; prints the median wall time, files/s and rows/s, and the speed-up
over one worker.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent


def _upgrade(job: tuple[str, str, str]) -> int:
    from versioning.datafiles.storage import upgrade_one_file

    source, input_folder, output_folder = job
    summary = upgrade_one_file(
        source,
        registry=str(ROOT / "schemas"),
        subject="users",
        from_version=1,
        to_version=3,
        input_folder=input_folder,
        output_folder=output_folder,
    )
    return int(summary["rows"])


def _init(arrow_threads: int) -> None:
    """A worker as a pod runs it: its own CPU budget for Arrow (pyarrow otherwise uses every core of the machine
    in each process, and parallel workers would only fight over them)."""
    pa.set_cpu_count(arrow_threads)
    pa.set_io_thread_count(arrow_threads)
    import versioning.datafiles.storage  # noqa: F401  # imports paid before the clock starts, as in a worker


def _ready(_: int) -> None:
    """Nothing: a task per process so that every worker has started before the clock does."""


def run(
    workers: int, sources: list[str], input_folder: str, output_folder: str, arrow_threads: int
) -> tuple[float, int]:
    """Wall time to upgrade every file with ``workers`` processes (started and warmed before timing)."""
    with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(arrow_threads,)) as pool:
        list(pool.map(_ready, range(workers * 4)))
        started = time.perf_counter()
        rows = sum(pool.map(_upgrade, [(s, input_folder, output_folder) for s in sources]))
        return time.perf_counter() - started, rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--only", choices=["local", "s3"])
    parser.add_argument("--arrow-threads", type=int, default=1, help="Arrow's CPU threads per worker (1)")
    args = parser.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="upgrade-workers-") as temp:
        work = Path(temp)
        (work / "in").mkdir()
        rows = [{"id": f"u{i}", "name": f"name {i}", "created_at": "2024-05-01T00:00:00Z"} for i in range(args.rows)]
        table = pa.Table.from_pylist(rows)
        for n in range(args.files):
            pq.write_table(table, work / "in" / f"part-{n:03d}.parquet")
        size = sum(p.stat().st_size for p in (work / "in").iterdir())
        sides: dict[str, tuple[str, str]] = {}
        server = None
        if args.only in (None, "local"):
            sides["local"] = (str(work / "in"), str(work / "out"))
        if args.only in (None, "s3"):
            import boto3
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            server.start()
            os.environ.update(
                AWS_ACCESS_KEY_ID="bench",
                AWS_SECRET_ACCESS_KEY="bench",
                AWS_DEFAULT_REGION="us-east-1",
                AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
            )
            client = boto3.client("s3")
            client.create_bucket(Bucket="bench")
            for path in sorted((work / "in").iterdir()):
                client.upload_file(str(path), "bench", f"in/{path.name}")
            sides["s3"] = ("s3://bench/in", "s3://bench/out")
        from versioning.datafiles.storage import list_data_files

        print(
            f"# {args.files} Parquet files x {args.rows:,} rows ({size / 2**20:.1f} MiB), users v1 -> v3; "
            f"{args.arrow_threads} Arrow thread(s) per worker; {os.cpu_count()} cores, load {os.getloadavg()}"
        )
        for side, (input_folder, output_folder) in sides.items():
            sources = list_data_files(input_folder)
            times: dict[int, list[float]] = {w: [] for w in counts}
            total = 0
            for _ in range(args.rounds):
                for workers in counts:
                    seconds, total = run(workers, sources, input_folder, output_folder, args.arrow_threads)
                    times[workers].append(seconds)
            base = statistics.median(times[counts[0]])
            print(f"\n{side} (median of {args.rounds} interleaved rounds)")
            for workers in counts:
                median = statistics.median(times[workers])
                label = f"{workers} worker{'s' if workers > 1 else ' '}"
                print(
                    f"  {label}  {median:7.2f} s  {len(sources) / median:6.2f} files/s"
                    f"  {total / median / 1e6:6.2f} M rows/s  {base / median:5.2f}x one worker"
                )
        if server is not None:
            server.stop()
    print(f"\n# load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
