"""datapipe's extractor beside PostgreSQL's own ``COPY ... TO STDOUT`` on the same table, same server.

Starts a PostgreSQL server the way the tests do (``tests/support/local_servers.py``), fills a 12-column table
with generated rows, then measures, each in a fresh child process (so peak RSS is the extraction's own):

- ``COPY (SELECT ...) TO STDOUT``: psycopg reads every byte the server sends (text format), nothing else;
- ``datapipe extract``: the same rows into Avro part files (deflate) under a temporary folder.

Prints rows/s, the ratio of the extractor to COPY, and each child's peak RSS::

    .venv/bin/python -m benchmarks.extract_postgres                # 1,000,000 rows
    .venv/bin/python -m benchmarks.extract_postgres --rows 200000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

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

COPY_CHILD = """
import json, resource, sys, time, psycopg
url = sys.argv[1]
with psycopg.connect(url) as connection, connection.cursor() as cursor:
    started = time.perf_counter()
    size = 0
    with cursor.copy("COPY (SELECT * FROM bench) TO STDOUT") as copy:
        for block in copy:
            size += len(block)
    elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "bytes": size, "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

EXTRACT_CHILD = """
import json, resource, sys, tempfile, time
from datapipe.config import load_project
from datapipe.extract import extract_table
project = load_project(sys.argv[1])
with tempfile.TemporaryDirectory() as out:
    started = time.perf_counter()
    result = extract_table(project, "bench", out)
    elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "rows": result.rows, "files": len(result.files), "fetch": result.fetch,
                  "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def child(code: str, *args: str, env: dict[str, str] | None = None) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          check=True, env=env, cwd=ROOT)
    report: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    options = parser.parse_args()

    server = start_postgres()
    try:
        url = sa.make_url(server.url)
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql(TABLE_DDL)
            connection.exec_driver_sql(FILL, {"rows": options.rows})
            connection.exec_driver_sql("ANALYZE bench")
        engine.dispose()
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
            from datapipe.config import load_project
            from datapipe.schema_generation import generate_schema

            os.environ["BENCH_PGUSER"] = env["BENCH_PGUSER"]
            generate_schema(load_project(config), "bench")
            plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
            copy = child(COPY_CHILD, plain, env=env)
            extract = child(EXTRACT_CHILD, str(config), env=env)
    finally:
        server.stop()

    rows = options.rows
    if extract["rows"] != rows:
        raise SystemExit(f"the extractor wrote {extract['rows']} rows, not {rows}")
    copy_rate, extract_rate = rows / copy["seconds"], rows / extract["seconds"]
    print(json.dumps({"rows": rows, "columns": 12}))
    print(f"{'contender':<34} {'time':>8} {'rows/s':>12} {'vs COPY':>8} {'peak RSS':>10}")
    print(f"{'PostgreSQL COPY ... TO STDOUT':<34} {copy['seconds']:>7.2f}s {copy_rate:>12,.0f} {1.0:>7.2f}x "
          f"{copy['rss_kib'] / 1024:>8.0f} MiB")
    label = f"datapipe extract ({extract['fetch']} fetch)"
    print(f"{label:<34} {extract['seconds']:>7.2f}s {extract_rate:>12,.0f} "
          f"{extract_rate / copy_rate:>7.2f}x {extract['rss_kib'] / 1024:>8.0f} MiB")


if __name__ == "__main__":
    main()
