"""Validating rows (lists of dicts) fast, with exactly the reference validator's verdicts and errors.

A batch is checked by msgspec in chunks, one ``msgspec.convert`` call each. A chunk msgspec accepts is valid
(the compiled type is never more lenient than the reference, see :mod:`versioning.validation.msgspec_types`)
once one more pass finds only plain values in it; a chunk either rejects is checked record by record with the
reference :class:`~versioning.validation.Validator`, so every error message, path and order is the reference's
own.

That pass closes the places where msgspec is more lenient than the reference, so that the answers are exactly
the reference's for any Python values: it takes a lone surrogate in a string (text no UTF-8 writer can store),
a subclass of str or int, a tuple or set for an array, a memoryview for bytes, and a dict subclass for a map or
record. The pass is compiled (``versioning/validation/_plain.c``, built by the project's install) and walks each
record once, scanning only strings wider than one byte per character; where it is not built, the same check
runs in Python: exact containers and bytes in the fields that can hold them, then the chunk encoded as UTF-8 by
msgspec's msgpack encoder, which finds a lone surrogate or a subclass of str or int anywhere in one C-level
pass (benchmarks/README.md, "Rows").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import msgspec

from versioning.schema import Schema
from versioning.validation.msgspec_types import BUILTIN_TYPES, compile_record_type, keeps_identity
from versioning.validation.reference import VERSION_FIELD, FieldError, RecordErrors, Validator

try:
    from versioning.validation import _plain
except ImportError:  # not built (no C compiler at install time): the Python check below, same answers
    _plain = None  # type: ignore[assignment]

COMPILED = _plain is not None
"""Whether the compiled plain-value scan is built (``make`` builds it; CI requires it)."""

CHUNK = 1024
"""Records per msgspec call: large enough to amortise the call, small enough that the plain-value pass right
after it finds the chunk still in the CPU cache."""

LEAVES = frozenset(BUILTIN_TYPES)
"""Besides str, int, float, bool, None, list and dict: the exact types the compiled scan takes as they are (the
ones msgspec passes through for the compiled types). Any other type sends its chunk to the reference."""


class RowValidator:
    """A subject version's validator for many records at once; same answers as :class:`Validator`.

    ``fast`` says whether msgspec checks the records; when False (a schema msgspec cannot check exactly, e.g.
    one with decimals) every record goes through the reference validator. ``compiled=False`` makes the
    plain-value pass run in Python even where the compiled one is built (the answers are the same; the tests
    compare the two).
    """

    def __init__(self, schema: Schema, reference: Validator | None = None, *, compiled: bool = True) -> None:
        self.schema = schema
        self.reference = reference or Validator(schema)
        record_type = compile_record_type(schema.parsed)
        self.fast = record_type is not None
        self.compiled = compiled and COMPILED
        self._batch_type: Any = list[record_type] if record_type is not None else None  # type: ignore[valid-type]
        fields = schema.parsed.fields  # type: ignore[attr-defined]
        self._walked_fields = [f.name for f in fields if _may_be_replaced(f.type)]
        if self.compiled and record_type is not None:
            # The compiled scan reads a field from the converted Struct where msgspec kept the record's own
            # object (a fixed slot: no dict lookup), else from the record; schema_version, when the schema has
            # no such field, is typed Any, which keeps the object too.
            kept = [f.name for f in fields if keeps_identity(f.type)]
            if VERSION_FIELD not in schema.parsed.fields_dict:  # type: ignore[attr-defined]
                kept.append(VERSION_FIELD)
            self._slots = tuple((_plain.slot_offset(record_type, name), name) for name in kept)
            self._originals = tuple(f.name for f in fields if f.name not in kept)

    def errors(self, record: Any) -> list[FieldError]:
        """Every error of one record (the reference validator's answer)."""
        return self.reference.errors(record)

    def invalid(self, records: Iterable[Any], first_position: int = 1) -> Iterator[RecordErrors]:
        """The invalid records among many with their positions, as :meth:`Validator.invalid` yields them."""
        rows = records if isinstance(records, Sequence) else list(records)
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            if not self._chunk_valid(chunk):
                yield from self.reference.invalid(chunk, first_position + start)

    def valid_mask(self, records: Sequence[Any]) -> list[bool] | None:
        """None when every record is valid, else one flag per record (the cheap answer for the common case)."""
        mask: list[bool] | None = None
        for start in range(0, len(records), CHUNK):
            chunk = records[start : start + CHUNK]
            if self._chunk_valid(chunk):
                continue
            if mask is None:
                mask = [True] * len(records)
            errors = self.reference.errors
            for i, record in enumerate(chunk, start):
                if errors(record):
                    mask[i] = False
        return mask

    def _chunk_valid(self, chunk: Sequence[Any]) -> bool:
        if self._batch_type is None:
            return False
        try:
            converted = msgspec.convert(chunk, self._batch_type, builtin_types=BUILTIN_TYPES)
        except (msgspec.ValidationError, UnicodeEncodeError):  # the latter: a lone surrogate in a rejected value
            return False
        if self.compiled:
            return _plain.records_plain(chunk, converted, self._slots, self._originals, LEAVES, msgspec.UNSET)
        return self._plain_in_python(chunk)

    def _plain_in_python(self, chunk: Sequence[Any]) -> bool:
        """The compiled scan's check in Python: the same verdict wherever the compiled one says plain."""
        # msgspec takes dict subclasses as records; the reference does not, so they go the reference's way.
        if set(map(type, chunk)) - {dict}:
            return False
        # msgspec takes a tuple or set as an array, a dict subclass as a map or record and a memoryview as
        # bytes; the reference does not.
        for name in self._walked_fields:
            for record in chunk:
                if not _plain_containers(record.get(name)):
                    return False
        try:
            # msgspec takes any str; encoding the chunk as UTF-8 (msgpack) finds a lone surrogate or a str
            # subclass anywhere in it, keys included, in one C-level pass.
            _ENCODER.encode(chunk)
        except (UnicodeEncodeError, TypeError, OverflowError):
            return False
        return True


_ENCODER = msgspec.msgpack.Encoder()
_SCALARS = frozenset({str, int, float, bool, type(None), bytes, bytearray})


def _may_be_replaced(schema: Any) -> bool:
    """Whether a field of this Avro type can hold a container or bytes, which msgspec takes in forms the reference
    refuses (an array, map, record, bytes or fixed, or a union with one)."""
    kind = schema.type
    if kind == "union":
        return any(_may_be_replaced(branch) for branch in schema.schemas)
    return kind in ("array", "map", "record", "error", "bytes", "fixed")


def _plain_containers(value: Any) -> bool:
    """True when every container in the value is exactly a list or a dict with str keys, and no bytes are a
    memoryview (what the reference accepts)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is list:
        return all(map(_plain_containers, value)) if set(map(type, value)) - _SCALARS else True
    if kind is dict:
        if set(map(type, value)) - {str}:  # a key of a str subclass (msgspec takes it; the reference does not)
            return False
        values = value.values()
        return all(map(_plain_containers, values)) if set(map(type, values)) - _SCALARS else True
    refused = (list, dict, tuple, set, frozenset, memoryview)  # list and dict here: their subclasses
    return not isinstance(value, refused)
