"""Avro object container files read defensively: header, blocks and records checked before anything is trusted.

fastavro's own reader takes a file at its word: it does not check the magic bytes, inflates a block whole
whatever it expands to (a few kilobytes of deflate can claim a gigabyte), and ignores bytes left over in a block
whose record count is wrong. Here the container is framed by this module and only the records are decoded by
fastavro:

- the header: the magic bytes ``Obj\\x01``, a writer schema that parses, a codec this module can inflate with a
  bound (``null``, ``deflate``, ``bzip2``, ``xz``; others are refused by name);
- every block: a record count and a byte size that are not negative, a size that fits in what is left of the
  file, a count the data can hold, data that inflates to at most ``max_block_bytes`` (checked while inflating,
  so memory stays bounded whatever the block claims), a complete compressed stream, the header's sync marker
  after it, and records that end exactly where the block ends.

Any of these raises :class:`DataFileError` naming the file, the block's byte offset and the first record
involved. Readers and the decoding upgrade both read through :func:`read_container`.
"""

from __future__ import annotations

import bz2
import io
import json
import lzma
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import fastavro
from fastavro.read import HEADER_SCHEMA, MAGIC, SYNC_SIZE

from versioning.datafiles.errors import DataFileError

DEFAULT_MAX_BLOCK_BYTES = 128 * 1024 * 1024
"""The most one block may inflate to (128 MiB): writers cut blocks at tens of kilobytes to a few megabytes."""

MAX_BLOCK_BYTES_ENV = "VERSIONING_MAX_BLOCK_BYTES"
"""Environment variable that changes :data:`DEFAULT_MAX_BLOCK_BYTES` (the CLIs' ``--max-block-bytes``)."""

AVRO_CODECS = ("null", "deflate", "snappy", "bzip2", "xz", "zstandard")
"""The codecs the Avro specification names."""

_HEADER = fastavro.parse_schema(HEADER_SCHEMA)
_CHUNK = 1 << 20


def block_byte_limit(explicit: int | None = None) -> int:
    """The decompressed block size limit: ``explicit``, else ``$VERSIONING_MAX_BLOCK_BYTES``, else the default."""
    if explicit is not None:
        if explicit < 1:
            raise ValueError(f"max_block_bytes must be at least 1, not {explicit}")
        return explicit
    text = os.environ.get(MAX_BLOCK_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_BLOCK_BYTES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise DataFileError(
            Path(f"${MAX_BLOCK_BYTES_ENV}"), f"{text!r} is not a positive number of bytes; unset it or fix it"
        )
    return value


class _Corrupt(Exception):
    """Something in the framing is wrong; the caller adds the file and position."""


@dataclass(frozen=True)
class ContainerHeader:
    """What an Avro container file's header declares."""

    writer_schema: Any
    """The writer schema, as parsed by fastavro."""
    codec: str
    """The block codec (``null``, ``deflate``, ...)."""
    sync: bytes
    """The 16-byte sync marker every block must end with."""
    zero_width: bool
    """Whether a record of the writer schema can take no bytes at all (then a block's count is not bounded by
    its size)."""


def read_header(path: Path, handle: BinaryIO) -> ContainerHeader:
    """Read and check the header of an open container file; :class:`DataFileError` if it is not one."""
    start = handle.read(len(MAGIC))
    if start != MAGIC:
        shown = start[:4].hex(" ") if start else "an empty file"
        raise DataFileError(
            path,
            f"not an Avro object container file (the first bytes are {shown}, not 4f 62 6a 01 'Obj\\x01'); "
            "check the file and its --format",
            position=None,
        )
    handle.seek(0)
    try:
        header = fastavro.schemaless_reader(handle, _HEADER)
        assert isinstance(header, dict)
        meta = header["meta"]
        schema_text = meta["avro.schema"]
    except KeyError:
        raise DataFileError(path, "the Avro header has no avro.schema; the file is corrupt, re-export it") from None
    except (Exception, RecursionError) as exc:
        raise DataFileError(path, f"the Avro header cannot be read ({_reason(exc)}); the file is corrupt") from exc
    codec_raw = meta.get("avro.codec", b"null")
    try:
        codec = codec_raw.decode("utf-8")
    except UnicodeDecodeError:
        codec = repr(codec_raw)
    if codec not in _INFLATERS:
        readable = ", ".join(_INFLATERS)
        what = "an Avro codec this tool cannot read" if codec in AVRO_CODECS else "not an Avro codec"
        raise DataFileError(
            path,
            f"the header declares codec {codec!r}, {what} (readable: {readable}); re-encode the file with deflate",
        )
    try:
        parsed = json.loads(schema_text)
        writer = fastavro.parse_schema(parsed)
    except RecursionError:
        raise DataFileError(path, "the writer schema in the header is nested too deeply to read") from None
    except Exception as exc:
        raise DataFileError(
            path, f"the writer schema in the header is not a valid Avro schema ({_reason(exc)}); re-export the file"
        ) from exc
    return ContainerHeader(writer, codec, header["sync"], _can_be_empty(parsed, {}))


def read_container(
    path: Path,
    handle: BinaryIO,
    *,
    reader_schema: Any = None,
    max_block_bytes: int | None = None,
    header: ContainerHeader | None = None,
) -> Iterator[dict[str, Any]]:
    """Every record of an open container file, in order, decoded by fastavro once its block has been checked.

    ``reader_schema`` (parsed) resolves the writer's records to it; a record that does not resolve raises
    :class:`DataFileError` naming it. A record that is not a record (the file's schema is a primitive) is
    refused too.
    """
    header = header if header is not None else read_header(path, handle)
    limit = block_byte_limit(max_block_bytes)
    size = os.fstat(handle.fileno()).st_size if _has_fileno(handle) else _remaining_size(handle)
    decode = fastavro.schemaless_reader
    writer = header.writer_schema
    record_number = 0
    blocks = read_blocks(
        path, handle, codec=header.codec, sync=header.sync, size=size, limit=limit, zero_width=header.zero_width
    )
    for offset, count, data in blocks:
        buffer = io.BytesIO(data)
        for _ in range(count):
            try:
                record = decode(buffer, writer, reader_schema)
            except fastavro.read.SchemaResolutionError as exc:
                raise DataFileError(
                    path,
                    f"the record does not resolve to the schema it is read as ({exc}); check --from, or validate "
                    "the file to see each record's problem",
                    position=record_number + 1,
                ) from exc
            except (Exception, RecursionError) as exc:
                raise DataFileError(
                    path,
                    f"cannot be read as Avro (block at byte {offset}: {_reason(exc)}); the file is corrupt, "
                    "re-export it",
                    position=record_number + 1,
                ) from exc
            record_number += 1
            if not isinstance(record, dict):
                raise DataFileError(
                    path,
                    f"holds a {type(record).__name__} value, not a record; the file's schema must be an Avro record",
                    position=record_number,
                )
            yield record
        if buffer.tell() != len(data):
            raise DataFileError(
                path,
                f"block at byte {offset} declares {count} records but holds {len(data) - buffer.tell()} more bytes "
                "after them; the file is corrupt, re-export it",
                position=record_number,
            )


def read_blocks(
    path: Path, handle: BinaryIO, *, codec: str, sync: bytes, size: int, limit: int, zero_width: bool = True
) -> Iterator[tuple[int, int, bytes]]:
    """Each block of an open container file, positioned after its header: ``(offset, count, data)``, the data
    inflated no further than ``limit`` bytes.

    The framing is checked before a block is handed out: its declared count and size, that it lies within the
    file's ``size``, the codec's stream, and the sync marker after it. ``zero_width`` says a record may take no
    bytes (else a count larger than the data is refused). A problem is a :class:`DataFileError` naming the
    block's byte offset and the first record it holds.
    """
    inflate = _INFLATERS[codec]
    records = 0
    while True:
        offset = handle.tell()
        try:
            count = _file_long(handle)
            if count is None:
                return
            length = _file_long(handle)
            if length is None:
                raise _Corrupt("the file ends inside a block header; it is truncated")
            if count < 0 or length < 0:
                raise _Corrupt(f"the block header declares {count} records of {length} bytes")
            if length + SYNC_SIZE > size - handle.tell():
                raise _Corrupt(f"the block of {length} bytes runs past the end of the file; it is truncated")
            if codec == "null" and length > limit:
                raise _Corrupt(_too_big(length, limit))
            data = inflate(handle.read(length), limit)
            if count > len(data) and not zero_width:
                raise _Corrupt(f"the block declares {count} records in {len(data)} bytes; the file is corrupt")
            if handle.read(SYNC_SIZE) != sync:
                raise _Corrupt("the sync marker after the block differs from the header's; the file is corrupt")
        except _Corrupt as exc:
            raise DataFileError(
                path,
                f"cannot be read as Avro (block at byte {offset}: {exc}); the file is truncated or corrupt, "
                "restore it from its source",
                position=records + 1,
            ) from None
        yield offset, count, data
        records += count


def _too_big(size: int, limit: int) -> str:
    return (
        f"the block expands to more than {limit} bytes (the --max-block-bytes limit); if the file is genuine, "
        f"raise the limit (--max-block-bytes or ${MAX_BLOCK_BYTES_ENV}), else re-export it"
    )


def _null(raw: bytes, limit: int) -> bytes:
    return raw


def _bounded(make: Callable[[], Any], name: str) -> Callable[[bytes, int], bytes]:
    """An inflater that stops as soon as the output passes ``limit``, so a bomb never occupies memory."""

    def inflate(raw: bytes, limit: int) -> bytes:
        decompressor = make()
        out = bytearray()
        pending = raw
        try:
            while True:
                chunk = decompressor.decompress(pending, min(_CHUNK, limit + 1 - len(out)))
                out += chunk
                if len(out) > limit:
                    raise _Corrupt(_too_big(len(out), limit))
                if decompressor.eof:
                    break
                pending = getattr(decompressor, "unconsumed_tail", b"")
                if not chunk and not pending and not getattr(decompressor, "needs_input", True):
                    continue  # bz2/lzma hold output back: ask again with no new input
                if not chunk and not pending:
                    raise _Corrupt(f"the {name} data stops before its end; the file is truncated or corrupt")
        except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError) as exc:
            raise _Corrupt(f"the compressed data is not {name} ({exc}); the file is corrupt") from None
        return bytes(out)

    return inflate


_INFLATERS: dict[str, Callable[[bytes, int], bytes]] = {
    "null": _null,
    "deflate": _bounded(lambda: zlib.decompressobj(-15), "deflate"),
    "bzip2": _bounded(bz2.BZ2Decompressor, "bzip2"),
    "xz": _bounded(lzma.LZMADecompressor, "xz"),
}


def inflate_block(codec: str, raw: bytes, limit: int) -> bytes:
    """A block's data inflated with a bound, for the byte path; :class:`ValueError` with the reason if refused."""
    try:
        return _INFLATERS[codec](raw, limit)
    except _Corrupt as exc:
        raise ValueError(str(exc)) from None


def _file_long(handle: BinaryIO) -> int | None:
    """A zigzag varint long from the file; None at a clean end of file."""
    first = handle.read(1)
    if not first:
        return None
    raw = first[0]
    value, shift = raw & 0x7F, 7
    while raw & 0x80:
        if shift > 63:
            raise _Corrupt("a block header number is longer than a long; the file is corrupt")
        more = handle.read(1)
        if not more:
            raise _Corrupt("the file ends inside a block header; it is truncated")
        raw = more[0]
        value |= (raw & 0x7F) << shift
        shift += 7
    return (value >> 1) ^ -(value & 1)


def _can_be_empty(schema: Any, named: dict[str, Any]) -> bool:
    """Whether a value of ``schema`` can be encoded in zero bytes (only nulls, empty fixed, records of such)."""
    if isinstance(schema, str):
        if schema in named:
            return bool(named[schema])
        return schema == "null"
    if isinstance(schema, list):
        return False  # a union's branch index takes a byte
    if isinstance(schema, dict):
        kind = schema.get("type")
        if kind == "record" or kind == "error":
            name = str(schema.get("name", ""))
            named[name] = True  # a recursive reference: assume empty until a field says otherwise
            empty = all(_can_be_empty(f.get("type"), named) for f in schema.get("fields", []))
            named[name] = empty
            return empty
        if kind == "fixed":
            named[str(schema.get("name", ""))] = schema.get("size") == 0
            return schema.get("size") == 0
        if kind == "enum":
            named[str(schema.get("name", ""))] = False
            return False
        return _can_be_empty(kind, named) if isinstance(kind, str | list | dict) else False
    return False


def _has_fileno(handle: BinaryIO) -> bool:
    try:
        handle.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False
    return True


def _remaining_size(handle: BinaryIO) -> int:
    here = handle.tell()
    end = handle.seek(0, io.SEEK_END)
    handle.seek(here)
    return end


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
