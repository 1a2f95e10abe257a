"""The scale-out upgrade: its task function on real files, and the DAG's shape as Airflow parses it."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from versioning import VersioningError
from versioning.datafiles import storage
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


# Object storage: the same upgrade on s3:// against a local S3-compatible server (moto's server mode), as worker
# pods that share no disk run it; and the DAG's mapped tasks run for real by Airflow against that server.

S3_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A local S3-compatible server on 127.0.0.1 and a free port; the AWS variables point clients at it."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in [*S3_KEYS, "AWS_ENDPOINT_URL"]}
    os.environ.update(S3_KEYS, AWS_ENDPOINT_URL=endpoint)
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def bucket(s3_endpoint: str, folder: Path, request: pytest.FixtureRequest) -> str:
    """A fresh bucket holding the input folder's files under ``in/`` (the stray and temporary ones too)."""
    import boto3

    name = f"lake-{abs(hash(request.node.nodeid)) % 10**8}"
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=name)
    for path in folder.rglob("*"):
        if path.is_file():
            client.upload_file(str(path), name, f"in/{path.relative_to(folder).as_posix()}")
    return name


def _objects(bucket: str, prefix: str) -> dict[str, bytes]:
    import boto3

    client = boto3.client("s3")
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    # Keys ending in "/" are the empty folder markers pyarrow keeps so that a prefix stays listable.
    keys = [o["Key"] for o in listed if not o["Key"].endswith("/")]
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def _upgraded_rows(objects: dict[str, bytes]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key, body in objects.items():
        if key.endswith(".parquet"):
            rows += pq.read_table(pa.BufferReader(body)).to_pylist()
        else:
            rows += list(fastavro.reader(io.BytesIO(body)))
    return sorted(rows, key=lambda r: int(r["id"][1:]))


EXPECTED = [{k: v for k, v in USERS.convert(r, 3, 1).items() if k != VERSION_FIELD} for r in _rows(0, 100)]


def test_should_list_only_the_data_objects_under_an_s3_prefix(bucket: str) -> None:
    assert storage.list_data_files(f"s3://{bucket}/in") == [
        f"s3://{bucket}/in/2024-05/part-1.parquet",
        f"s3://{bucket}/in/part-0.parquet",
        f"s3://{bucket}/in/part-2.avro",
    ]
    assert storage.list_data_files(f"s3://{bucket}/in/", "*.avro") == [f"s3://{bucket}/in/part-2.avro"]


def test_should_name_an_empty_input_prefix(bucket: str) -> None:
    with pytest.raises(DataFileError, match="nothing under this input prefix; check the 'input' parameter"):
        storage.list_data_files(f"s3://{bucket}/nowhere")


@pytest.mark.parametrize(("source_side", "target_side"), [("s3", "s3"), ("s3", "local"), ("local", "s3")])
def test_should_upgrade_between_object_storage_and_local_folders(
    bucket: str, folder: Path, tmp_path: Path, source_side: str, target_side: str
) -> None:
    input_folder = f"s3://{bucket}/in" if source_side == "s3" else str(folder)
    output_folder = f"s3://{bucket}/out" if target_side == "s3" else str(tmp_path / "out")
    summaries = [
        storage.upgrade_one_file(
            source,
            registry=str(ROOT / "schemas"),
            subject="users",
            from_version=1,
            to_version=3,
            input_folder=input_folder,
            output_folder=output_folder,
            batch_size=16,
        )
        for source in storage.list_data_files(input_folder)
    ]
    assert json.loads(json.dumps(summaries)) == summaries
    assert sorted(s["target"] for s in summaries) == sorted(
        f"{output_folder}/{name}" for name in ("2024-05/part-1.parquet", "part-0.parquet", "part-2.avro")
    )
    if target_side == "s3":
        written = _objects(bucket, "out/")
    else:
        written = {str(p): p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert len(written) == 3  # no temporary object or file left beside them
    assert _upgraded_rows(written) == EXPECTED


def test_should_write_nothing_when_a_file_cannot_be_upgraded_and_be_safe_to_retry(bucket: str, tmp_path: Path) -> None:
    import boto3

    bad = tmp_path / "bad.parquet"
    rows = [*_rows(0, 10), {"id": "u10", "name": None, "created_at": "2024-05-01"}]
    pq.write_table(pa.Table.from_pylist(rows), bad)
    boto3.client("s3").upload_file(str(bad), bucket, "in/bad.parquet")
    arguments: dict[str, Any] = {
        "registry": str(ROOT / "schemas"),
        "subject": "users",
        "from_version": 1,
        "to_version": 3,
        "input_folder": f"s3://{bucket}/in",
        "output_folder": f"s3://{bucket}/out",
    }
    with pytest.raises(VersioningError, match="name"):
        storage.upgrade_one_file(f"s3://{bucket}/in/bad.parquet", **arguments)
    assert _objects(bucket, "out/") == {}  # neither a partial object nor a temporary one
    good = f"s3://{bucket}/in/part-0.parquet"
    storage.upgrade_one_file(good, **arguments)
    first = _objects(bucket, "out/")
    storage.upgrade_one_file(good, **arguments)  # a retried task: the same object, nothing else
    assert _objects(bucket, "out/") == first
    assert list(first) == ["out/part-0.parquet"]


@pytest.mark.skipif(not AIRFLOW_PYTHON.exists(), reason="the Airflow virtualenv (.venv-airflow) is not set up")
def test_should_run_the_dags_mapped_upgrade_tasks_against_object_storage(bucket: str, tmp_path: Path) -> None:
    # The Airflow virtualenv has dags/requirements.txt installed (scripts/airflow-venv.sh), as the image has;
    # the project itself is on the path as the image's PYTHONPATH puts it.
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "PYTHONPATH": str(ROOT),
        "VERSIONING_CACHE_DIR": str(tmp_path / "verdicts"),
    }
    airflow = AIRFLOW_PYTHON.parent / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    script = """
import json, sys
from airflow.models.dagbag import DagBag
dag = DagBag(dag_folder=sys.argv[1], include_examples=False).dags["versioning_upgrade"]
run = dag.test(run_conf=json.loads(sys.argv[2]))
print(json.dumps({"state": str(run.state),
                  "tasks": sorted([ti.task_id, ti.map_index, str(ti.state)] for ti in run.get_task_instances())}))
"""
    conf = {
        "input": f"s3://{bucket}/in",
        "output": f"s3://{bucket}/out",
        "subject": "users",
        "from_version": 1,
        "to_version": 3,
        "batch_size": 16,
        "registry": str(ROOT / "schemas"),
    }
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", script, str(ROOT / "dags" / "versioning_upgrade.py"), json.dumps(conf)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["state"] == "success", done.stderr[-4000:]
    assert result["tasks"] == [
        ["list_files", -1, "success"],
        ["upgrade_file", 0, "success"],
        ["upgrade_file", 1, "success"],
        ["upgrade_file", 2, "success"],
    ]
    written = _objects(bucket, "out/")
    assert sorted(written) == ["out/2024-05/part-1.parquet", "out/part-0.parquet", "out/part-2.avro"]
    assert _upgraded_rows(written) == EXPECTED
