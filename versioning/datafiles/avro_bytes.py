"""Upgrading Avro container files without decoding a value: each new record is built from slices of the old one.

For a purely declarative step chain (add, copy, rename, remove, the promotions that keep the encoding, the
implied defaults and drops) over flat records of simple types, every field of the target version is one of:

- a source field's bytes, as they are (same type, or ``int`` to ``long``, ``string`` to ``bytes``);
- a source field's bytes behind a union branch index (``created_at`` copied into ``["null", "string"]``);
- a constant's encoding, worked out once (``b"\\x00"`` for a null default).

So users v1 -> v3 is ``record + b"\\x00\\x02" + created_at + b"\\x00"`` per record. To find where each field
starts, every record is walked by a skipper generated for the source schema (one function per schema, as
:mod:`versioning.upgrade.rows` generates its dict displays). Blocks are streamed: read, decompressed,
walked, rebuilt, compressed (in two threads: zlib lets go of the GIL, and deflate costs more than the walk)
and written in order with the output file's own sync marker, so memory is bounded by a few blocks.

The walk checks what decoding with fastavro would (the existing path trusts that decoding as validation):
truncated data, varints past the block or longer than an int/long allows, union and enum indexes out of
range, booleans other than 0 and 1, records that do not end exactly where the block ends (a wrong record
count), sync markers that differ from the header's, and text that is not UTF-8. Any of these raises
:class:`DataFileError` naming the file and the record; :func:`atomic_output` then leaves no output.

Anything else (arrays, maps, nested records, logical types, ``call`` steps, promotions that change the
encoding, a file written with another schema than the source version's, codecs other than null and
deflate) is refused with :class:`NotByteUpgradable`, and the caller takes the decoding path.
"""

from __future__ import annotations

import io
import json
import os
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import fastavro
from fastavro.read import HEADER_SCHEMA, MAGIC, SYNC_SIZE

from versioning.datafiles.atomic import atomic_output
from versioning.datafiles.avro_container import block_byte_limit, read_blocks
from versioning.datafiles.avro_types import AvroSchema, Node
from versioning.datafiles.errors import DataFileError
from versioning.registry import VERSION_FIELD, Subject
from versioning.upgrade.operations import Step
from versioning.upgrade.plan import Constant, Expression, InputField, Promoted, plan_fields

CODECS = ("null", "deflate")
"""The codecs the byte path reads and writes; files with another codec go the decoding way."""

COMPRESSION_THREADS = 2
"""Threads compressing output blocks while the walk goes on (deflate costs more than the walk itself)."""

IN_FLIGHT = 8
"""Blocks at most waiting for compression: memory stays a few blocks, whatever the file's size."""

_HEADER = fastavro.parse_schema(HEADER_SCHEMA)
_PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "string", "bytes")
_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)


class NotByteUpgradable(Exception):
    """The step chain or the file cannot be upgraded byte by byte; ``reason`` says why (for logs and tests)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# --- what a field's bytes look like -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    """How a value of a simple Avro type is laid out; equal kinds have the same encoding of the same values."""

    name: str
    """An Avro primitive name, ``"enum"``, ``"fixed"`` or ``"union"``."""
    size: int = 0
    """``fixed``: its size in bytes."""
    symbols: tuple[str, ...] = ()
    """``enum``: its symbols (an index means the same symbol only if the order is the same)."""
    branches: tuple[_Kind, ...] = ()
    """``union``: its branches, in order."""

    @property
    def min_width(self) -> int:
        """The fewest bytes a value takes (records of zero width could claim any count in a block)."""
        widths = {"null": 0, "float": 4, "double": 8, "fixed": self.size}
        return widths.get(self.name, 1)


def _kind(node: Node, schema: AvroSchema, where: str, *, in_union: bool = False) -> _Kind:
    """The layout of a field type, or :class:`NotByteUpgradable` if it is not a simple type."""
    node = schema.resolve(node)
    if isinstance(node, list):
        if in_union:
            raise NotByteUpgradable(f"{where}: a union inside a union is not Avro")
        return _Kind("union", branches=tuple(_kind(b, schema, where, in_union=True) for b in node))
    if isinstance(node, dict):
        if "logicalType" in node:
            # fastavro converts logical values (and may reject some, like a malformed uuid): decode them.
            raise NotByteUpgradable(f"{where}: logical type {node['logicalType']!r} is read by decoding")
        kind = node.get("type")
        if kind == "enum":
            return _Kind("enum", symbols=tuple(node["symbols"]))
        if kind == "fixed":
            return _Kind("fixed", size=int(node["size"]))
        if kind in _PRIMITIVES:  # other properties (``avro.java.string``...) do not change the encoding
            return _Kind(str(kind))
        raise NotByteUpgradable(f"{where}: type {kind!r} is not a flat value (arrays, maps, records decode)")
    if node in _PRIMITIVES:
        return _Kind(str(node))
    raise NotByteUpgradable(f"{where}: type {node!r} is not a flat value")


# --- how fastavro's writer would encode a value read from a field ---------------------------------------------

_VALUE_OF = {
    "null": "none",
    "boolean": "bool",
    "int": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": "str",
    "bytes": "bytes",
}
"""The Python value fastavro reads from each primitive, by what matters to the writer: its class and range."""

_TAKEN_BY = {
    "none": ("null",),
    "bool": ("boolean",),
    "int32": ("int", "long", "float", "double"),
    "int64": ("int", "long", "float", "double"),
    "float32": ("float", "double"),
    "float64": ("float", "double"),
    "str": ("string",),
    "bytes": ("bytes",),
}
"""Union branches fastavro's writer accepts such a value in (its validators: bool is not an int there)."""

_SAME_BYTES = {
    ("none", "null"),
    ("bool", "boolean"),
    ("int32", "int"),
    ("int32", "long"),
    ("int64", "long"),
    ("float32", "float"),
    ("float64", "double"),
    ("str", "string"),
    ("bytes", "bytes"),
}
"""(value, type written as) pairs whose encoding is the bytes the value was read from."""


def _chosen_branch(value: str, union: _Kind) -> int | None:
    """The branch fastavro's writer puts every value of this class in, if it keeps the bytes; else None.

    fastavro takes the first branch that accepts the value, except that a float goes to a later ``double``
    in preference to ``float``. A non-primitive branch first might take some values (an enum takes some
    strings), and an ``int`` branch takes only some longs (not in :data:`_SAME_BYTES`): those make the
    choice depend on the value.
    """
    for index, branch in enumerate(union.branches):
        if branch.name not in _PRIMITIVES:
            return None
        if branch.name not in _TAKEN_BY[value]:
            continue
        if branch.name == "float":
            later = [i for i, b in enumerate(union.branches) if i > index and b.name == "double"]
            index = later[0] if later else index
        return index if (value, union.branches[index].name) in _SAME_BYTES else None
    return None


def _zigzag(value: int) -> bytes:
    """A long as Avro writes it: zigzag, then 7 bits a byte, low bits first."""
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


@dataclass(frozen=True)
class _Slice:
    """A source field's bytes, as they are."""

    field: int


@dataclass(frozen=True)
class _Bytes:
    """Bytes written as they are: a constant's encoding, or a union branch index."""

    data: bytes


_Part = _Slice | _Bytes


def _source_parts(
    expr: Expression, target: _Kind, source: list[_Kind], index_of: dict[str, int], where: str
) -> list[_Part]:
    """How a target field whose value comes from a source field is written: its bytes, maybe behind a branch."""
    promotions: list[tuple[str, str]] = []
    while isinstance(expr, Promoted):
        promotions.append((expr.source_type, expr.to))
        expr = expr.value
    assert isinstance(expr, InputField)
    field = index_of[expr.name]
    kind = source[field]
    if not promotions and kind == target:
        return [_Slice(field)]
    if kind.name == "union":
        if target.name == "union" and all(
            b.name in _VALUE_OF and _chosen_branch(_VALUE_OF[b.name], target) == i for i, b in enumerate(kind.branches)
        ):
            return [_Slice(field)]  # every branch lands at the same index with the same bytes
        raise NotByteUpgradable(f"{where}: union {expr.name!r} changes its branches")
    if kind.name not in _VALUE_OF:
        raise NotByteUpgradable(f"{where}: {kind.name} {expr.name!r} changes its type")
    value = _VALUE_OF[kind.name]
    for step in reversed(promotions):  # innermost (earliest) first
        if step == ("int", "long"):
            continue  # the value stays the same int
        if step == ("string", "bytes"):
            value = "bytes"  # the same UTF-8 bytes, length first
            continue
        raise NotByteUpgradable(f"{where}: promotion {step[0]} -> {step[1]} changes the encoding")
    if target.name == "union":
        branch = _chosen_branch(value, target)
        if branch is None:
            raise NotByteUpgradable(f"{where}: the union branch fastavro would choose changes the bytes")
        return [_Bytes(_zigzag(branch)), _Slice(field)]
    if (value, target.name) in _SAME_BYTES:
        return [_Slice(field)]
    raise NotByteUpgradable(f"{where}: {kind.name} {expr.name!r} written as {target.name} changes the bytes")


def _constant(value: Any, target: _Kind, where: str) -> _Bytes:
    """A constant's encoding, as fastavro's writer gives it for the target field's type."""
    if target.name == "union" and all(b.name in _PRIMITIVES for b in target.branches):
        schema: Any = [b.name for b in target.branches]
    elif target.name in _PRIMITIVES:
        schema = target.name
    else:
        raise NotByteUpgradable(f"{where}: constants of {target.name} types are written by decoding")
    out = io.BytesIO()
    try:
        fastavro.schemaless_writer(out, fastavro.parse_schema(schema), value)
    except Exception as exc:  # the decoding path then raises its own error for the same value
        raise NotByteUpgradable(f"{where}: fastavro cannot write {value!r} ({exc})") from exc
    return _Bytes(out.getvalue())


def _merged(parts: list[_Part]) -> list[tuple[int, int] | bytes]:
    """Adjacent source fields as one slice ``(first, past_last)``, adjacent constants as one byte string."""
    out: list[tuple[int, int] | bytes] = []
    for part in parts:
        last = out[-1] if out else None
        if isinstance(part, _Bytes) and isinstance(last, bytes):
            out[-1] = last + part.data
        elif isinstance(part, _Bytes):
            out.append(part.data)
        elif isinstance(last, tuple) and last[1] == part.field:
            out[-1] = (last[0], part.field + 1)
        else:
            out.append((part.field, part.field + 1))
    return out


# --- the generated walker --------------------------------------------------------------------------------------


class _Corrupt(Exception):
    """Raised inside a walk: the block is not what its schema says (the careful walk then says exactly how)."""


def _varint(data: bytes, p: int, width: int) -> tuple[int, int]:
    """A zigzag varint of at most ``width`` bytes at ``p``, and the position after it."""
    acc = 0
    for q in range(p, p + width):
        b = data[q]
        acc |= (b & 0x7F) << (7 * (q - p))
        if b < 0x80:
            return (acc >> 1) ^ -(acc & 1), q + 1
    raise _Corrupt(f"a varint runs longer than the {width} bytes {'an int' if width == 5 else 'a long'} may take")


def _long(data: bytes, p: int) -> tuple[int, int]:
    """A long at ``p`` (at most 10 bytes, within the long range) and the position after it."""
    value, q = _varint(data, p, 10)
    if not _LONG_RANGE[0] <= value <= _LONG_RANGE[1]:
        raise _Corrupt(f"a long varint holds {value}, outside the long range")
    return value, q


def _int(data: bytes, p: int) -> tuple[int, int]:
    """An int at ``p`` (at most 5 bytes, within the int range) and the position after it."""
    value, q = _varint(data, p, 5)
    if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
        raise _Corrupt(f"an int varint holds {value}, outside the int range")
    return value, q


def _length(data: bytes, p: int) -> tuple[int, int]:
    """A string or bytes length at ``p`` and the position after it."""
    value, q = _long(data, p)
    if value < 0:
        raise _Corrupt(f"a length of {value} bytes")
    return value, q


def _index(data: bytes, p: int, count: int) -> tuple[int, int]:
    """A union branch or enum index (times two, the byte a one-byte varint of it is) and the position after."""
    value, q = _long(data, p)
    if not 0 <= value < count:
        raise _Corrupt(f"index {value} is out of range (there are {count})")
    return value * 2, q


def _fail() -> None:
    raise _Corrupt("a value breaks the schema")


Walker = Callable[[bytes, int], tuple[bytes, int]]
"""``walk(data, count)``: the output block's bytes and where the records ended (the block's length if valid)."""


def _skip_code(kind: _Kind, lines: list[str], indent: str, check_text: bool) -> None:
    """Lines that move ``p`` past one value of ``kind`` (bounds are checked once per block, see the caller)."""
    name = kind.name
    if name in ("string", "bytes"):
        lines += [
            f"{indent}b = data[p]",
            f"{indent}if b & 129:",
            f"{indent}    n, p = _length(data, p)",
            f"{indent}else:",
            f"{indent}    n = b >> 1",
            f"{indent}    p += 1",
        ]
        if check_text and name == "string":
            lines += [f"{indent}t = p", f"{indent}p += n", f"{indent}text(data[t:p])"]
        else:
            lines.append(f"{indent}p += n")
    elif name in ("int", "long"):
        helper = "_int" if name == "int" else "_long"
        lines += [f"{indent}if data[p] & 128:", f"{indent}    p = {helper}(data, p)[1]", f"{indent}else:"]
        lines.append(f"{indent}    p += 1")
    elif name == "boolean":
        lines += [f"{indent}if data[p] > 1:", f"{indent}    _fail()", f"{indent}p += 1"]
    elif name in ("float", "double", "fixed"):
        width = {"float": 4, "double": 8}.get(name, kind.size)
        if width:
            lines.append(f"{indent}p += {width}")
    elif name == "enum":
        lines += [
            f"{indent}b = data[p]",
            f"{indent}if b & 129 or b >= {2 * len(kind.symbols)}:",
            f"{indent}    p = _index(data, p, {len(kind.symbols)})[1]",
            f"{indent}else:",
            f"{indent}    p += 1",
        ]
    elif name == "union":
        count = len(kind.branches)
        lines += [
            f"{indent}b = data[p]",
            f"{indent}if b & 129 or b >= {2 * count}:",
            f"{indent}    b, p = _index(data, p, {count})",
            f"{indent}else:",
            f"{indent}    p += 1",
        ]
        keyword = "if"
        for i, branch in enumerate(kind.branches):
            body: list[str] = []
            _skip_code(branch, body, indent + "    ", check_text)
            if body:
                lines += [f"{indent}{keyword} b == {2 * i}:", *body]
                keyword = "elif"
    # null: nothing to skip


def compile_walker(source: list[_Kind], output: list[tuple[int, int] | bytes], *, check_text: bool) -> Walker:
    """One function that walks ``count`` records of ``source`` kinds and builds the output block.

    Generated source, like :func:`versioning.upgrade.rows.compile_plan`: one loop with the field skips
    inline costs a fraction of an interpreted walk. Only numbers and helper names enter the source; the
    constant byte strings are bound values. Bounds are not checked per value: a read past the end raises
    ``IndexError``, a slice past it does not, but positions only grow, so any overrun leaves the end
    position beyond the block, which the caller checks. With ``check_text`` the string slices are joined
    with NUL bytes and decoded once: that is valid UTF-8 exactly when every slice is (NUL is a character of
    its own, so no sequence can run across it).
    """
    bound: dict[str, Any] = {"_length": _length, "_long": _long, "_int": _int, "_index": _index, "_fail": _fail}
    lines = ["def walk(data, count):", "    parts = []", "    put = parts.extend", "    p = 0"]
    if check_text:
        lines += ["    texts = []", "    text = texts.append"]
    lines.append("    for _ in range(count):")
    needed = {edge for piece in output if isinstance(piece, tuple) for edge in piece}
    for i, kind in enumerate(source):
        if i in needed:
            lines.append(f"        s{i} = p")
        _skip_code(kind, lines, "        ", check_text)
    pieces = []
    for piece in output:
        if isinstance(piece, bytes):
            key = f"K{len(bound)}"
            bound[key] = piece
            pieces.append(key)
        else:
            start, end = piece
            pieces.append(f"data[s{start}:{'p' if end == len(source) else f's{end}'}]")
    if pieces:
        lines.append(f"        put(({', '.join(pieces)},))")
    if check_text:
        lines.append('    b"\\x00".join(texts).decode("utf-8")')
    lines.append('    return b"".join(parts), p')
    exec("\n".join(lines), bound)  # source built from numbers and helper names above
    walk: Walker = bound["walk"]
    return walk


# --- the careful walk that says what is wrong ---------------------------------------------------------------


def _check_value(kind: _Kind, data: bytes, p: int, field: str) -> int:
    """Move past one value, checking everything; raises :class:`_Corrupt` with what is wrong and where."""
    end = len(data)

    ends_inside = f"field {field!r}: the data ends inside it (the block is shorter than its records)"

    def need(width: int) -> None:
        if p + width > end:
            raise _Corrupt(ends_inside)

    def varint(reader: Callable[[bytes, int], tuple[int, int]]) -> tuple[int, int]:
        try:
            return reader(data, p)
        except IndexError:
            raise _Corrupt(ends_inside) from None
        except _Corrupt as exc:
            raise _Corrupt(f"field {field!r}: {exc}") from None

    name = kind.name
    if name in ("string", "bytes"):
        n, p = varint(_length)
        need(n)
        if name == "string":
            try:
                data[p : p + n].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _Corrupt(f"field {field!r}: text that is not UTF-8 ({exc.reason} at byte {exc.start})") from None
        return p + n
    if name in ("int", "long"):
        return varint(_int if name == "int" else _long)[1]
    if name == "boolean":
        need(1)
        if data[p] > 1:
            raise _Corrupt(f"field {field!r}: boolean byte {data[p]:#04x} is neither 0 nor 1")
        return p + 1
    if name in ("float", "double", "fixed"):
        width = {"float": 4, "double": 8}.get(name, kind.size)
        need(width)
        return p + width
    if name == "enum":
        return varint(lambda d, q: _index(d, q, len(kind.symbols)))[1]
    if name == "union":
        twice, p = varint(lambda d, q: _index(d, q, len(kind.branches)))
        return _check_value(kind.branches[twice // 2], data, p, field)
    return p  # null


def _diagnose(data: bytes, count: int, source: list[_Kind], names: list[str]) -> tuple[int, str, str | None]:
    """The first problem in a block that failed the fast walk: (record index in the block, message, field)."""
    p = 0
    for record in range(count):
        for kind, name in zip(source, names, strict=True):
            try:
                p = _check_value(kind, data, p, name)
            except _Corrupt as exc:
                return record, str(exc), name
    if p != len(data):
        return (
            max(count - 1, 0),
            f"the block says it holds {count} records but {len(data) - p} bytes follow the last of them; "
            "its record count or data is corrupt",
            None,
        )
    return max(count - 1, 0), "the block cannot be read by the source version's schema", None


# --- the container file ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    codec: str
    sync: bytes
    schema: Any


def _read_header(handle: BinaryIO, source: AvroSchema) -> _Header:
    """The file's header, if the byte path can take the file; :class:`NotByteUpgradable` otherwise."""
    try:
        header = fastavro.schemaless_reader(handle, _HEADER)
        assert isinstance(header, dict)
        meta = header["meta"]
        schema = json.loads(meta["avro.schema"])
        codec = meta.get("avro.codec", b"null").decode()
        writer = fastavro.parse_schema(schema)
    except Exception as exc:  # the decoding path reports what is wrong with a bad header
        raise NotByteUpgradable(f"the header cannot be read ({exc})") from exc
    if header["magic"] != MAGIC:
        raise NotByteUpgradable("not an Avro container file (wrong magic bytes)")
    if codec not in CODECS:
        raise NotByteUpgradable(f"codec {codec!r} (the byte path reads {', '.join(CODECS)})")
    if writer != source.parsed:
        raise NotByteUpgradable("written with another schema than the source version's; it must be resolved")
    return _Header(codec, header["sync"], schema)


# --- the upgrade --------------------------------------------------------------------------------------------------


class ByteUpgrade:
    """Avro files of ``subject`` moved from one version to another by rearranging record bytes.

    Building one compiles the walkers; :class:`NotByteUpgradable` says the step chain cannot go this way.
    The records written are exactly those the decoding path (:func:`versioning.datafiles.upgrade.upgrade_avro`)
    writes: same values, same order, same codec.
    """

    def __init__(self, subject: Subject, from_version: int, to_version: int) -> None:
        self.from_version = subject.version_number(from_version)
        self.to_version = subject.version_number(to_version)
        where = f"{subject.name} v{self.from_version} -> v{self.to_version}"
        path = subject.path(self.from_version, self.to_version)
        if not all(up for _, up in path):
            raise NotByteUpgradable(f"{where}: a downgrade goes the decoding way")
        steps: list[Step] = [step for step, _ in path]
        if any(step.has_callable for step in steps):
            raise NotByteUpgradable(f"{where}: a call step needs the decoded record")
        self.source = AvroSchema.parse(subject.schema(self.from_version), where=f"{subject.name} v{self.from_version}")
        self.target = AvroSchema.parse(subject.schema(self.to_version), where=f"{subject.name} v{self.to_version}")
        source_fields = self._fields(self.source, where)
        target_fields = self._fields(self.target, where)
        self.names = [f["name"] for f in source_fields]
        if VERSION_FIELD in self.names or VERSION_FIELD in (f["name"] for f in target_fields):
            raise NotByteUpgradable(f"{where}: a field named {VERSION_FIELD!r} takes the version stamp")
        self.kinds = [_kind(f["type"], self.source, f"{where}: field {f['name']!r}") for f in source_fields]
        if sum(k.min_width for k in self.kinds) == 0:
            raise NotByteUpgradable(f"{where}: records of zero bytes")
        plan = plan_fields(steps, self.names)
        index_of = {name: i for i, name in enumerate(self.names)}
        parts: list[_Part] = []
        for f in target_fields:
            at = f"{where}: field {f['name']!r}"
            kind = _kind(f["type"], self.target, at)
            expr = plan.get(f["name"])
            if expr is None:
                raise NotByteUpgradable(f"{at} gets no value from the steps")
            if isinstance(expr, Constant):
                parts.append(_constant(expr.value, kind, at))
            else:
                parts += _source_parts(expr, kind, self.kinds, index_of, at)
        output = _merged(parts)
        self.identity = output == [(0, len(self.kinds))]
        """Whether records come out as they went in (the output block is the input block)."""
        self._ascii = compile_walker(self.kinds, [] if self.identity else output, check_text=False)
        has_text = any(k.name == "string" or "string" in (b.name for b in k.branches) for k in self.kinds)
        self._text = (
            compile_walker(self.kinds, [] if self.identity else output, check_text=True) if has_text else self._ascii
        )

    @staticmethod
    def _fields(schema: AvroSchema, where: str) -> list[dict[str, Any]]:
        record = schema.parsed
        if not isinstance(record, dict) or record.get("type") != "record":
            raise NotByteUpgradable(f"{where}: the schema is not a record")
        return list(record["fields"])

    def upgrade_file(self, source: Path, target: Path, *, max_block_bytes: int | None = None) -> int:
        """Upgrade ``source`` into ``target`` (atomically); returns the number of records.

        Raises :class:`NotByteUpgradable` before writing anything if the file's codec or writer schema rule
        the byte path out, and :class:`DataFileError` (no output left) if the file is corrupt or a block
        inflates to more than ``max_block_bytes``.
        """
        limit = block_byte_limit(max_block_bytes)
        with source.open("rb") as handle:
            header = _read_header(handle, self.source)
            size = os.fstat(handle.fileno()).st_size
            with atomic_output(target) as out:
                sync = os.urandom(SYNC_SIZE)
                meta = {"avro.schema": self.target.to_json().encode(), "avro.codec": header.codec.encode()}
                fastavro.schemaless_writer(out, _HEADER, {"magic": MAGIC, "meta": meta, "sync": sync})
                return self._blocks(handle, size, header, out, sync, source, limit)

    def _blocks(
        self, handle: BinaryIO, size: int, header: _Header, out: BinaryIO, sync: bytes, source: Path, limit: int
    ) -> int:
        """Walk the blocks here while other threads compress them (zlib lets go of the GIL); write in order.

        At most :data:`IN_FLIGHT` blocks wait for compression, so memory stays bounded by a few blocks.
        """
        records = 0
        with ThreadPoolExecutor(max_workers=COMPRESSION_THREADS) as pool:
            pending: deque[tuple[int, Future[bytes]]] = deque()
            for _, count, data in read_blocks(
                source, handle, codec=header.codec, sync=header.sync, size=size, limit=limit
            ):
                block = self._walk(data, count, source, records)
                records += count
                if count and header.codec == "deflate":
                    pending.append((count, pool.submit(zlib.compress, block, -1, -15)))
                elif count:  # an empty block is legal but carries nothing; fastavro never writes one
                    _write_block(out, count, block, sync)
                while pending and (len(pending) > IN_FLIGHT or pending[0][1].done()):
                    done, future = pending.popleft()
                    _write_block(out, done, future.result(), sync)
            for done, future in pending:
                _write_block(out, done, future.result(), sync)
        return records

    def _walk(self, data: bytes, count: int, source: Path, records: int) -> bytes:
        """The output block for one input block, or :class:`DataFileError` for the first bad record in it."""
        walk = self._ascii if data.isascii() else self._text  # ASCII text is UTF-8: nothing to check
        try:
            block, end = walk(data, count)
            if end == len(data):
                return data if self.identity else block
        except (IndexError, _Corrupt, UnicodeDecodeError):
            pass
        index, message, field = _diagnose(data, count, self.kinds, self.names)
        raise DataFileError(
            source, f"{message}; the file is corrupt, re-export it", position=records + index + 1, field=field
        )


def _write_block(out: BinaryIO, count: int, body: bytes, sync: bytes) -> None:
    out.write(_zigzag(count) + _zigzag(len(body)))
    out.write(body)
    out.write(sync)


def upgrade_avro_bytes(
    subject: Subject,
    source: Path,
    target: Path,
    to_version: int,
    from_version: int,
    *,
    max_block_bytes: int | None = None,
) -> int:
    """Upgrade an Avro container file byte by byte; returns the number of records.

    Raises :class:`NotByteUpgradable` (having written nothing) when the steps or the file need decoding.
    """
    upgrade = ByteUpgrade(subject, from_version, to_version)
    return upgrade.upgrade_file(Path(source), Path(target), max_block_bytes=max_block_bytes)
