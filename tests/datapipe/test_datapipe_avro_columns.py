"""The column writer's Avro files, read back by fastavro, hold exactly the values written (every type datapipe
generates, nullable or not, edge values included), and empty or several blocks are read like fastavro's own."""

from __future__ import annotations

import datetime as dt
import io
import random
import struct
import uuid
import zlib
from decimal import Decimal
from typing import Any

import fastavro
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from isal import isal_zlib

from datapipe.extract import avro_columns
from datapipe.extract.avro_columns import AvroColumnWriter, arrow_type


def decimal(p: int, s: int) -> dict[str, Any]:
    return {"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s}


def float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


FIELDS: list[tuple[Any, st.SearchStrategy[Any]]] = [
    ("long", st.integers(-(2**63), 2**63 - 1)),
    ("int", st.integers(-(2**31), 2**31 - 1)),
    ("double", st.floats(allow_nan=False)),
    ("float", st.floats(width=32, allow_nan=False)),
    ("boolean", st.booleans()),
    ("string", st.text()),
    ("bytes", st.binary()),
    (decimal(12, 2), st.decimals(min_value=Decimal("-9999999999.99"), max_value=Decimal("9999999999.99"), places=2)),
    # Precision 18 is the widest whose values the encoder reads from 8 of the 16 bytes.
    (decimal(18, 4), st.integers(-(10**18) + 1, 10**18 - 1).map(lambda n: Decimal(n).scaleb(-4))),
    (decimal(19, 0), st.integers(-(10**19) + 1, 10**19 - 1).map(Decimal)),
    (decimal(38, 0), st.integers(-(10**38) + 1, 10**38 - 1).map(Decimal)),
    (decimal(76, 38), st.decimals(min_value=Decimal("-" + "9" * 38), max_value=Decimal("9" * 38), places=38)),
    ({"type": "int", "logicalType": "date"}, st.dates()),
    ({"type": "long", "logicalType": "time-micros"}, st.times()),
    ({"type": "long", "logicalType": "timestamp-micros"}, st.datetimes(timezones=st.just(dt.UTC))),
    ({"type": "long", "logicalType": "local-timestamp-micros"}, st.datetimes()),
    ({"type": "string", "logicalType": "uuid"}, st.uuids().map(str)),
]
UUID_INDEX = str(next(i for i, (t, _) in enumerate(FIELDS) if isinstance(t, dict) and t["logicalType"] == "uuid"))
SCHEMA = {
    "type": "record", "name": "edge", "namespace": "datapipe.test",
    "fields": [{"name": f"f{i}", "type": t} for i, (t, _) in enumerate(FIELDS)]
    + [{"name": f"n{i}", "type": ["null", t], "default": None} for i, (t, _) in enumerate(FIELDS)],
}
ROW = st.fixed_dictionaries(
    {f"f{i}": values for i, (_, values) in enumerate(FIELDS)}
    | {f"n{i}": st.none() | values for i, (_, values) in enumerate(FIELDS)}
)


def write(records: list[dict[str, Any]], blocks: int = 1, background: bool = False, codec: Any = None) -> bytes:
    stream = io.BytesIO()
    writer = AvroColumnWriter(stream, SCHEMA, background=background, codec=codec or avro_columns.deflate)
    size = max(1, -(-len(records) // blocks))
    for start in range(0, len(records), size):
        chunk = records[start:start + size]
        columns = [pa.array([r[f["name"]] for r in chunk], arrow_type(f["type"])) for f in SCHEMA["fields"]]
        writer.write(columns, len(chunk))
    writer.close()
    return stream.getvalue()


@settings(max_examples=60, deadline=None)
@given(records=st.lists(ROW, max_size=12), blocks=st.integers(1, 3), background=st.booleans())
def test_should_write_what_fastavro_reads_back_exactly(records: list[dict[str, Any]], blocks: int,
                                                       background: bool) -> None:
    read = list(fastavro.reader(io.BytesIO(write(records, blocks, background))))
    expected = []
    for record in records:
        expected.append({k: (uuid.UUID(v) if v is not None and k[1:] == UUID_INDEX else v) for k, v in record.items()})
    assert read == expected


def test_should_write_an_empty_file_fastavro_reads() -> None:
    reader = fastavro.reader(io.BytesIO(write([])))
    assert list(reader) == [] and reader.writer_schema is not None
    assert reader.metadata["avro.codec"] == "deflate"


def test_should_deflate_with_isal_by_default() -> None:
    # requirements.txt pins isal: the writer takes ISA-L's deflate, not the slower zlib fallback.
    assert avro_columns.deflate is isal_zlib


@pytest.mark.parametrize("codec", [isal_zlib, zlib], ids=["isal", "zlib"])
def test_should_write_blocks_every_avro_reader_inflates(codec: Any) -> None:
    # Enough repetitive and random rows that the deflate uses back-references and several output buffers.
    chance = random.Random(11)
    records = [{"id": i, "name": f"customer {i % 500}", "blob": chance.randbytes(chance.randrange(0, 40))}
               for i in range(30_000)]
    schema = {"type": "record", "name": "r", "fields": [
        {"name": "id", "type": "long"}, {"name": "name", "type": "string"}, {"name": "blob", "type": "bytes"}]}
    stream = io.BytesIO()
    writer = AvroColumnWriter(stream, schema, background=True, codec=codec)
    for start in range(0, len(records), 10_000):
        chunk = records[start:start + 10_000]
        writer.write([pa.array([r[f["name"]] for r in chunk], arrow_type(f["type"])) for f in schema["fields"]],
                     len(chunk))
    writer.close()
    data = stream.getvalue()
    assert len(data) < 30_000 * 30  # deflated, not stored (about 39 bytes a record before)
    assert list(fastavro.reader(io.BytesIO(data))) == records


def boundaries(limit: int, step: int) -> list[int]:
    """Every value next to a power-of-two boundary of ``step`` bits, both signs, within +-``limit``."""
    values = {0, 1, -1, limit, -limit}  # (the two's complement minimum, -limit - 1, is the caller's to add)
    for bits in range(step - 1, limit.bit_length() + 1, step):
        for edge in (1 << bits, -(1 << bits)):
            values.update(v for v in (edge - 1, edge, edge + 1) if -limit <= v <= limit)
    return sorted(values)


@pytest.mark.parametrize(("avro", "values"), [
    # Zig-zag varints change length at every 7 bits (bytes 8 and 9 come from values past 2**55).
    ("long", [*boundaries(2**63 - 1, 7), -(2**63)]),
    ("int", [*boundaries(2**31 - 1, 7), -(2**31)]),
    # Two's complement decimals change length at every 8 bits (from 8 bytes up to precision 18, 16 beyond).
    (decimal(18, 0), [Decimal(v) for v in boundaries(10**18 - 1, 8)]),
    (decimal(38, 0), [Decimal(v) for v in boundaries(10**38 - 1, 8)]),
])
def test_should_encode_every_length_boundary_as_fastavro_reads_it(avro: Any, values: list[Any]) -> None:
    schema = {"type": "record", "name": "b", "fields": [{"name": "v", "type": avro},
                                                         {"name": "n", "type": ["null", avro]}]}
    nullable = [None if i % 3 == 0 else v for i, v in enumerate(values)]
    stream = io.BytesIO()
    writer = AvroColumnWriter(stream, schema)
    writer.write([pa.array(values, arrow_type(avro)), pa.array(nullable, arrow_type(avro))], len(values))
    writer.close()
    read = list(fastavro.reader(io.BytesIO(stream.getvalue())))
    assert read == [{"v": v, "n": n} for v, n in zip(values, nullable, strict=True)]
