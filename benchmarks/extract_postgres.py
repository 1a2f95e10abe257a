"""datapipe's extractor beside PostgreSQL's own ``COPY ... TO STDOUT`` on the same table, same server.

Starts a PostgreSQL server the way the tests do (``tests/support/local_servers.py``), fills a 12-column table
with generated rows, then measures, each run in a fresh child process (so peak memory is the run's own):

- ``COPY (SELECT ...) TO STDOUT``: psycopg reads every byte the server sends (text format), nothing else;
- ``datapipe extract``: the same rows into Avro part files (deflate) under a temporary folder.

The two (three with ``--baseline``) take turns for ``--rounds`` rounds (who goes first rotates), so a burst of
load from other work on the machine hits them all. Prints every round (times, the ratio of the extractor's
throughput to COPY's, each child's peak RSS as ``VmHWM`` from ``/proc/self/status``, the 1-minute load average
when the round ended), then the median, lowest and highest ratio and how many rounds reached a third of COPY.
Several ``--rows`` measure each size in turn on the same server (the table refilled), which shows whether peak
memory follows the table::

    .venv/bin/python -m benchmarks.extract_postgres                          # 1,000,000 rows, 5 rounds
    .venv/bin/python -m benchmarks.extract_postgres --rows 100000 --rounds 3
    .venv/bin/python -m benchmarks.extract_postgres --rows 100000 1000000 2000000 --rounds 2
    .venv/bin/python -m benchmarks.extract_postgres --baseline /tmp/before   # also an earlier checkout's extractor
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

from local_servers import start_postgres  # noqa: E402  (the tests' own server start-up)

TABLE_DDL = """CREATE TABLE bench (
    id bigint PRIMARY KEY, quantity integer NOT NULL, customer bigint, amount numeric(12, 2), ratio double precision,
    name text, code varchar(40), created timestamp, updated timestamptz, day date, active boolean,
    exact numeric(18, 4))"""
FILL = """INSERT INTO bench SELECT g, g %% 1000, g * 7, (g %% 100000) / 100.0, g / 3.0, 'customer ' || g,
    md5(g::text), timestamp '2020-01-01' + g * interval '1 second', timestamptz '2020-01-01 UTC' + g * interval '1 ms',
    date '2020-01-01' + (g %% 3000), g %% 2 = 0, g / 7.0 FROM generate_series(1, %(rows)s) AS g"""

# ru_maxrss is not used: Linux carries the forking parent's high-water mark into a child's ru_maxrss across exec.
PEAK = """
def peak_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
"""

COPY_CHILD = PEAK + """
import json, sys, time, psycopg
url = sys.argv[1]
with psycopg.connect(url) as connection, connection.cursor() as cursor:
    started = time.perf_counter()
    size = 0
    with cursor.copy("COPY (SELECT * FROM bench) TO STDOUT") as copy:
        for block in copy:
            size += len(block)
    elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "bytes": size, "rss_kib": peak_kib()}))
"""

EXTRACT_CHILD = PEAK + """
import json, sys, tempfile, time
from datapipe.config import load_project
from datapipe.extract import extract_table
project = load_project(sys.argv[1])
with tempfile.TemporaryDirectory() as out:
    started = time.perf_counter()
    result = extract_table(project, "bench", out)
    elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "rows": result.rows, "files": len(result.files), "fetch": result.fetch,
                  "rss_kib": peak_kib(), "package": sys.modules["datapipe"].__file__}))
"""


def child(code: str, *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> dict[str, Any]:
    # ``python -c`` puts the working directory first on sys.path: the datapipe package imported is cwd's.
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          check=True, env=env, cwd=cwd)
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another checkout of this project whose extractor also takes "
                        "its turn each round (e.g. `git worktree add /tmp/before <commit>`), for a before/after")
    options = parser.parse_args()

    server = start_postgres()
    try:
        url = sa.make_url(server.url)
        with tempfile.TemporaryDirectory() as folder:
            config = Path(folder) / "config.yaml"
            config.write_text(yaml.safe_dump({
                "project": {"name": "bench"},
                "source": {"kind": "postgresql", "host": url.host, "port": url.port, "database": url.database,
                           "username": "${BENCH_PGUSER}"},
                "destination": {"cloud": "gcp", "project_id": "p", "dataset": "d", "staging_bucket": "bench-staging"},
                "airflow": {"start_date": "2025-01-01", "extractor_image": "x"},
                "tables": [{"name": "bench", "load_mode": "full"}],
            }))
            env = {**os.environ, "BENCH_PGUSER": url.username or "postgres"}
            os.environ["BENCH_PGUSER"] = env["BENCH_PGUSER"]
            plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
            for rows in options.rows:
                fill(url, rows)
                if rows == options.rows[0]:
                    from datapipe.config import load_project
                    from datapipe.schema_generation import generate_schema

                    generate_schema(load_project(config), "bench")
                measure(rows, options.rounds, plain, str(config), env, options.baseline)
    finally:
        server.stop()


def fill(url: sa.URL, rows: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS bench")
        connection.exec_driver_sql(TABLE_DDL)
        connection.exec_driver_sql(FILL, {"rows": rows})
        connection.exec_driver_sql("ANALYZE bench")
    engine.dispose()


def measure(rows: int, rounds: int, url: str, config: str, env: dict[str, str], baseline: Path | None) -> None:
    print(json.dumps({"rows": rows, "columns": 12, "rounds": rounds, "cores": os.cpu_count()}))
    extra = f" {'baseline':>9} {'vs COPY':>8} {'its RSS':>10}" if baseline else ""
    print(f"{'round':>5} {'COPY':>8} {'extract':>8} {'vs COPY':>8}{extra} {'COPY RSS':>9} {'extract RSS':>12} "
          f"{'load 1m':>8}  fetch")
    ratios, peaks, before = [], [], []
    for round_ in range(1, rounds + 1):
        runs: dict[str, Any] = {}
        turns: list[tuple[str, str, str, Path]] = [
            ("copy", COPY_CHILD, url, ROOT), ("extract", EXTRACT_CHILD, config, ROOT)]
        if baseline is not None:
            turns.append(("baseline", EXTRACT_CHILD, config, baseline))
        # Rotate who goes first, so none always meets the machine as another left it.
        shift = (round_ - 1) % len(turns)
        for name, code, argument, folder in turns[shift:] + turns[:shift]:
            runs[name] = child(code, argument, env=env, cwd=folder)
        copy, extract = runs["copy"], runs["extract"]
        for name in ("extract", "baseline"):
            if name in runs and runs[name]["rows"] != rows:
                raise SystemExit(f"the {name} extractor wrote {runs[name]['rows']} rows, not {rows}")
        if baseline is not None and not Path(runs["baseline"]["package"]).is_relative_to(baseline.resolve()):
            raise SystemExit(f"the baseline imported {runs['baseline']['package']}, not the package in {baseline}")
        ratio = copy["seconds"] / extract["seconds"]  # throughput ratio: same rows
        ratios.append(ratio)
        peaks.append(extract["rss_kib"] / 1024)
        shown = ""
        if baseline is not None:
            before.append(copy["seconds"] / runs["baseline"]["seconds"])
            old = runs["baseline"]
            shown = f" {old['seconds']:>8.2f}s {before[-1]:>7.2f}x {old['rss_kib'] / 1024:>6.0f} MiB"
        print(f"{round_:>5} {copy['seconds']:>7.2f}s {extract['seconds']:>7.2f}s {ratio:>7.2f}x{shown} "
              f"{copy['rss_kib'] / 1024:>6.0f} MiB {extract['rss_kib'] / 1024:>8.0f} MiB {os.getloadavg()[0]:>8.2f}  "
              f"{extract['fetch']}", flush=True)
    reached = sum(r >= 1 / 3 for r in ratios)
    print(f"extract vs COPY at {rows:,} rows: median {statistics.median(ratios):.2f}x, lowest {min(ratios):.2f}x, "
          f"highest {max(ratios):.2f}x; a third of COPY or more in {reached} of {len(ratios)} rounds; "
          f"extract peak RSS {min(peaks):.0f}-{max(peaks):.0f} MiB", flush=True)
    if before:
        print(f"baseline ({baseline}) vs COPY: median {statistics.median(before):.2f}x, lowest {min(before):.2f}x, "
              f"highest {max(before):.2f}x", flush=True)
    print()


if __name__ == "__main__":
    main()
