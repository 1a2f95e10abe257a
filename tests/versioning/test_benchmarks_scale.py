"""The scale benchmarks still run on tiny sizes (and their own answer checks hold), so they cannot rot unnoticed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("module", "arguments", "expected"),
    [
        (
            "benchmarks.registry_scale",
            ["--gate-subjects", "12", "--check-subjects", "2", "--versions", "4", "--fields", "5", "--rounds", "1"],
            ["gate, cold (no verdicts)", "versioning check, warm (verdicts cached)", "x floor"],
        ),
        ("benchmarks.facade", ["--records", "50", "--rounds", "1"], ["upgrade_data(v1 record, 3)", "x naive"]),
        ("benchmarks.columns", ["--sizes", "20000,30000,40000", "--rounds", "1"], ["ColumnValidator.errors"]),
        (
            "benchmarks.upgrade_workers",
            ["--files", "2", "--rows", "100", "--rounds", "1", "--workers", "1,2"],
            ["local (median", "s3 (median", "x one worker"],
        ),
    ],
)
def test_should_run_a_scale_benchmark_on_tiny_sizes(
    module: str, arguments: list[str], expected: list[str], tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
        env={**os.environ, "VERSIONING_CACHE_DIR": str(tmp_path / "verdicts")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for text in expected:
        assert text in done.stdout
