"""Hostile and damaged data files: every one refused with the file and position named, exit 2 (1 for invalid
records), no traceback and no output file. Files are made with fastavro and pyarrow, then damaged by hand."""

from __future__ import annotations

import io
import json
import os
import shutil
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastavro.read import HEADER_SCHEMA, MAGIC

from versioning import Registry
from versioning.cli import main
from versioning.datafiles import DataFileError, read_batches
from versioning.datafiles.avro_container import MAX_BLOCK_BYTES_ENV

V1 = {
    "type": "record",
    "name": "User",
    "namespace": "platform.users",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "name", "type": "string"},
        {"name": "created_at", "type": "string"},
    ],
}
ROWS = [{"id": f"u-{i}", "name": f"Name {i}", "created_at": "2024-01-01T00:00:00Z"} for i in range(50)]
HEADER = fastavro.parse_schema(HEADER_SCHEMA)


@pytest.fixture
def registry(tmp_path: Path, users_registry_dir: Path) -> Path:
    return Path(shutil.copytree(users_registry_dir, tmp_path / "schemas"))


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _zigzag(value: int) -> bytes:
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _container(blocks: list[tuple[int, bytes]], codec: str = "null", sync: bytes = b"S" * 16) -> bytes:
    """An Avro container file written by hand: header, then (count, body) blocks as given, each with ``sync``."""
    out = io.BytesIO()
    meta = {"avro.schema": json.dumps(V1).encode(), "avro.codec": codec.encode()}
    fastavro.schemaless_writer(out, HEADER, {"magic": MAGIC, "meta": meta, "sync": sync})
    for count, body in blocks:
        out.write(_zigzag(count) + _zigzag(len(body)) + body + sync)
    return out.getvalue()


def _records(rows: list[dict[str, Any]]) -> bytes:
    out = io.BytesIO()
    for row in rows:
        fastavro.schemaless_writer(out, fastavro.parse_schema(V1), row)
    return out.getvalue()


def _deflate_bomb(expanded: int) -> bytes:
    """One record whose name is ``expanded`` bytes of 'a', deflated a megabyte at a time (a few KB on disk)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [compressor.compress(_zigzag(1) + b"x" + _zigzag(expanded))]
    chunk = b"a" * (1 << 20)
    for _ in range(expanded >> 20):
        parts.append(compressor.compress(chunk))
    parts.append(compressor.compress(b"a" * (expanded % (1 << 20)) + _zigzag(1) + b"z"))
    parts.append(compressor.flush())
    return _container([(1, b"".join(parts))], "deflate")


def _good_avro(path: Path, codec: str = "null") -> Path:
    with path.open("wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(V1), ROWS, codec=codec)
    return path


def _with_codec(codec: str) -> Callable[[Path], bytes]:
    def make(tmp: Path) -> bytes:
        data = _good_avro(tmp / "good.avro").read_bytes()
        return data.replace(b"avro.codec\x08null", b"avro.codec" + _zigzag(len(codec)) + codec.encode())

    return make


def _flip_magic(tmp: Path) -> bytes:
    return b"Obj\x02" + _good_avro(tmp / "good.avro").read_bytes()[4:]


AVRO_CASES: list[tuple[str, Callable[[Path], bytes], str]] = [
    ("wrong magic", _flip_magic, "not an Avro object container file (the first bytes are 4f 62 6a 02"),
    ("not Avro at all", lambda tmp: b"id,name\n1,Ana\n", "not an Avro object container file"),
    ("empty file", lambda tmp: b"", "not an Avro object container file (the first bytes are an empty file"),
    ("unknown codec", _with_codec("lzzz"), "codec 'lzzz', not an Avro codec"),
    ("codec this tool cannot read", _with_codec("snappy"), "codec 'snappy', an Avro codec this tool cannot read"),
    ("count smaller than the records", lambda tmp: _container([(1, _records(ROWS[:2]))]), "declares 1 records but"),
    ("count larger than the data", lambda tmp: _container([(10**9, _records(ROWS[:2]))]), "declares 1000000000"),
    ("negative count", lambda tmp: _container([(-1, _records(ROWS[:2]))]), "declares -1 records"),
    ("size past the end", lambda tmp: _container([(2, _records(ROWS[:2]))])[:-20], "runs past the end of the file"),
    (
        "sync marker",
        lambda tmp: _container([(2, _records(ROWS[:2]))])[:-1] + b"X",
        "the sync marker after the block differs",
    ),
    ("deflate data", lambda tmp: _container([(1, b"\xff" * 9)], "deflate"), "the compressed data is not deflate"),
    (
        "deflate stream cut short",
        lambda tmp: _container(
            [(2, zlib.compressobj(6, zlib.DEFLATED, -15).compress(_records(ROWS) * 50)[:40])], "deflate"
        ),
        "the deflate data stops before its end",
    ),
    ("text not UTF-8", lambda tmp: _container([(1, _zigzag(1) + b"\xff" + _records(ROWS[:1])[2:])]), "record 1"),
]


@pytest.mark.parametrize(("case", "make", "words"), AVRO_CASES, ids=[c[0] for c in AVRO_CASES])
@pytest.mark.parametrize("command", ["validate", "upgrade --from 1", "upgrade --from 1 --rejects", "upgrade"])
def test_should_refuse_a_damaged_avro_file_with_exit_2_naming_it(
    tmp_path: Path, registry: Path, capsys: pytest.CaptureFixture[str], case: str, make: Any, words: str, command: str
) -> None:
    bad = tmp_path / "in.avro"
    bad.write_bytes(make(tmp_path))
    out = tmp_path / "out.avro"
    name, *flags = command.split()
    if "--rejects" in flags:
        flags.append(str(tmp_path / "rejects.jsonl"))
    args = [bad, "--version", "1"] if name == "validate" else [bad, out, "--to", "3", *flags]
    code, _, err = run(capsys, name, "users", *args, "--registry", registry)
    assert code == 2, err
    assert err.startswith(f"error: {bad}") and words in err
    assert "Traceback" not in err
    assert not out.exists() and not (tmp_path / "rejects.jsonl").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_should_refuse_a_one_gigabyte_deflate_bomb_without_inflating_it(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.avro"
    bomb.write_bytes(_deflate_bomb(1 << 30))
    assert bomb.stat().st_size < 2 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DataFileError) as caught:
            list(read_batches(bomb))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.position == 1
    assert "expands to more than 134217728 bytes (the --max-block-bytes limit)" in str(caught.value)
    assert peak < 300 << 20  # bounded by the 128 MiB limit (and its copy), not the gigabyte the block claims


@pytest.mark.parametrize("command", ["validate", "upgrade --from 1", "upgrade"])
@pytest.mark.parametrize("how", ["--max-block-bytes", "env"])
def test_should_bound_memory_by_the_block_limit_on_every_path(
    tmp_path: Path,
    registry: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    how: str,
) -> None:
    bomb = tmp_path / "bomb.avro"
    bomb.write_bytes(_deflate_bomb(40 << 20))
    out = tmp_path / "out.avro"
    name, *flags = command.split()
    args = [bomb, "--version", "1"] if name == "validate" else [bomb, out, "--to", "3", *flags]
    if how == "env":
        monkeypatch.setenv(MAX_BLOCK_BYTES_ENV, str(1 << 20))
    else:
        args += ["--max-block-bytes", str(1 << 20)]
    tracemalloc.start()
    try:
        code, _, err = run(capsys, name, "users", *args, "--registry", registry)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 2
    assert f"{bomb}, record 1:" in err and "expands to more than 1048576 bytes" in err
    assert peak < 16 << 20
    assert not out.exists()


def test_should_read_a_block_within_a_raised_limit(tmp_path: Path, registry: Path) -> None:
    bomb = tmp_path / "bomb.avro"
    bomb.write_bytes(_deflate_bomb(3 << 20))
    subject = Registry.load(registry).subject("users")
    assert [len(r["name"]) for b in read_batches(bomb, max_block_bytes=4 << 20) for r in b.records] == [3 << 20]
    with pytest.raises(DataFileError, match="expands to more than 2097152 bytes"):
        list(read_batches(bomb, max_block_bytes=2 << 20))
    assert subject.latest == 3


@pytest.mark.parametrize("codec", ["null", "deflate", "bzip2", "xz"])
def test_should_read_every_codec_it_names_as_fastavro_wrote_it(tmp_path: Path, codec: str) -> None:
    path = _good_avro(tmp_path / "in.avro", codec)
    assert [r for b in read_batches(path, batch_size=7) for r in b.records] == ROWS


def _parquet(path: Path, checksum: bool = False) -> Path:
    pq.write_table(pa.Table.from_pylist(ROWS), path, compression="none", write_page_checksum=checksum)
    return path


def _bad_text(tmp: Path) -> bytes:
    data = bytearray(_parquet(tmp / "good.parquet").read_bytes())
    at = data.index(b"Name 7")
    data[at + 1] = 0xFF
    return bytes(data)


def _bad_checksum(tmp: Path) -> bytes:
    data = bytearray(_parquet(tmp / "good.parquet", checksum=True).read_bytes())
    at = data.index(b"Name 7")
    data[at + 5] = ord("9")  # still UTF-8: only the page's CRC can tell
    return bytes(data)


PARQUET_CASES = [
    ("text not UTF-8", _bad_text, "record 8: column 'name' holds text that is not UTF-8"),
    ("page checksum", _bad_checksum, "CRC checksum verification failed"),
    ("not Parquet", lambda tmp: b"PAR1 this is not parquet", "not a Parquet file"),
    ("footer cut off", lambda tmp: _parquet(tmp / "g.parquet").read_bytes()[:-30], "not a Parquet file"),
]


@pytest.mark.parametrize(("case", "make", "words"), PARQUET_CASES, ids=[c[0] for c in PARQUET_CASES])
@pytest.mark.parametrize("command", ["validate", "upgrade --from 1", "upgrade"])
def test_should_refuse_a_damaged_parquet_file_with_exit_2_naming_it(
    tmp_path: Path, registry: Path, capsys: pytest.CaptureFixture[str], case: str, make: Any, words: str, command: str
) -> None:
    bad = tmp_path / "in.parquet"
    bad.write_bytes(make(tmp_path))
    out = tmp_path / "out.parquet"
    name, *flags = command.split()
    args = [bad, "--version", "1"] if name == "validate" else [bad, out, "--to", "3", *flags]
    code, _, err = run(capsys, name, "users", *args, "--registry", registry)
    assert code == 2, err
    assert err.startswith(f"error: {bad}") and words in err and "Traceback" not in err
    assert not out.exists()


def test_should_upgrade_an_uncompressed_parquet_file_keeping_it_uncompressed(
    tmp_path: Path, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _parquet(tmp_path / "in.parquet")
    code, _, err = run(
        capsys, "upgrade", "users", source, tmp_path / "out.parquet", "--to", "3", "--from", "1", "--registry", registry
    )
    assert code == 0, err
    written = pq.ParquetFile(tmp_path / "out.parquet")
    assert str(written.metadata.row_group(0).column(0).compression) == "UNCOMPRESSED"
    assert written.read().num_rows == len(ROWS)


def test_should_write_parquet_pages_with_checksums(tmp_path: Path, registry: Path, capsys) -> None:
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    assert (
        run(
            capsys,
            "upgrade",
            "users",
            jsonl,
            tmp_path / "out.parquet",
            "--to",
            "3",
            "--from",
            "1",
            "--registry",
            registry,
        )[0]
        == 0
    )
    chunk = pq.ParquetFile(tmp_path / "out.parquet").metadata.row_group(0).column(1)
    data = bytearray((tmp_path / "out.parquet").read_bytes())
    data[chunk.data_page_offset + chunk.total_compressed_size - 3] ^= 0x01  # inside the last page's data
    (tmp_path / "out.parquet").write_bytes(bytes(data))
    with pytest.raises(DataFileError, match="CRC checksum verification failed"):
        list(read_batches(tmp_path / "out.parquet"))


BAD_LINES = (
    b'{"id":"u-1","name":"A\xff","created_at":"2024-01-01T00:00:00Z"}\n'
    b'{"id": broken\n'
    b"[1, 2]\n"
    b'{"id":"u-4","created_at":"2024-01-01T00:00:00Z"}\n'
    b'{"id":"u-5","name":"ok","created_at":"2024-01-01T00:00:00Z"}\n'
)


def test_should_report_every_problem_of_a_jsonl_file_when_lines_are_malformed(
    tmp_path: Path, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(BAD_LINES)
    code, out, err = run(capsys, "validate", "users", path, "--version", "1", "--registry", registry)
    assert (code, err) == (1, "")
    assert out.splitlines()[:-1] == [
        f"{path}, line 1: not UTF-8 text (byte 0xff at column 22); save the file as UTF-8",
        f"{path}, line 2: not valid JSON (Expecting value at column 8); fix or remove the line",
        f"{path}, line 3: is an array, not a JSON object; each line must hold one record as a JSON object {{...}}",
        f"{path}, line 4: name: missing required field",
    ]
    assert out.splitlines()[-1] == f"{path}: 5 records, 4 invalid (users)"


@pytest.mark.parametrize("rejects", [False, True])
def test_should_reject_malformed_lines_on_upgrade_and_write_nothing_without_rejects(
    tmp_path: Path, registry: Path, capsys: pytest.CaptureFixture[str], rejects: bool
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(BAD_LINES)
    out = tmp_path / "out.jsonl"
    extra = ["--rejects", tmp_path / "rejects.jsonl"] if rejects else []
    code, found, err = run(
        capsys, "upgrade", "users", path, out, "--to", "3", "--from", "1", *extra, "--registry", registry
    )
    assert code == 1
    assert [f"{path}, line {n}: " in found for n in (1, 2, 3, 4)] == [True] * 4 and "Traceback" not in err
    if not rejects:
        assert not out.exists()
        return
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["u-5"]
    entries = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [e["position"] for e in entries] == [1, 2, 3, 4]
    assert entries[1]["record"] == '{"id": broken'


def test_should_refuse_a_bad_block_limit_in_the_environment(
    tmp_path: Path, registry: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MAX_BLOCK_BYTES_ENV, "lots")
    path = _good_avro(tmp_path / "in.avro")
    code, _, err = run(capsys, "validate", "users", path, "--registry", registry)
    assert code == 2 and f"${MAX_BLOCK_BYTES_ENV}: 'lots' is not a positive number of bytes" in err
    assert os.environ[MAX_BLOCK_BYTES_ENV] == "lots"
