"""The byte-level Avro upgrade writes exactly the records the decoding path writes, or refuses and leaves no file.

Subjects are real registry folders loaded with ``Registry.load``; data files are written by fastavro; the
decoding path (``upgrade_avro(..., byte_path=False)``) is the reference every byte-path output is read back
against. Corrupt files are made by hand, block by block, from the Avro spec's encoding.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

import fastavro
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from versioning.datafiles.avro_bytes import ByteUpgrade, NotByteUpgradable, upgrade_avro_bytes
from versioning.datafiles.errors import DataFileError
from versioning.datafiles.upgrade import upgrade_avro, upgrade_file
from versioning.registry import VERSION_FIELD, Registry, Subject

ROOT = Path(__file__).resolve().parents[2]
USERS = Registry.load(ROOT / "schemas").subject("users")
SYNC = b"0123456789abcdef"

VALUES: dict[str, st.SearchStrategy[Any]] = {
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(allow_nan=False, width=32),
    "double": st.floats(allow_nan=False),
    # Long and non-ASCII text: lengths of two varint bytes, and blocks the UTF-8 check has to look into.
    "string": st.one_of(st.text(max_size=4), st.text(max_size=90), st.just("é" * 70)),
    "bytes": st.binary(max_size=80),
    "boolean": st.booleans(),
}
KEEPING = {"int": "long", "string": "bytes"}
"""Promotions whose encoding is the source's bytes (the byte path takes them)."""
WIDER: dict[str, list[tuple[list[str], bool]]] = {
    "int": [(["null", "long"], True), (["long", "null"], True), (["null", "double"], False)],
    "long": [(["null", "long"], True), (["null", "int", "long"], False)],
    "float": [(["null", "float"], True), (["null", "float", "double"], False)],
    "double": [(["null", "double"], True)],
    "string": [(["null", "bytes", "string"], True)],
    "bytes": [(["null", "string", "bytes"], True)],
    "boolean": [(["boolean", "null"], True)],
}
"""A field kept under a union type: which branch fastavro's writer picks decides whether the bytes stay
(an int goes to ``long`` as it is, to ``double`` as 8 other bytes; a long to ``int`` or ``long`` by value;
a float to a later ``double`` rather than ``float``)."""


def _load(root: Path, versions: list[list[dict[str, Any]]], steps: list[dict[str, Any]]) -> Subject:
    folder = root / "thing"
    folder.mkdir()
    for number, fields in enumerate(versions, 1):
        schema = {"type": "record", "name": "Thing", "namespace": "test", "fields": fields}
        (folder / f"v{number}.avsc").write_text(json.dumps(schema))
    (folder / "subject.yaml").write_text(yaml.safe_dump({"compatibility": "NONE", "steps": steps}))
    (folder / "steps.py").write_text("def tag(record):\n    return {**record, 'tag': 'called'}\n")
    return Registry.load(root).subject("thing")


@st.composite
def chains(draw: st.DrawFn) -> dict[str, Any]:
    """v1 of flat fields, a declarative step to v2 (fields in any order) and another to v3.

    The byte path must take every such chain except where a field is written under another union whose
    branch choice changes the bytes: ``refused`` names those fields.
    """
    refused: list[str] = []
    v1: list[dict[str, Any]] = []
    for i, kind in enumerate(draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=1, max_size=5))):
        nullable = draw(st.booleans())
        v1.append(
            {"name": f"f{i}", "type": ["null", kind], "default": None} if nullable else {"name": f"f{i}", "type": kind}
        )
    v2 = [dict(f) for f in v1]
    ops: list[Any] = []
    for field in v1:
        name, kind = field["name"], field["type"]
        inner = kind[1] if isinstance(kind, list) else kind
        action = draw(st.sampled_from(["keep", "keep", "remove", "rename", "copy", "promote", "widen"]))
        if action == "remove":
            v2 = [f for f in v2 if f["name"] != name]
            if draw(st.booleans()):
                ops.append({"remove": name})  # else implied
        elif action == "rename":
            v2 = [{**f, "name": f"{name}_new", "aliases": [name]} if f["name"] == name else f for f in v2]
            ops.append({"rename": {"from": name, "to": f"{name}_new"}})
        elif action == "copy":
            reversed_union = isinstance(kind, list) and draw(st.booleans())
            refused += [f"{name}_copy"] if reversed_union else []
            v2.append({"name": f"{name}_copy", "type": [inner, "null"] if reversed_union else ["null", inner]})
            ops.append({"copy": {"field": f"{name}_copy", "from": name}})
        elif action == "promote" and isinstance(kind, str) and kind in KEEPING:
            v2 = [{**f, "type": KEEPING[kind]} if f["name"] == name else f for f in v2]
            ops.append({"promote": {"field": name, "to": KEEPING[kind]}})
        elif action == "widen" and isinstance(kind, str):
            union, kept = draw(st.sampled_from(WIDER[kind]))
            v2 = [{"name": name, "type": union} if f["name"] == name else f for f in v2]
            refused += [] if kept else [name]
    if draw(st.booleans()):
        v2.append({"name": "added", "type": ["null", "string"], "default": None})  # implied add
    if draw(st.booleans()):
        v2.append({"name": "given", "type": "string", "default": "d"})
        ops.append({"add": {"field": "given", "value": "g"}})
    if draw(st.booleans()):
        v2.append({"name": "number", "type": ["null", "long"], "default": None})
        ops.append({"add": {"field": "number", "value": 7}})
    v2 = draw(st.permutations(v2))
    v3 = [*v2, {"name": "later", "type": ["null", "double"], "default": None}]
    if len(v2) > 1 and draw(st.booleans()):
        v3 = v3[1:]  # an implied removal in the second step
    steps = [{"from": 1, "to": 2, "upgrade": ops}, {"from": 2, "to": 3, "upgrade": []}]
    return {"versions": [v1, v2, v3], "steps": steps, "refused": refused}


@st.composite
def records_of(draw: st.DrawFn, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def value(kind: Any) -> Any:
        if isinstance(kind, list):
            return draw(st.one_of(st.none(), VALUES[kind[1]]))
        return draw(VALUES[kind])

    return [{f["name"]: value(f["type"]) for f in fields} for _ in range(draw(st.integers(0, 25)))]


def _write(path: Path, schema: dict[str, Any], records: list[dict[str, Any]], codec: str, block: int) -> None:
    with path.open("wb") as out:
        fastavro.writer(out, fastavro.parse_schema(schema), records, codec=codec, sync_interval=block)


def _read(path: Path) -> tuple[list[Any], Any, str]:
    with path.open("rb") as handle:
        reader = fastavro.reader(handle)
        return list(reader), reader.writer_schema, reader.codec


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_should_write_exactly_the_records_the_decoding_path_writes(data: st.DataObject) -> None:
    chain = data.draw(chains())
    codec = data.draw(st.sampled_from(["null", "deflate"]))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        subject = _load(root, chain["versions"], chain["steps"])
        records = data.draw(records_of(chain["versions"][0]))
        source = root / "in.avro"
        _write(source, subject.schema(1), records, codec, data.draw(st.integers(1, 400)))  # many blocks
        for to in (2, 3):
            refused = [f["name"] for f in chain["versions"][to - 1] if f["name"] in chain["refused"]]
            if refused:
                with pytest.raises(NotByteUpgradable, match="|".join(f"field '{name}'" for name in refused)):
                    ByteUpgrade(subject, 1, to)
                continue
            assert upgrade_avro_bytes(subject, source, root / f"bytes-v{to}.avro", to, 1) == len(records)
            upgrade_avro(subject, source, root / f"decoded-v{to}.avro", to, 1, byte_path=False)
            got, schema, got_codec = _read(root / f"bytes-v{to}.avro")
            expected, expected_schema, _ = _read(root / f"decoded-v{to}.avro")
            assert got == expected
            assert [f["name"] for f in schema["fields"]] == [f["name"] for f in expected_schema["fields"]]
            assert fastavro.parse_schema(schema) == fastavro.parse_schema(subject.schema(to))
            assert got_codec == codec


def test_should_upgrade_users_v1_to_v3_by_appending_bytes_to_each_record(tmp_path: Path) -> None:
    records = [{"id": f"u{i}", "name": "é" * (i % 20), "created_at": f"2024-01-{i % 28 + 1:02d}"} for i in range(300)]
    _write(tmp_path / "in.avro", USERS.schema(1), records, "deflate", 2000)
    done = upgrade_file(USERS, tmp_path / "in.avro", tmp_path / "out.avro", 3, 1)
    assert done.rows == 300
    got, schema, codec = _read(tmp_path / "out.avro")
    assert got == [{k: v for k, v in USERS.convert(r, 3, 1).items() if k != VERSION_FIELD} for r in records]
    assert (codec, [f["name"] for f in schema["fields"]]) == ("deflate", USERS.schemas[3].field_names)
    blocks_in, blocks_out = _blocks(tmp_path / "in.avro"), _blocks(tmp_path / "out.avro")
    assert [count for count, _ in blocks_out] == [count for count, _ in blocks_in]  # block for block
    first = records[: blocks_in[0][0]]
    assert blocks_out[0][1] == b"".join(_v1_to_v3(_encoded(USERS.schema(1), r)) for r in first)


def _encoded(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def _v1_to_v3(record: bytes) -> bytes:
    """users v1 -> v3 by hand: the record, then email null, updated_at = created_at as branch 1, phone null."""
    p = 0
    for _ in range(2):
        length = record[p] >> 1  # one-byte lengths in this test
        p += 1 + length
    return record + b"\x00\x02" + record[p:] + b"\x00"


def _blocks(path: Path) -> list[tuple[int, bytes]]:
    """The (record count, decompressed data) of each block, read with fastavro's block reader."""
    with path.open("rb") as handle:
        return [(b.num_records, b.bytes_.getvalue()) for b in fastavro.block_reader(handle)]


def test_should_take_enums_fixed_and_unions_of_them_as_bytes(tmp_path: Path) -> None:
    colour = {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN", "BLUE"]}
    v1 = [
        {"name": "colour", "type": colour},
        {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 3}},
        {"name": "maybe", "type": ["null", "Colour"], "default": None},
        {"name": "gone", "type": ["null", "boolean", "double", "bytes"], "default": None},
    ]
    v2 = [v1[1], v1[0], v1[2], {"name": "more", "type": ["null", "int"], "default": None}]  # fields reordered
    subject = _load(tmp_path, [v1, v2], [{"from": 1, "to": 2, "upgrade": []}])
    records = [
        {"colour": c, "hash": bytes([i, 2, 3]), "maybe": m, "gone": g}
        for i, (c, m, g) in enumerate(
            [("RED", None, None), ("BLUE", "GREEN", True), ("GREEN", "RED", 2.5), ("RED", None, b"\xff")] * 40
        )
    ]
    _write(tmp_path / "in.avro", subject.schema(1), records, "null", 100)
    ByteUpgrade(subject, 1, 2)  # eligible: no NotByteUpgradable
    upgrade_avro_bytes(subject, tmp_path / "in.avro", tmp_path / "bytes.avro", 2, 1)
    upgrade_avro(subject, tmp_path / "in.avro", tmp_path / "decoded.avro", 2, 1, byte_path=False)
    assert _read(tmp_path / "bytes.avro")[0] == _read(tmp_path / "decoded.avro")[0]


# --- refusals: the decoding path takes these ----------------------------------------------------------------


def _refusal(kind: str, root: Path) -> tuple[Subject, Path, int, int]:
    base = [{"name": "id", "type": "string"}, {"name": "n", "type": "int"}]
    v2 = [*base, {"name": "tag", "type": "string", "default": ""}]
    steps: list[dict[str, Any]] = [{"from": 1, "to": 2, "upgrade": []}]
    records: list[dict[str, Any]] = [{"id": "a", "n": 1}, {"id": "b", "n": -5}]
    writer_schema: dict[str, Any] | None = None
    codec, to, start = "deflate", 2, 1
    versions = [base, v2]
    if kind == "call":
        steps = [{"from": 1, "to": 2, "upgrade": [{"call": {"upgrade": "steps:tag"}}]}]
    elif kind == "promote int to double":
        versions = [base, [base[0], {"name": "n", "type": "double"}]]
        steps = [{"from": 1, "to": 2, "upgrade": [{"promote": {"field": "n", "to": "double"}}]}]
    elif kind == "array":
        versions = [[*base, {"name": "xs", "type": {"type": "array", "items": "int"}}], v2]
        records = [{**r, "xs": [1, 2]} for r in records]
    elif kind == "logical type":
        stamp = {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}
        versions = [[*base, stamp], [*v2, stamp]]
        records = [{**r, "at": 1_700_000_000_000} for r in records]
    elif kind == "codec":
        codec = "bzip2"
    elif kind == "writer schema":
        writer_schema = {"type": "record", "name": "Thing", "fields": [*base, {"name": "fax", "type": "string"}]}
        records = [{**r, "fax": "f"} for r in records]
    elif kind == "union branches":
        versions = [
            [{"name": "id", "type": ["null", "string"], "default": None}],
            [{"name": "id", "type": ["null", "string"], "default": None}, {"name": "copy", "type": ["string", "null"]}],
        ]
        steps = [{"from": 1, "to": 2, "upgrade": [{"copy": {"field": "copy", "from": "id"}}]}]
        records = [{"id": "a"}, {"id": None}]
    elif kind == "downgrade":
        records = [{**r, "tag": "t"} for r in records]
        to, start = 1, 2
    subject = _load(root, versions, steps)
    source = root / "in.avro"
    _write(source, writer_schema or subject.schema(start), records, codec, 16000)
    return subject, source, to, start


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("call", "a call step needs the decoded record"),
        ("promote int to double", "promotion int -> double changes the encoding"),
        ("array", "type 'array' is not a flat value"),
        ("logical type", "logical type 'timestamp-millis' is read by decoding"),
        ("codec", "codec 'bzip2'"),
        ("writer schema", "written with another schema than the source version's"),
        ("union branches", "union 'id' changes its branches"),
        ("downgrade", "a downgrade goes the decoding way"),
    ],
)
def test_should_refuse_what_needs_decoding_and_leave_it_to_the_decoding_path(
    kind: str, reason: str, tmp_path: Path
) -> None:
    subject, source, to, start = _refusal(kind, tmp_path)
    with pytest.raises(NotByteUpgradable, match=reason):
        upgrade_avro_bytes(subject, source, tmp_path / "bytes.avro", to, start)
    assert not (tmp_path / "bytes.avro").exists()
    upgrade_avro(subject, source, tmp_path / "auto.avro", to, start)
    upgrade_avro(subject, source, tmp_path / "decoded.avro", to, start, byte_path=False)
    assert _read(tmp_path / "auto.avro")[0] == _read(tmp_path / "decoded.avro")[0] != []


# --- corrupt files -----------------------------------------------------------------------------------------------

CHECKED = [
    {"name": "id", "type": "string"},
    {"name": "flag", "type": "boolean"},
    {"name": "count", "type": "int"},
    {"name": "big", "type": "long"},
    {"name": "level", "type": {"type": "enum", "name": "Level", "symbols": ["LOW", "HIGH"]}},
    {"name": "note", "type": ["null", "string"], "default": None},
]


def _zz(value: int) -> bytes:
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes([*out, n])


def _text(raw: bytes) -> bytes:
    return _zz(len(raw)) + raw


def _record(
    id: bytes = b"a",
    flag: bytes = b"\x01",
    count: bytes = b"\x0a",
    big: bytes = b"\x0e",
    level: bytes = b"\x02",
    note: bytes | None = b"n",
) -> bytes:
    """A CHECKED record from the given field bytes; ``note`` is the text (branch 1) or None (branch 0)."""
    return _text(id) + flag + count + big + level + (b"\x00" if note is None else b"\x02" + _text(note))


def _container(
    blocks: list[tuple[int, bytes]], codec: str = "null", last_sync: bytes = SYNC, last_body: bytes | None = None
) -> bytes:
    """An Avro file of CHECKED records: fastavro's header, then the given (count, data) blocks as they are.

    ``last_body`` and ``last_sync`` replace the last block's (compressed) bytes and sync marker.
    """
    head = io.BytesIO()
    schema = {"type": "record", "name": "Thing", "namespace": "test", "fields": CHECKED}
    fastavro.writer(head, fastavro.parse_schema(schema), [], codec=codec, sync_marker=SYNC)
    out = bytearray(head.getvalue())
    for count, data in blocks:
        body = zlib.compress(data, 6, -15) if codec == "deflate" else data
        last = (count, data) == blocks[-1]
        if last and last_body is not None:
            body = last_body
        out += _zz(count) + _zz(len(body)) + body + (last_sync if last else SYNC)
    return bytes(out)


def _corrupt(case: str) -> tuple[bytes, int, str | None, str]:
    """A file whose fourth record (the second of the second block) is wrong as ``case`` says.

    Returns the file, the record number the error must name, the field, and words the message must hold.
    """
    good = _record()
    first = (2, good + _record(id=b"x", note=None))
    bad: dict[str, tuple[bytes, str | None, str]] = {
        "text not UTF-8": (_record(id=b"\xff"), "id", "not UTF-8"),
        "a surrogate": (_record(note=b"\xed\xa0\x80"), "note", "not UTF-8"),
        # The block as a whole is valid UTF-8 (0xc3 0x80): only the slice by slice check sees the cut.
        "a character cut by the next field": (_record(note=b"x\xc3") + _record(id=b"a" * 64), "note", "not UTF-8"),
        # Each half is invalid, together they are a character: the slices must not just be concatenated.
        "a character split over two texts": (_record(note=b"x\xc3") + _record(id=b"\xa9y"), "note", "not UTF-8"),
        # Branch 2 read as "no value" would end the block exactly: the index itself must be checked.
        "union index out of range": (_record(note=None)[:-1] + b"\x04", "note", "index 2 is out of range"),
        "enum index out of range": (_record(level=b"\x04"), "level", "index 2 is out of range"),
        "boolean other than 0 or 1": (_record(flag=b"\x02"), "flag", "neither 0 nor 1"),
        "int out of range": (_record(count=_zz(2**31)), "count", "outside the int range"),
        "int varint of 6 bytes": (_record(count=b"\x80" * 5 + b"\x00"), "count", "longer than the 5 bytes"),
        "long varint of 11 bytes": (_record(big=b"\x80" * 10 + b"\x00"), "big", "longer than the 10 bytes"),
        "negative length": (b"\x01" + _record()[2:], "id", "a length of -1"),
        "string past the block": (_record()[:-2] + _zz(40) + b"n", "note", "ends inside it"),
        "varint past the block": (_record()[:-3] + b"\x02\x80", "note", "ends inside it"),
    }
    if case in bad:
        data, field, words = bad[case]
        count = 3 if case.startswith("a character") else 2
        return _container([first, (count, good + data)]), 4, field, words
    if case == "count larger than the records":
        return _container([first, (3, good + good)]), 5, "id", "ends inside it"
    if case == "count smaller than the records":
        return _container([first, (1, good + good)]), 3, None, "9 bytes follow the last of them"
    if case == "sync marker":
        return _container([first, (2, good + good)], last_sync=b"X" * 16), 3, None, "sync marker"
    if case == "file cut short":
        return _container([first, (2, good + good)])[:-20], 3, None, "runs past the end of the file"
    if case == "deflate data":
        # 0xff starts a deflate block of the reserved type 3
        return _container([first, (2, good + good)], "deflate", last_body=b"\xff" * 9), 3, None, "not deflate"
    raise AssertionError(case)


CASES = [
    "text not UTF-8",
    "a surrogate",
    "a character cut by the next field",
    "a character split over two texts",
    "enum index out of range",
    "union index out of range",
    "boolean other than 0 or 1",
    "int out of range",
    "int varint of 6 bytes",
    "long varint of 11 bytes",
    "negative length",
    "string past the block",
    "varint past the block",
    "count larger than the records",
    "count smaller than the records",
    "sync marker",
    "file cut short",
    "deflate data",
]


def _checked_subject(root: Path) -> Subject:
    v2 = [*CHECKED, {"name": "copy", "type": ["null", "string"]}]
    steps = [{"from": 1, "to": 2, "upgrade": [{"copy": {"field": "copy", "from": "id"}}, {"remove": "flag"}]}]
    return _load(root, [CHECKED, [f for f in v2 if f["name"] != "flag"]], steps)


def test_should_read_the_hand_made_file_when_nothing_is_wrong(tmp_path: Path) -> None:
    subject = _checked_subject(tmp_path)
    (tmp_path / "in.avro").write_bytes(_container([(2, _record() + _record(note=None)), (1, _record(id=b"z"))]))
    assert upgrade_avro_bytes(subject, tmp_path / "in.avro", tmp_path / "out.avro", 2, 1) == 3
    assert [r["copy"] for r in _read(tmp_path / "out.avro")[0]] == ["a", "a", "z"]


@pytest.mark.parametrize("case", CASES)
def test_should_name_the_file_and_record_of_corrupt_data_and_write_nothing(case: str, tmp_path: Path) -> None:
    subject = _checked_subject(tmp_path)
    data, position, field, words = _corrupt(case)
    (tmp_path / "in.avro").write_bytes(data)
    with pytest.raises(DataFileError) as caught:
        upgrade_file(subject, tmp_path / "in.avro", tmp_path / "out.avro", 2, 1)
    assert (caught.value.position, caught.value.field) == (position, field)
    assert str(caught.value).startswith(f"{tmp_path / 'in.avro'}, record {position}: ")
    assert words in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.avro", "thing"]


@pytest.mark.parametrize("case", ["text not UTF-8", "union index out of range", "sync marker", "deflate data"])
def test_should_report_corrupt_data_as_a_data_file_error_on_the_decoding_path_too(case: str, tmp_path: Path) -> None:
    subject = _checked_subject(tmp_path)
    (tmp_path / "in.avro").write_bytes(_corrupt(case)[0])
    with pytest.raises(DataFileError, match=r"record \d+: cannot be read as Avro .*the file is corrupt"):
        upgrade_avro(subject, tmp_path / "in.avro", tmp_path / "out.avro", 2, 1, byte_path=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.avro", "thing"]


def test_should_measure_the_byte_path_beside_fastavro_in_the_benchmark(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "files", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for contender in ("fastavro read + write", "decoding upgrade", "byte upgrade"):
        assert contender in done.stdout
