"""Checking a new version against many earlier ones fast: the reference verdicts, found once per distinct pair.

Under a transitive mode a new version is checked against every earlier one, in both directions for FULL; for a
wide subject with a long history that is thousands of reader/writer walks, each over every field. Most of that
work repeats: consecutive versions share most fields, and their field types are the same text. So:

- between two records, a field written and read with the same self-contained type (one that names no type
  defined elsewhere) cannot be incompatible, so only the fields that differ are looked at (a set difference);
- each distinct pair of self-contained field types is walked once, and its findings re-located under the
  field's position;
- under a transitive mode the earlier versions are summarised once (:class:`_History`: per field name, the
  distinct types written under it; per distinct reader field, how many versions read it), so a new version is
  proven compatible with the whole history by looking at each distinct situation once, in time linear in the
  number of versions and usually independent of it. The summary only ever proves "nothing to report"; when it
  cannot, the exact pair-by-pair walk below gives the findings, so the answer never depends on the summary.

The walk itself is the reference's (:mod:`versioning.compatibility.reference`), so every incompatibility, its kind, its
JSON-pointer location and its message are the same, in the same order; anything not a plain record, or a field
type that refers to a named type defined elsewhere, is walked exactly as the reference walks it.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import avro.schema as A

from versioning.compatibility.reference import (
    Compatibility,
    CompatibilityResult,
    Found,
    IncompatibilityKind,
    Walker,
    aliases_of,
    check_compatibility,
    name_incompatibilities,
)
from versioning.schema import PRIMITIVES, FieldLayout, RecordLayout, Schema, none_at


@dataclass
class _Shape:
    """What the checks need of a record schema, worked out once."""

    fields: list[A.Field]
    by_name: dict[str, int]
    """Field positions by name (``RecordSchema.fields_dict`` builds a new dict on every access)."""
    aliases: list[list[str]]
    keys: list[str | None]
    """Per field: its type's text with the namespace, or None when it names types defined elsewhere."""
    typed_names: frozenset[tuple[str, str]] = frozenset()
    """(name, type text) of the fields with a self-contained type: the same pair in reader and writer is a
    field read by the very type that wrote it, which never finds anything."""
    opaque: list[int] = field(default_factory=list)
    """Fields whose type names types defined elsewhere: always walked."""
    readers: list[tuple[str, tuple[str, ...], str, bool]] = field(default_factory=list)
    """Per field, when none is opaque: its entry in :attr:`_History.readers`."""


@dataclass(eq=False)  # looked for among others by identity (``None in infos`` with no __eq__ to call)
class _LayoutField:
    """What the checks need of one distinct field of records proven field by field, worked out once."""

    aliases: list[str]
    key: str | None
    typed: tuple[str, str] | None
    """(name, key) when its type is self-contained and reads itself (see :attr:`_Shape.typed_names`)."""
    reader: tuple[str, tuple[str, ...], str, bool] | None
    """Its entry in :attr:`_History.readers`."""
    row: tuple[A.Field, str, list[str], str | None, tuple[str, str] | None, Any]
    """(parsed field, name, aliases, key, typed, reader): a version's shape is these rows transposed."""


@dataclass
class _History:
    """The earlier versions of a record subject, summarised for proving a new version compatible with all.

    Built incrementally as versions are added (oldest first); ``usable`` is False as soon as one version is not
    a plain record of self-contained field types, and then the exact walk answers every question.
    """

    schemas: list[Schema] = field(default_factory=list)
    usable: bool = True
    written: dict[str, dict[str, None]] = field(default_factory=dict)
    """Field name -> the type keys versions wrote under it (in the order first seen)."""
    always: set[str] | None = None
    """The field names every version has (None before the first version)."""
    readers: set[tuple[str, tuple[str, ...], str, bool]] = field(default_factory=set)
    """The distinct reader fields of history: (name, aliases, type key, has a default)."""
    readers_by_name: dict[str, set[tuple[str, tuple[str, ...], str, bool]]] = field(default_factory=dict)
    """The same, by field name."""
    aliased: bool = False
    """Whether any field of history has aliases."""
    records: dict[tuple[str, str, str, tuple[str, ...]], A.RecordSchema] = field(default_factory=dict)
    """One record per distinct (name, full name, namespace, aliases): all that name checks look at."""
    types: dict[str, A.Schema] = field(default_factory=dict)
    """One parsed field type per type key, to walk a pair of keys not walked yet."""


class CompatibilityChecker:
    """Checks new versions against earlier ones, remembering what it has walked; reuse it for one subject.

    The answers are :func:`versioning.compatibility.check_compatibility`'s. Schemas are remembered by
    identity, so pass the same :class:`Schema` objects again (a registry's loaded versions).
    """

    def __init__(self) -> None:
        self._shapes: dict[int, tuple[Schema, _Shape | None]] = {}
        self._layout_fields: dict[FieldLayout, _LayoutField] = {}
        """Per distinct field of records proven field by field: its aliases and type key."""
        self._fields: dict[tuple[str, str], list[Found]] = {}
        self._history = _History()
        self._last_proven: tuple[Schema, _History, int, Compatibility] | None = None
        """The last version proven compatible with its history: (it, that history, its length, the mode)."""

    def check(
        self,
        new: Schema,
        previous: Sequence[Schema],
        mode: Compatibility,
        *,
        subject: str | None = None,
        new_version: int | None = None,
        previous_versions: Sequence[int] | None = None,
    ) -> CompatibilityResult:
        """As :func:`~versioning.compatibility.check_compatibility`, the same arguments and the same result.

        Under a transitive mode the earlier versions are summarised (once: the summary of a subject's history
        grows as longer histories are passed), and a new version the summary proves compatible with all of them
        is answered without walking any pair.
        """
        transitive = mode is not Compatibility.NONE and Compatibility(mode).transitive
        if transitive and len(previous) > 1 and self._proven_compatible(new, previous, Compatibility(mode)):
            return CompatibilityResult()
        return check_compatibility(
            new,
            previous,
            mode,
            subject=subject,
            new_version=new_version,
            previous_versions=previous_versions,
            walk=self.reader_writer,
        )

    def _proven_compatible(self, new: Schema, previous: Sequence[Schema], mode: Compatibility) -> bool:
        """Whether the summary of ``previous`` shows ``new`` compatible with every one of them under ``mode``.

        False means "not proven" (the exact walk then decides), never "incompatible".
        """
        history = self._summary(previous)
        shape = self._shape(new)
        if not history.usable or shape is None or shape.opaque:
            return False
        only = self._changed_since_proven(new, shape, previous, history, mode)
        if not self._prove(new, shape, history, mode, only):
            return False
        self._last_proven = (new, history, len(previous), mode)
        return True

    def _changed_since_proven(
        self, new: Schema, shape: _Shape, previous: Sequence[Schema], history: _History, mode: Compatibility
    ) -> set[str] | None:
        """The field names whose verdict may differ from the previous version's, if that one was proven.

        When the last of ``previous`` (P) was proven compatible with the ones before it under the same mode, and
        ``new`` has P's record part and no field of either (or of history) has aliases, a field ``new`` shares
        with P under the same name was proven by P's proof (it read all that history wrote under its name, and
        P wrote it with its own type), and so was every reader of history whose name maps to the same field in
        ``new`` as in P. Only the names whose field differs between P and ``new`` are left to prove.
        None: prove everything.
        """
        last = self._last_proven
        if last is None or not previous:
            return None
        proven, proven_history, count, proven_mode = last
        if proven_history is not history or proven_mode != mode or len(previous) != count + 1:
            return None
        if previous[-1] is not proven or new.layout is None or proven.layout is None:
            return None
        if new.layout.shell is not proven.layout.shell or history.aliased or any(shape.aliases):
            return None
        # A field of ``new`` not among P's (by identity: one distinct field each) has a name P lacks or had
        # with another field; a field of P not among ``new``'s, a name ``new`` lacks or has otherwise.
        return set(map(_NAME, set(new.layout.fields).symmetric_difference(proven.layout.fields)))

    def _prove(self, new: Schema, shape: _Shape, history: _History, mode: Compatibility, only: set[str] | None) -> bool:
        parsed = _record(new)
        always = history.always or set()
        if mode.backward:
            # The new version reads what each earlier one wrote.
            if only is None:
                for record in history.records.values():
                    if next(name_incompatibilities(parsed, record, ""), None) is not None:
                        return False
            # Only the fields named in ``only``, when given (any order: one failure is enough).
            positions = shape.by_name
            indices = range(len(shape.fields)) if only is None else [positions[n] for n in only if n in positions]
            for i in indices:
                reader_field = shape.fields[i]
                name, key = reader_field.name, shape.keys[i]
                assert key is not None
                # Some version lacks the name: an alias may find another field there, else the default.
                if name not in always and (shape.aliases[i] or not reader_field.has_default):
                    return False
                for written in history.written.get(name, ()):
                    if self._finds(reader_field.type, key, history.types[written], written):
                        return False
        if mode.forward:
            # Each earlier version reads what the new one writes.
            if only is None:
                for record in history.records.values():
                    if next(name_incompatibilities(record, parsed, ""), None) is not None:
                        return False
                readers: Iterable[tuple[str, tuple[str, ...], str, bool]] = history.readers
            else:
                by_name = history.readers_by_name
                readers = [reader for name in only for reader in by_name.get(name, ())]
            for name, aliases, key, has_default in readers:
                index = shape.by_name.get(name)
                if index is None:
                    index = next((shape.by_name[a] for a in aliases if a in shape.by_name), None)
                if index is None:
                    if not has_default:
                        return False
                    continue
                writer_key = shape.keys[index]
                assert writer_key is not None
                if self._finds(history.types[key], key, shape.fields[index].type, writer_key):
                    return False
        return True

    def _finds(self, reader: A.Schema, reader_key: str, writer: A.Schema, writer_key: str) -> bool:
        """Whether reading a field type written as another finds anything (each pair of keys walked once)."""
        if reader_key == writer_key:
            return False  # a self-contained type reads itself (checked when its shape was made)
        relative = self._fields.get((reader_key, writer_key))
        if relative is None:
            relative = Walker().walk(reader, writer, "")
            self._fields[(reader_key, writer_key)] = relative
        return bool(relative)

    def _summary(self, previous: Sequence[Schema]) -> _History:
        history = self._history
        known = history.schemas
        if len(previous) < len(known) or not all(map(operator.is_, known, previous)):
            history = self._history = _History()
            known = history.schemas
        last_record: A.RecordSchema | None = None
        for schema in previous[len(known) :]:
            known.append(schema)
            if not history.usable:
                continue
            shape = self._shape(schema)
            if shape is None or shape.opaque:
                history.usable = False
                continue
            parsed = _record(schema)
            if parsed is not last_record:  # versions of one record part share its parsed record
                last_record = parsed
                history.records.setdefault(
                    (parsed.name, parsed.fullname, parsed.namespace or "", tuple(aliases_of(parsed))), parsed
                )
            if history.always is None:
                history.always = set(shape.by_name)
            else:
                history.always.intersection_update(shape.by_name)
            # Everything else is a set of distinct facts: only the readers history has not seen add any (the
            # fields consecutive versions share are skipped at the cost of a set difference).
            if history.readers.issuperset(shape.readers):
                continue
            for i, reader in enumerate(shape.readers):
                if reader in history.readers:
                    continue
                name, aliases, key, _ = reader
                history.written.setdefault(name, {})[key] = None
                history.readers.add(reader)
                history.readers_by_name.setdefault(name, set()).add(reader)
                history.aliased = history.aliased or bool(aliases)
                history.types.setdefault(key, shape.fields[i].type)
        return history

    def reader_writer(self, reader: Schema, writer: Schema) -> list[Found]:
        """The reference walk's findings (kind, location, message) for one reader and one writer."""
        reader_shape, writer_shape = self._shape(reader), self._shape(writer)
        if reader_shape is None or writer_shape is None:
            return Walker().walk(reader.parsed, writer.parsed, "")
        return self._records(reader, reader_shape, writer, writer_shape)

    def _records(self, reader: Schema, reader_shape: _Shape, writer: Schema, writer_shape: _Shape) -> list[Found]:
        # The reference's _resolve for two records: names, then the reader's fields in order. Only fields not
        # written with the very same type need a look.
        r, w = _record(reader), _record(writer)
        found: list[Found] = list(name_incompatibilities(r, w, ""))
        # A field whose type names a type defined elsewhere may name these very records (a recursive record):
        # walked as the reference walks it, with this pair in progress, so the recursion stops where it does there.
        nested = Walker()
        nested.in_progress.add((id(r), id(w)))
        changed = reader_shape.typed_names - writer_shape.typed_names
        by_name = writer_shape.by_name
        todo = sorted([reader_shape.by_name[name] for name, _ in changed] + reader_shape.opaque)
        for i in todo:
            reader_field = reader_shape.fields[i]
            # The reference's _writer_field: the writer's field of the same name, else of one of the aliases.
            index = by_name.get(reader_field.name)
            if index is None:
                index = next((by_name[a] for a in reader_shape.aliases[i] if a in by_name), None)
            at = f"/fields/{i}"
            if index is None:
                if not reader_field.has_default:
                    found.append(
                        (
                            IncompatibilityKind.READER_FIELD_MISSING_DEFAULT_VALUE,
                            at,
                            f"field {reader_field.name!r} is not written by the writer and has no default; "
                            "give it a default (e.g. make it nullable with default null)",
                        )
                    )
                continue
            writer_field = writer_shape.fields[index]
            reader_key, writer_key = reader_shape.keys[i], writer_shape.keys[index]
            if reader_key is None or writer_key is None:
                found.extend(nested.walk(reader_field.type, writer_field.type, f"{at}/type"))
                continue
            relative = self._fields.get((reader_key, writer_key))
            if relative is None:
                relative = Walker().walk(reader_field.type, writer_field.type, "")
                self._fields[(reader_key, writer_key)] = relative
            found.extend((kind, f"{at}/type{location}", message) for kind, location, message in relative)
        return found

    def _shape(self, schema: Schema) -> _Shape | None:
        known = self._shapes.get(id(schema))
        if known is not None and known[0] is schema:
            return known[1]
        shape: _Shape | None = None
        if schema.layout is not None:
            shape = self._layout_shape(schema.layout)
        else:
            parsed = schema.parsed
            if isinstance(parsed, A.RecordSchema) and not _names_a_type_like_a_primitive(schema.json):
                namespace = parsed.namespace or ""
                fields = list(parsed.fields)
                keys = [_field_key(f["type"], namespace) for f in schema.fields]
                shape = self._make_shape(fields, [aliases_of(f) for f in fields], keys)
        self._shapes[id(schema)] = (schema, shape)
        return shape

    def _layout_shape(self, layout: RecordLayout) -> _Shape:
        """The shape of a record proven sound field by field: each distinct field is worked out once, and a
        version is put together from its fields' facts (``map`` over attribute getters: no per-field bytecode)."""
        known = self._layout_fields
        parts = layout.fields
        infos: list[_LayoutField | None] = list(map(known.get, parts))
        missing = none_at(infos)
        if missing:
            record = layout.shell.record
            for i in missing:
                infos[i] = self._layout_field(parts[i], record)
        ready = cast(list[_LayoutField], infos)
        # One pass: each field's facts as a row, the rows transposed into the shape's columns.
        fields, names, aliases, keys, typed, readers = zip(*map(_ROW, ready), strict=True) if ready else ((),) * 6
        shape = _Shape(
            list(fields),
            dict(zip(names, range(len(names)), strict=True)),  # the names are distinct (the layout proves it)
            list(aliases),
            list(keys),
        )
        if None in typed:
            shape.typed_names = frozenset([t for t in typed if t is not None])
            shape.opaque = [i for i, t in enumerate(typed) if t is None]
        else:
            shape.typed_names = frozenset(typed)
            shape.readers = list(readers)
        return shape

    def _layout_field(self, field_layout: FieldLayout, record: A.RecordSchema) -> _LayoutField:
        f = field_layout.field
        aliases = aliases_of(f)
        key = _field_key(field_layout.json["type"], record.namespace or "")
        typed = (f.name, key) if key is not None and self._reads_itself(f, key) else None
        reader = None if key is None else (f.name, tuple(aliases), key, f.has_default)
        row = (f, f.name, aliases, key, typed, reader)
        info = self._layout_fields[field_layout] = _LayoutField(aliases, key, typed, reader, row)
        return info

    def _make_shape(self, fields: list[A.Field], aliases: list[list[str]], keys: list[str | None]) -> _Shape:
        by_name: dict[str, int] = {}
        for i, f in enumerate(fields):
            by_name.setdefault(f.name, i)
        shape = _Shape(fields, by_name, aliases, keys)
        typed: set[tuple[str, str]] = set()
        for i, (f, key) in enumerate(zip(fields, keys, strict=True)):
            if key is not None and self._reads_itself(f, key):
                typed.add((f.name, key))
            else:
                shape.opaque.append(i)
        shape.typed_names = frozenset(typed)
        if not shape.opaque:
            shape.readers = [
                (f.name, tuple(aliases[i]), key, f.has_default)  # type: ignore[misc]  # no key is None
                for i, (f, key) in enumerate(zip(fields, keys, strict=True))
            ]
        return shape

    def _reads_itself(self, field_: A.Field, key: str) -> bool:
        """Whether a type reads what it writes without a finding (it always should; checked once per type)."""
        relative = self._fields.get((key, key))
        if relative is None:
            relative = Walker().walk(field_.type, field_.type, "")
            self._fields[(key, key)] = relative
        return not relative


_FIELD = operator.attrgetter("field")
_NAME = operator.attrgetter("name")
_ROW = operator.attrgetter("row")


def _record(schema: Schema) -> A.RecordSchema:
    """A record schema's own name, namespace and aliases (all the name checks read), parsed or from its layout."""
    if schema.layout is not None:
        return schema.layout.shell.record
    parsed = schema.parsed
    assert isinstance(parsed, A.RecordSchema)
    return parsed


def _names_a_type_like_a_primitive(node: Any) -> bool:
    """Whether a schema defines a type named like a primitive (``ns.string``).

    The ``avro`` package then reads a plain ``"string"`` in that namespace as the named type, so a type's text
    no longer says what it is: such a record is walked whole, as the reference walks it.
    """
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            name = item.get("name")
            if (
                isinstance(name, str)
                and item.get("type") in ("record", "error", "enum", "fixed")
                and name.rpartition(".")[2] in PRIMITIVES
            ):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _field_key(type_json: Any, namespace: str) -> str | None:
    """The text of a field's type with its namespace, or None when it names a type defined elsewhere.

    Equal texts are equal types; the same type written in another key order only costs a walk more.
    """
    if isinstance(type_json, str):
        return type_json if type_json in PRIMITIVES else None
    if not _self_contained(type_json, set()):
        return None
    return f"{namespace}|{type_json!r}"


def _self_contained(node: Any, defined: set[str]) -> bool:
    if isinstance(node, str):
        return node in PRIMITIVES or node in defined
    if isinstance(node, list):
        return all(_self_contained(branch, defined) for branch in node)
    if not isinstance(node, dict):
        return False
    kind = node.get("type")
    if kind in ("record", "error", "enum", "fixed"):
        name = node.get("name")
        if isinstance(name, str):
            defined.add(name)
            namespace = node.get("namespace")
            if isinstance(namespace, str):
                defined.add(f"{namespace}.{name}")
        return all(_self_contained(f.get("type"), defined) for f in node.get("fields", []) if isinstance(f, dict))
    if kind == "array":
        return _self_contained(node.get("items"), defined)
    if kind == "map":
        return _self_contained(node.get("values"), defined)
    return _self_contained(kind, defined)
