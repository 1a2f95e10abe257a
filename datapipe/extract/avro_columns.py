"""Avro container files written a batch of columns at a time.

fastavro encodes one record dict at a time, in Python-called C: a few microseconds per field, which made it nearly
all of an extraction's time. This writer takes a batch as Arrow arrays (one per field, already holding exactly the
values to write) and encodes every field of every row with numpy: zig-zag varints for ints, longs, dates and
timestamps, little-endian IEEE for floats, length-prefixed bytes for strings, bytes and decimals (two's complement,
big-endian, minimal length, as the Avro specification says), union branch indexes for nullable fields.

Most encodings are short: a field's values are a padded matrix (a row per record, as wide as the longest value,
with each row's byte count), and consecutive padded fields are laid side by side and cut out of the joined rows in
one boolean-mask pass. Only variable-length payloads (the bytes of strings, wide decimals) stay runs of their own;
Arrow joins those runs and the padded groups row by row into the records, and the block is deflated.

The output is an ordinary Avro object container file (codec ``deflate``) that fastavro, Avro's own libraries and
BigQuery read; tests hold it byte-for-value equal to fastavro's own encoding of the same records.
"""

from __future__ import annotations

import json
import os
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

deflate: ModuleType
try:
    # ISA-L's deflate writes the same raw deflate format about five times faster than zlib at its fastest level
    # (and a little smaller): the difference between a deflate thread that keeps up and one that does not.
    from isal import isal_zlib as deflate
except ImportError:  # an image built without it still writes the same format, more slowly
    deflate = zlib

MAGIC = b"Obj\x01"
DEFLATE_LEVEL = 1
"""Level of the blocks: ISA-L's fastest that still looks for matches (zlib's 1 when ISA-L is missing). BigQuery
decompresses any level; the files are staging files."""


@dataclass(frozen=True)
class Bytes:
    """A run of encoded values: ``lengths[i]`` bytes for row ``i``, all of them concatenated in ``data``."""

    lengths: np.ndarray
    data: np.ndarray


def arrow_type(avro: Any) -> pa.DataType:
    """The Arrow type whose values the encoder writes for an Avro field type (a nullable union: its branch)."""
    if isinstance(avro, list):
        return arrow_type(_branch(avro))
    if isinstance(avro, str):
        return _PRIMITIVE_ARROW[avro]
    logical = avro.get("logicalType")
    if logical == "decimal":
        precision, scale = int(avro["precision"]), int(avro.get("scale", 0))
        return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    if logical in _LOGICAL_ARROW:
        return _LOGICAL_ARROW[logical]
    return _PRIMITIVE_ARROW[avro["type"]]


_PRIMITIVE_ARROW: dict[str, pa.DataType] = {
    "int": pa.int32(), "long": pa.int64(), "float": pa.float32(), "double": pa.float64(), "boolean": pa.bool_(),
    "string": pa.string(), "bytes": pa.binary(),
}
_LOGICAL_ARROW: dict[str, pa.DataType] = {
    "date": pa.date32(), "time-micros": pa.time64("us"), "timestamp-micros": pa.timestamp("us", tz="UTC"),
    "local-timestamp-micros": pa.timestamp("us"), "uuid": pa.string(),
}


def _branch(union: list[Any]) -> Any:
    return next(b for b in union if b != "null")


class AvroColumnWriter:
    """Writes an Avro container file to ``stream`` from batches of Arrow columns (:meth:`write`).

    With ``background=True`` each block is deflated and written by a worker thread while the caller encodes the
    next one (both deflates release the GIL): at most one block is in flight, and :meth:`close` waits for it. A
    failure of that write is raised by the next :meth:`write` or by :meth:`close`. ``codec`` is the deflate module
    (:data:`deflate`: ISA-L's, or zlib's when ISA-L is not installed)."""

    def __init__(self, stream: BinaryIO, schema: dict[str, Any], *, background: bool = False,
                 codec: ModuleType = deflate) -> None:
        self.stream = stream
        self.codec = codec
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="datapipe-avro-block") if background else None
        self._pending: Future[None] | None = None
        self.fields = schema["fields"]
        self.sync = os.urandom(16)
        metadata = {"avro.schema": json.dumps(schema).encode(), "avro.codec": b"deflate"}
        header = bytearray(MAGIC)
        header += _long(len(metadata))
        for key, value in metadata.items():
            header += _long(len(key)) + key.encode() + _long(len(value)) + value
        header += _long(0) + self.sync
        stream.write(bytes(header))

    def write(self, columns: list[pa.Array], rows: int) -> None:
        """Write one block: ``rows`` records whose field ``i`` holds ``columns[i]`` (typed per :func:`arrow_type`)."""
        if rows == 0:
            return
        pieces: list[Piece] = []
        for field, column in zip(self.fields, columns, strict=True):
            pieces.extend(_field(field["type"], column))
        data = records(pieces, rows)
        if self._pool is None:
            self._emit(rows, data)
            return
        self._wait()  # one block in flight at most: memory stays bounded by two batches
        self._pending = self._pool.submit(self._emit, rows, data)

    def close(self) -> None:
        """Wait for the block being written in the background (raising its error) and stop the worker.
        The stream itself is left open: it is the caller's."""
        try:
            self._wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _emit(self, rows: int, data: np.ndarray) -> None:
        compressor = self.codec.compressobj(DEFLATE_LEVEL, self.codec.DEFLATED, -15)  # raw deflate, as Avro says
        block = compressor.compress(data.data) + compressor.flush()
        self.stream.write(_long(rows) + _long(len(block)) + block + self.sync)


@dataclass(frozen=True)
class Padded:
    """Values of at most ``matrix.shape[1]`` bytes: row ``i``'s are the first ``counts[i]`` bytes of ``matrix[i]``,
    or the whole row when ``counts`` is None. Consecutive padded fields are joined side by side and cut out of the
    joined rows in one pass (:func:`records`), which spares interleaving each one."""

    matrix: np.ndarray
    counts: np.ndarray | None


Piece = Bytes | Padded


def records(pieces: list[Piece], rows: int) -> np.ndarray:
    """The block's records: row 0's bytes of every piece in order, then row 1's, ..."""
    runs: list[Bytes] = []
    group: list[Padded] = []
    for piece in pieces:
        if isinstance(piece, Padded):
            group.append(piece)
            continue
        if group:
            runs.append(_cut(group, rows))
            group = []
        runs.append(piece)
    if group:
        runs.append(_cut(group, rows))
    return interleave(runs, rows)[0]


def _cut(group: list[Padded], rows: int) -> Bytes:
    """Padded fields side by side as one run: each row's used bytes, in order (a boolean mask over the rows)."""
    width = sum(p.matrix.shape[1] for p in group)
    if len(group) == 1:
        matrix = np.ascontiguousarray(group[0].matrix)
    else:
        matrix = np.empty((rows, width), np.uint8)
        at = 0
        for piece in group:
            matrix[:, at:at + piece.matrix.shape[1]] = piece.matrix
            at += piece.matrix.shape[1]
    if all(p.counts is None for p in group):
        return Bytes(np.full(rows, width, np.int64), matrix.reshape(-1))
    mask = np.empty((rows, width), np.bool_)
    lengths = np.zeros(rows, np.int64)
    at = 0
    for piece in group:
        size = piece.matrix.shape[1]
        if piece.counts is None:
            mask[:, at:at + size] = True
            lengths += size
        else:
            np.less(np.arange(size), piece.counts[:, None], out=mask[:, at:at + size])
            lengths += piece.counts
        at += size
    return Bytes(lengths, matrix[mask])


def interleave(pieces: list[Bytes], rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Row 0's bytes of every piece in order, then row 1's, ...: the records. Returns (bytes, record lengths)."""
    if not pieces:
        return np.zeros(0, np.uint8), np.zeros(rows, np.int64)
    if len(pieces) == 1:
        return pieces[0].data, pieces[0].lengths
    if sum(p.data.size for p in pieces) < _ARROW_JOIN_LIMIT:
        # Arrow joins the pieces row by row in one C++ pass: the bytes of each piece as a binary array.
        arrays = []
        for piece in pieces:
            offsets = np.zeros(rows + 1, np.int32)
            np.cumsum(piece.lengths, out=offsets[1:])
            arrays.append(pa.BinaryArray.from_buffers(
                pa.binary(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(piece.data))]))
        joined = pc.binary_join_element_wise(*arrays, b"")
        bounds = np.frombuffer(joined.buffers()[1], np.int32)[: rows + 1]
        data_buffer = joined.buffers()[2]
        if data_buffer is None:
            return np.zeros(0, np.uint8), np.zeros(rows, np.int64)
        return np.frombuffer(data_buffer, np.uint8)[bounds[0]:bounds[-1]], np.diff(bounds).astype(np.int64)
    lengths = np.stack([p.lengths for p in pieces], axis=1)
    flat = lengths.ravel()
    starts = (np.cumsum(flat) - flat).reshape(rows, len(pieces))
    out = np.empty(int(flat.sum()), np.uint8)
    for index, piece in enumerate(pieces):
        if piece.data.size == 0:
            continue
        ends = np.cumsum(piece.lengths)
        shift = np.repeat(starts[:, index] - (ends - piece.lengths), piece.lengths)
        out[shift + np.arange(piece.data.size)] = piece.data
    return out, lengths.sum(axis=1)


_ARROW_JOIN_LIMIT = 2**31 - 1
"""Arrow's binary arrays have 32-bit offsets: a larger block is interleaved by numpy."""


def _field(avro: Any, column: pa.Array) -> list[Piece]:
    rows = len(column)
    if isinstance(avro, list):
        null_index = avro.index("null")
        value_index = 1 - null_index if len(avro) == 2 else avro.index(_branch(avro))
        if column.null_count == 0:
            # Every row takes the value branch: its index (zig-zag of 0 or 1, one byte) is a constant column.
            return [_constant(rows, 2 * value_index), *_values(_branch(avro), column)]
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        branch = np.where(valid, 2 * value_index, 2 * null_index).astype(np.uint8)
        values = _values(_branch(avro), column.filter(pa.array(valid)))
        return [Padded(branch[:, None], None), *(_spread(piece, valid, rows) for piece in values)]
    if column.null_count:
        raise ValueError("a null in a field that is not nullable")
    return _values(avro, column)


def _constant(rows: int, byte: int) -> Padded:
    return Padded(np.full((rows, 1), byte, np.uint8), None)


def _spread(piece: Piece, valid: np.ndarray, rows: int) -> Piece:
    """A piece encoded for the valid rows only, as a piece of every row (nothing for a null)."""
    if isinstance(piece, Bytes):
        lengths = np.zeros(rows, np.int64)
        lengths[valid] = piece.lengths
        return Bytes(lengths, piece.data)
    matrix = np.zeros((rows, piece.matrix.shape[1]), np.uint8)
    matrix[valid] = piece.matrix
    counts = np.zeros(rows, np.int64)
    counts[valid] = piece.matrix.shape[1] if piece.counts is None else piece.counts
    return Padded(matrix, counts)


def _values(avro: Any, column: pa.Array) -> list[Piece]:
    """Each value's encoding."""
    kind = avro if isinstance(avro, str) else avro.get("logicalType") or avro["type"]
    if kind in ("int", "long", "date", "time-micros", "timestamp-micros", "local-timestamp-micros"):
        if kind == "date":
            column = column.cast(pa.int32())
        elif kind != "int":
            column = column.cast(pa.int64())
        return [varint_matrix(np.asarray(column.to_numpy(zero_copy_only=False), np.int64))]
    if kind in ("double", "float", "boolean"):
        dtype = np.dtype({"double": "<f8", "float": "<f4", "boolean": "u1"}[kind])
        values = np.ascontiguousarray(column.to_numpy(zero_copy_only=False), dtype=dtype)
        return [Padded(values.view(np.uint8).reshape(len(values), values.itemsize), None)]
    if kind in ("string", "bytes", "uuid"):
        return _length_prefixed(_offsets_and_data(column))
    if kind == "decimal":
        if column.type.byte_width == 16 and column.type.precision <= 18:
            return [_narrow_decimal(column)]
        return _length_prefixed(_twos_complement(column))
    raise ValueError(f"no column encoder for Avro type {avro!r}")


def varints(values: np.ndarray) -> Bytes:
    """Avro's zig-zag varints of int64 values, one after another."""
    return _cut([varint_matrix(values)], len(values))


_VARINT_LIMITS = np.array([1 << (7 * k) for k in range(1, 10)], np.uint64)
"""A zig-zagged value below ``_VARINT_LIMITS[k]`` takes ``k + 1`` bytes."""
_CONTINUATION = np.array([sum(0x80 << (8 * j) for j in range(min(n - 1, 8))) for n in range(11)], np.uint64)
"""The continuation bits of the first eight bytes of an ``n``-byte varint, as a little-endian uint64."""


def varint_matrix(values: np.ndarray) -> Padded:
    """Avro's zig-zag varints of int64 values: row ``i`` holds value ``i``'s bytes, ``counts[i]`` of them."""
    rows = len(values)
    zigzag = ((values << 1) ^ (values >> 63)).view(np.uint64)
    counts = np.searchsorted(_VARINT_LIMITS, zigzag, side="right") + 1
    width = int(counts.max()) if rows else 1
    # Bytes 0-7 built in one uint64 per value: 7-bit group k moved up to bits 8k..8k+6, the continuation bits or-ed
    # in, the result read as 8 little-endian bytes. Only values of 2**56 and more have a byte 8 or 9.
    spread = zigzag & np.uint64(0x7F)
    for k in range(1, min(width, 8)):
        spread |= (zigzag & np.uint64(0x7F << (7 * k))) << np.uint64(k)
    spread |= _CONTINUATION[counts]
    low = spread.astype("<u8", copy=False).view(np.uint8).reshape(rows, 8)
    if width <= 8:
        return Padded(low[:, :width], counts)
    matrix = np.empty((rows, width), np.uint8)
    matrix[:, :8] = low
    for k in range(8, width):
        group = ((zigzag >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        matrix[:, k] = group | ((counts > k + 1).astype(np.uint8) << 7)
    return Padded(matrix, counts)


def _offsets_and_data(column: pa.Array) -> Bytes:
    large = pa.types.is_large_string(column.type) or pa.types.is_large_binary(column.type)
    offset_type: Any = np.int64 if large else np.int32
    column = pa.concat_arrays([column]) if column.offset else column
    offsets_buffer, data_buffer = column.buffers()[1], column.buffers()[2]
    offsets = np.frombuffer(offsets_buffer, offset_type)[: len(column) + 1].astype(np.int64)
    data = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    return Bytes(np.diff(offsets), data[offsets[0]:offsets[-1]])


_DECIMAL_LIMITS = np.array([1 << (8 * k - 1) for k in range(1, 8)], np.uint64)
"""A two's complement value whose magnitude bits (``~v`` for a negative ``v``) are below ``_DECIMAL_LIMITS[k]``
takes ``k + 1`` bytes."""


def _narrow_decimal(column: pa.Array) -> Padded:
    """Decimals of precision <= 18: every value fits an int64 (10**18 < 2**63), held in the low 8 of its 16 bytes.
    Row ``i``: the length (zig-zag, one byte), then the minimal big-endian two's complement bytes."""
    rows = len(column)
    column = pa.concat_arrays([column]) if column.offset else column
    values = np.frombuffer(column.buffers()[1], np.int64)[: 2 * rows : 2]  # the low halves, little-endian
    magnitude = np.where(values < 0, ~values, values).view(np.uint64)
    lengths = np.searchsorted(_DECIMAL_LIMITS, magnitude, side="right") + 1
    # Shifted up so that the minimal bytes come first once the value is written big-endian.
    aligned = values.view(np.uint64) << (np.uint64(8) * (8 - lengths).astype(np.uint64))
    matrix = np.empty((rows, 9), np.uint8)
    matrix[:, 0] = 2 * lengths  # zig-zag of a length below 64: one byte
    matrix[:, 1:] = aligned.astype(">u8").view(np.uint8).reshape(rows, 8)
    return Padded(matrix, lengths + 1)


def _twos_complement(column: pa.Array) -> Bytes:
    width = column.type.byte_width
    column = pa.concat_arrays([column]) if column.offset else column
    raw = np.frombuffer(column.buffers()[1], np.uint8)[: len(column) * width].reshape(len(column), width)
    big_endian = raw[:, ::-1]
    sign = np.where(big_endian[:, 0] >= 0x80, 0xFF, 0x00).astype(np.uint8)
    differs = big_endian != sign[:, None]
    first = differs.argmax(axis=1)
    rows = np.arange(len(column))
    leading = np.where(differs[rows, first], first, width)
    leading = np.minimum(leading, width - 1)
    # Keep one sign byte when the first remaining byte's top bit does not carry the sign.
    top = big_endian[rows, leading]
    leading = leading - (((top & 0x80) != (sign & 0x80)) & (leading > 0))
    lengths = width - leading
    return Bytes(lengths.astype(np.int64), big_endian[np.arange(width) >= leading[:, None]])


def _length_prefixed(values: Bytes) -> list[Piece]:
    """The length (a varint, padded: it joins the padded fields before it) and the bytes."""
    return [varint_matrix(values.lengths.astype(np.int64)), values]


def _long(value: int) -> bytes:
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while True:
        byte = zigzag & 0x7F
        zigzag >>= 7
        if zigzag:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
