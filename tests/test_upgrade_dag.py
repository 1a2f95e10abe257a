"""The scale-out upgrade: its task function on real files, and the DAG's shape as Airflow parses it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from versioning.datafiles.errors import DataFileError
from versioning.datafiles.service import list_data_files, output_path, upgrade_one_file
from versioning.registry import VERSION_FIELD, Registry
from versioning.validation import ColumnValidator

ROOT = Path(__file__).resolve().parent.parent
USERS = Registry.load(ROOT / "schemas").subject("users")
AIRFLOW_PYTHON = ROOT / ".venv-airflow" / "bin" / "python"


def _rows(first: int, count: int) -> list[dict[str, Any]]:
    return [{"id": f"u{i}", "name": f"n{i}", "created_at": "2024-05-01"} for i in range(first, first + count)]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An input folder as producers leave it: Parquet and Avro files, a subfolder, a temp file, a stray CSV."""
    data = tmp_path / "in"
    (data / "2024-05").mkdir(parents=True)
    arrow = ColumnValidator(USERS.schemas[1]).arrow
    pq.write_table(pa.Table.from_pylist(_rows(0, 50), schema=arrow), data / "part-0.parquet")
    pq.write_table(pa.Table.from_pylist(_rows(50, 30), schema=arrow), data / "2024-05" / "part-1.parquet")
    with (data / "part-2.avro").open("wb") as out:
        fastavro.writer(out, fastavro.parse_schema(USERS.schema(1)), _rows(80, 20))
    (data / ".part-3.parquet.1a2b.tmp").write_bytes(b"half")
    (data / "notes.csv").write_text("a,b\n")
    return data


def test_should_list_only_the_data_files_sorted(folder: Path) -> None:
    assert [Path(p).relative_to(folder).as_posix() for p in list_data_files(folder)] == [
        "2024-05/part-1.parquet",
        "part-0.parquet",
        "part-2.avro",
    ]
    assert [Path(p).name for p in list_data_files(folder, "*.avro")] == ["part-2.avro"]


def test_should_name_a_missing_input_folder(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="the input folder does not exist; check the 'input' parameter"):
        list_data_files(tmp_path / "nowhere")


def test_should_upgrade_every_file_into_the_output_folder_as_the_tasks_would(folder: Path, tmp_path: Path) -> None:
    output = tmp_path / "out"
    summaries = [
        upgrade_one_file(
            source,
            registry=str(ROOT / "schemas"),
            subject="users",
            from_version=1,
            to_version=3,
            input_folder=str(folder),
            output_folder=str(output),
            batch_size=16,
        )
        for source in list_data_files(folder)
    ]
    assert sum(s["rows"] for s in summaries) == 100
    assert json.loads(json.dumps(summaries)) == summaries  # what the task returns goes to XCom as JSON
    upgraded = pq.read_table(output / "part-0.parquet").to_pylist()
    upgraded += pq.read_table(output / "2024-05" / "part-1.parquet").to_pylist()
    with (output / "part-2.avro").open("rb") as handle:
        upgraded += list(fastavro.reader(handle))
    expected = [{k: v for k, v in USERS.convert(r, 3, 1).items() if k != VERSION_FIELD} for r in _rows(0, 100)]
    assert sorted(upgraded, key=lambda r: int(r["id"][1:])) == expected


def test_should_put_outputs_at_the_same_relative_path(tmp_path: Path) -> None:
    source = tmp_path / "in" / "a" / "b.parquet"
    assert output_path(source, tmp_path / "in", tmp_path / "out") == tmp_path / "out" / "a" / "b.parquet"


@pytest.mark.skipif(not AIRFLOW_PYTHON.exists(), reason="the Airflow virtualenv (.venv-airflow) is not set up")
def test_should_map_one_upgrade_task_per_file_on_the_configured_queue(tmp_path: Path) -> None:
    script = """
import json, sys
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
dag = bag.dags["versioning_upgrade"] if "versioning_upgrade" in bag.dags else None
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "tasks": {t.task_id: [t.queue, type(t).__name__, sorted(t.upstream_task_ids)] for t in dag.tasks} if dag else {},
    "params": sorted(dag.params) if dag else [],
}))
"""
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "VERSIONING_UPGRADE_QUEUE": "upgrades"}
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", script, str(ROOT / "dags" / "versioning_upgrade.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    parsed = json.loads(done.stdout.strip().splitlines()[-1])
    assert parsed["errors"] == {}
    assert parsed["tasks"]["upgrade_file"] == ["upgrades", "DecoratedMappedOperator", ["list_files"]]
    assert set(parsed["params"]) >= {"input", "output", "subject", "from_version", "to_version", "batch_size"}
