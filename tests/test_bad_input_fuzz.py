"""Fuzzing every reader: whatever the bytes, only the project's own error types come out (never a traceback of
fastavro, pyarrow, PyYAML or Python itself), and nothing is written from a file that could not be read.

Readers: JSON Lines, Avro (the decoding path and the byte path), Parquet (rows and the column upgrade), a registry's
subject.yaml, a stack file (through ``pipeline-platform gate``), a datapipe config.yaml. Damaged inputs start from a
valid file written by fastavro or pyarrow, then get bytes flipped, cut or inserted.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datapipe.errors import DatapipeError
from versioning import Registry, VersioningError
from versioning.datafiles import read_batches
from versioning.datafiles.upgrade import upgrade_avro, upgrade_parquet

ROOT = Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
V1 = json.loads((ROOT / "schemas" / "users" / "v1.avsc").read_text())
ROWS = [{"id": f"u-{i}", "name": f"Náme {i}", "created_at": "2024-01-01T00:00:00Z"} for i in range(40)]
USERS = Registry.load(ROOT / "schemas").subject("users")


def _avro(codec: str) -> bytes:
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(V1), ROWS, codec=codec, sync_interval=200)
    return out.getvalue()


def _parquet() -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(ROWS), out, row_group_size=10, write_page_checksum=True)
    return out.getvalue()


GOOD = {"null": _avro("null"), "deflate": _avro("deflate"), "parquet": _parquet()}


@st.composite
def damaged(draw: st.DrawFn, good: bytes) -> bytes:
    """``good`` with a few bytes flipped, a slice cut out, or random bytes put in."""
    data = bytearray(good)
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if how == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif how == "cut":
            del data[at : at + draw(st.integers(1, 16))]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at:]
    return bytes(data)


def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="fuzz-"))


def _read_all(path: Path, **options: object) -> None:
    for _ in read_batches(path, batch_size=7, **options):  # type: ignore[arg-type]
        pass


@FUZZ
@given(data=st.binary(max_size=400), keep_going=st.booleans())
def test_should_raise_only_data_file_errors_reading_jsonl(data: bytes, keep_going: bool) -> None:
    folder = _scratch()
    try:
        path = folder / "in.jsonl"
        path.write_bytes(data)
        with contextlib.suppress(VersioningError):
            _read_all(path, schema=V1, unreadable_lines=keep_going)
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("codec", ["null", "deflate"])
@FUZZ
@given(data=st.data())
def test_should_raise_only_versioning_errors_reading_or_upgrading_avro(codec: str, data: st.DataObject) -> None:
    bad = data.draw(damaged(GOOD[codec]))
    folder = _scratch()
    try:
        source = folder / "in.avro"
        source.write_bytes(bad)
        with contextlib.suppress(VersioningError):
            _read_all(source, max_block_bytes=1 << 20)
        for byte_path in (True, False):
            target = folder / f"out-{byte_path}.avro"
            try:
                upgrade_avro(USERS, source, target, 3, 1, byte_path=byte_path, max_block_bytes=1 << 20)
            except VersioningError:
                assert not target.exists()
        assert not list(folder.glob(".*.tmp"))
    finally:
        shutil.rmtree(folder)


@FUZZ
@given(data=st.data())
def test_should_raise_only_versioning_errors_reading_or_upgrading_parquet(data: st.DataObject) -> None:
    bad = data.draw(damaged(GOOD["parquet"]))
    folder = _scratch()
    try:
        source = folder / "in.parquet"
        source.write_bytes(bad)
        with contextlib.suppress(VersioningError):
            _read_all(source)
        try:
            upgrade_parquet(USERS, source, folder / "out.parquet", 3, 1)
        except VersioningError:
            assert not (folder / "out.parquet").exists()
    finally:
        shutil.rmtree(folder)


YAML_TEXT = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    ).map(lambda v: yaml.safe_dump(v).encode()),
)


@FUZZ
@given(text=YAML_TEXT)
def test_should_raise_only_registry_errors_loading_a_subject_yaml(text: bytes) -> None:
    folder = _scratch()
    try:
        shutil.copytree(ROOT / "schemas", folder / "schemas")
        (folder / "schemas" / "users" / "subject.yaml").write_bytes(text)
        with contextlib.suppress(VersioningError):
            Registry.load(folder / "schemas")
    finally:
        shutil.rmtree(folder)


@FUZZ
@given(text=YAML_TEXT)
def test_should_answer_with_an_exit_code_for_any_stack_file(text: bytes) -> None:
    from infra.cli import main

    folder = _scratch()
    try:
        project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
        project["main"] = str(ROOT / "infra")
        (folder / "Pulumi.yaml").write_text(yaml.safe_dump(project))
        (folder / "Pulumi.fuzz.yaml").write_bytes(text)
        code = main(["gate", "--stack", "fuzz", "--live-color", "blue", "--project-dir", str(folder)])
        assert code in (0, 1, 2)
    finally:
        shutil.rmtree(folder)


@FUZZ
@given(text=YAML_TEXT)
def test_should_raise_only_datapipe_errors_loading_a_config(text: bytes) -> None:
    from datapipe.config import load_project

    folder = _scratch()
    try:
        (folder / "config.yaml").write_bytes(text)
        with contextlib.suppress(DatapipeError):
            load_project(folder / "config.yaml")
    finally:
        shutil.rmtree(folder)
