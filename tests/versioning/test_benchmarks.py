"""The benchmark command still runs, in its quickest mode on tiny data, so it cannot rot unnoticed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_should_run_every_benchmark_group_and_print_ratios(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    titles = ("Rows: validate", "Rows: users v1 -> v3", "Columns:", "Files: parquet", "Files: avro", "Compatibility:")
    for title in titles:
        assert title in done.stdout
    for contender in ("msgspec convert", "pydantic v2", "fast RowValidator", "fastavro read + write", "pyarrow read"):
        assert contender in done.stdout
    assert "1.00x" in done.stdout
