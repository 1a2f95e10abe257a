"""Upgrading real Parquet and Avro files: the records Subject.convert gives, streamed, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from versioning.datafiles.errors import DataFileError
from versioning.datafiles.upgrade import upgrade_file
from versioning.registry import VERSION_FIELD, Registry
from versioning.validation import ColumnValidator

USERS = Registry.load("schemas").subject("users")


def _rows(count: int) -> list[dict[str, Any]]:
    return [{"id": f"u{i}", "name": f"n{i}", "created_at": f"2024-01-{i % 28 + 1:02d}"} for i in range(count)]


def _expected(rows: list[dict[str, Any]], to: int = 3) -> list[dict[str, Any]]:
    return [{k: v for k, v in USERS.convert(r, to, 1).items() if k != VERSION_FIELD} for r in rows]


def _write_parquet(path: Path, rows: list[dict[str, Any]], compression: str = "zstd") -> None:
    table = pa.Table.from_pylist(rows, schema=ColumnValidator(USERS.schemas[1]).arrow)
    pq.write_table(table, path, compression=compression)


def _write_avro(path: Path, rows: list[dict[str, Any]], schema: dict[str, Any] | None = None) -> None:
    with path.open("wb") as out:
        fastavro.writer(out, fastavro.parse_schema(schema or USERS.schema(1)), rows, codec="deflate")


def test_should_upgrade_a_parquet_file_batch_by_batch(tmp_path: Path) -> None:
    rows = _rows(1000)
    _write_parquet(tmp_path / "in.parquet", rows)
    done = upgrade_file(USERS, tmp_path / "in.parquet", tmp_path / "out.parquet", 3, 1, batch_size=128)
    assert done.rows == 1000
    out = pq.ParquetFile(tmp_path / "out.parquet")
    assert out.read().to_pylist() == _expected(rows)
    assert out.metadata.num_row_groups == 8  # one per batch: the file was streamed
    assert out.metadata.row_group(0).column(0).compression == "ZSTD"  # the input's compression kept
    assert b"avro.schema" in out.schema_arrow.metadata


def test_should_upgrade_an_avro_file_keeping_its_codec(tmp_path: Path) -> None:
    rows = _rows(700)
    _write_avro(tmp_path / "in.avro", rows)
    done = upgrade_file(USERS, tmp_path / "in.avro", tmp_path / "out.avro", 3, 1, batch_size=100)
    assert done.rows == 700
    with (tmp_path / "out.avro").open("rb") as handle:
        reader = fastavro.reader(handle)
        assert reader.codec == "deflate"
        assert [f["name"] for f in reader.writer_schema["fields"]] == USERS.schemas[3].field_names
        assert list(reader) == _expected(rows)


def test_should_read_avro_written_with_another_compatible_schema(tmp_path: Path) -> None:
    writer_schema = {**USERS.schema(1), "fields": [*USERS.schema(1)["fields"], {"name": "fax", "type": "string"}]}
    rows = [{**r, "fax": "f"} for r in _rows(3)]
    _write_avro(tmp_path / "in.avro", rows, writer_schema)
    upgrade_file(USERS, tmp_path / "in.avro", tmp_path / "out.avro", 2, 1)
    with (tmp_path / "out.avro").open("rb") as handle:
        assert list(fastavro.reader(handle)) == _expected(_rows(3), 2)


def test_should_name_the_file_and_rows_of_invalid_parquet_and_write_nothing(tmp_path: Path) -> None:
    table = pa.table({"id": ["a", "b", None], "name": ["b", "c", "d"], "created_at": ["d", "e", "f"]})
    pq.write_table(table, tmp_path / "in.parquet")
    with pytest.raises(DataFileError) as caught:
        upgrade_file(USERS, tmp_path / "in.parquet", tmp_path / "out.parquet", 3, 1, batch_size=2)
    assert (caught.value.position, caught.value.field) == (3, "id")
    assert str(caught.value).startswith(f"{tmp_path / 'in.parquet'}, record 3: the columns do not match v1")
    assert "id: null where the schema allows none; fill it or make the field nullable (rows 3)" in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


def test_should_refuse_to_overwrite_its_input(tmp_path: Path) -> None:
    _write_parquet(tmp_path / "in.parquet", _rows(1))
    with pytest.raises(DataFileError, match="would overwrite the input"):
        upgrade_file(USERS, tmp_path / "in.parquet", tmp_path / "in.parquet", 3, 1)


def test_should_refuse_formats_it_cannot_stream(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text("{}\n")
    with pytest.raises(DataFileError, match="reads Parquet and Avro, not jsonl"):
        upgrade_file(USERS, tmp_path / "in.jsonl", tmp_path / "out.jsonl", 3, 1)
