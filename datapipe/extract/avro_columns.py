"""Avro container files written a batch of columns at a time.

fastavro encodes one record dict at a time, in Python-called C: a few microseconds per field, which made it nearly
all of an extraction's time. This writer takes a batch as Arrow arrays (one per field, already holding exactly the
values to write) and encodes every field of every row with numpy: zig-zag varints for ints, longs, dates and
timestamps, little-endian IEEE for floats, length-prefixed bytes for strings, bytes and decimals (two's complement,
big-endian, minimal length, as the Avro specification says), union branch indexes for nullable fields. The
per-field byte runs are then interleaved into records in one scatter, and the block is deflated.

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

try:
    # ISA-L's deflate writes the same raw deflate format about five times faster than zlib at its fastest level
    # (and a little smaller): the difference between a deflate thread that keeps up and one that does not.
    from isal import isal_zlib as deflate
except ImportError:  # an image built without it still writes the same format, more slowly
    deflate = zlib  # type: ignore[no-redef,assignment]

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
        pieces: list[Bytes] = []
        for field, column in zip(self.fields, columns, strict=True):
            pieces.extend(_field(field["type"], column))
        data, _ = interleave(pieces, rows)
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


def interleave(pieces: list[Bytes], rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Row 0's bytes of every piece in order, then row 1's, ...: the records. Returns (bytes, record lengths)."""
    if not pieces:
        return np.zeros(0, np.uint8), np.zeros(rows, np.int64)
    if len(pieces) > 1 and sum(p.data.size for p in pieces) < _ARROW_JOIN_LIMIT:
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


def _field(avro: Any, column: pa.Array) -> list[Bytes]:
    rows = len(column)
    if isinstance(avro, list):
        null_index = avro.index("null")
        value_index = 1 - null_index if len(avro) == 2 else avro.index(_branch(avro))
        if column.null_count == 0:
            # Every row takes the value branch: its index is one more leading byte of each value (zig-zag of 0
            # or 1 fits one byte), which spares interleaving a piece of its own.
            return [_values(_branch(avro), column, lead=2 * value_index)]
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        branch = np.where(valid, 2 * value_index, 2 * null_index).astype(np.uint8)  # zig-zag of 0 or 1
        values = _values(_branch(avro), column.filter(pa.array(valid)))
        lengths = np.zeros(rows, np.int64)
        lengths[valid] = values.lengths
        return [Bytes(np.ones(rows, np.int64), branch), Bytes(lengths, values.data)]
    if column.null_count:
        raise ValueError("a null in a field that is not nullable")
    return [_values(avro, column)]


def _values(avro: Any, column: pa.Array, lead: int | None = None) -> Bytes:
    """Each value's encoding, preceded by the byte ``lead`` when given."""
    kind = avro if isinstance(avro, str) else avro.get("logicalType") or avro["type"]
    if kind in ("int", "long", "date", "time-micros", "timestamp-micros", "local-timestamp-micros"):
        if kind == "date":
            column = column.cast(pa.int32())
        elif kind != "int":
            column = column.cast(pa.int64())
        return varints(np.asarray(column.to_numpy(zero_copy_only=False), np.int64), lead)
    if kind in ("double", "float", "boolean"):
        dtype = np.dtype({"double": "<f8", "float": "<f4", "boolean": "u1"}[kind])
        values = np.ascontiguousarray(column.to_numpy(zero_copy_only=False), dtype=dtype)
        return _fixed(values.view(np.uint8).reshape(len(values), values.itemsize), lead)
    if kind in ("string", "bytes", "uuid"):
        return _length_prefixed(_offsets_and_data(column), lead)
    if kind == "decimal":
        return _length_prefixed(_twos_complement(column), lead)
    raise ValueError(f"no column encoder for Avro type {avro!r}")


def _fixed(matrix: np.ndarray, lead: int | None) -> Bytes:
    rows, width = matrix.shape
    if lead is not None:
        led = np.empty((rows, width + 1), np.uint8)
        led[:, 0] = lead
        led[:, 1:] = matrix
        matrix, width = led, width + 1
    return Bytes(np.full(rows, width, np.int64), matrix.reshape(-1))


def varints(values: np.ndarray, lead: int | None = None) -> Bytes:
    """Avro's zig-zag varints of int64 values, each preceded by the byte ``lead`` when given."""
    zigzag = ((values << 1) ^ (values >> 63)).view(np.uint64)
    count = np.ones(len(zigzag), np.int64)
    rest = zigzag >> np.uint64(7)
    while rest.any():
        count += rest > 0
        rest >>= np.uint64(7)
    width = int(count.max()) if len(count) else 1
    extra = 0 if lead is None else 1
    matrix = np.empty((len(zigzag), width + extra), np.uint8)
    if lead is not None:
        matrix[:, 0] = lead
    for k in range(width):
        group = ((zigzag >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        matrix[:, k + extra] = group | np.where(k < count - 1, 0x80, 0).astype(np.uint8)
    count += extra
    return Bytes(count, matrix[np.arange(width + extra) < count[:, None]])


def _offsets_and_data(column: pa.Array) -> Bytes:
    large = pa.types.is_large_string(column.type) or pa.types.is_large_binary(column.type)
    offset_type: Any = np.int64 if large else np.int32
    column = pa.concat_arrays([column]) if column.offset else column
    offsets_buffer, data_buffer = column.buffers()[1], column.buffers()[2]
    offsets = np.frombuffer(offsets_buffer, offset_type)[: len(column) + 1].astype(np.int64)
    data = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    return Bytes(np.diff(offsets), data[offsets[0]:offsets[-1]])


def _twos_complement(column: pa.Array) -> Bytes:
    width = column.type.byte_width
    column = pa.concat_arrays([column]) if column.offset else column
    raw = np.frombuffer(column.buffers()[1], np.uint8)[: len(column) * width].reshape(len(column), width)
    if width == 16 and column.type.precision <= 18:
        # Every value fits an int64 (10**18 < 2**63): its low 8 bytes carry it, sign included.
        raw, width = raw[:, :8], 8
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


def _length_prefixed(values: Bytes, lead: int | None = None) -> Bytes:
    prefix = varints(values.lengths.astype(np.int64), lead)
    data, lengths = interleave([prefix, values], len(values.lengths))
    return Bytes(lengths, data)


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
