"""Avro schemas: reading them from files and checking them, with every problem located.

The schema language of the registry is Apache Avro. Parsing and name resolution are done by the ``avro``
package (the Apache project's own implementation); structural checks that it leaves out, or reports without a
location, are done here so that every problem names its file and JSON pointer: an unparseable file, an unknown
type, a default that does not match its field's type.
"""

from __future__ import annotations

import json
import json as _json  # the module, where a method or argument is called ``json``
import json.decoder
import json.scanner
import marshal
import math
import operator
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import avro.errors
import avro.name
import avro.schema

from versioning.errors import Problem, SchemaError
from versioning.input_limits import MAX_NESTING, nesting_depth, nesting_problem, too_deep
from versioning.values import INT_RANGE, LONG_RANGE, from_json

_DECODER: Any = json.decoder  # its WHITESPACE and scanstring are there, not in the type stubs
_WHITESPACE = _DECODER.WHITESPACE.match
_SEPARATOR = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*").match
"""What may follow an element of a JSON array: a comma or the closing bracket, with JSON's whitespace."""
_SCAN_ONCE = json.scanner.make_scanner(cast(Any, json.JSONDecoder()))
"""What ``json.loads`` reads a value with (the C scanner, the default decoder's settings): (value, end)."""
_SCANSTRING = _DECODER.scanstring
_NAME = operator.attrgetter("name")
_JSON = operator.attrgetter("json")
_DEFINES = operator.attrgetter("defines")
_DEFINES_AVRO = operator.attrgetter("defines_avro")

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})


class Schema:
    """One Avro schema: its JSON form and the ``avro`` package's parsed form.

    ``json`` is the schema as written (dicts, lists and strings); ``parsed`` has named types resolved, which
    validation and the reference compatibility walk use. ``parsed`` is built when first asked for: a registry
    version proven sound field by field (see :class:`ParseMemo`) is never handed to the ``avro`` parser unless
    something needs its parsed form. ``layout``, when set, is that proof: the record's name and its fields, each
    checked and parsed once however many versions repeat it.
    """

    def __init__(
        self,
        json: Any,
        parsed: avro.schema.Schema | None = None,
        source: str = "<schema>",
        *,
        layout: RecordLayout | None = None,
        text: str | None = None,
    ) -> None:
        self._json = json
        self._text = text if json is None else None
        self._parsed = parsed
        self.source = source
        self.layout = layout

    @property
    def json(self) -> Any:
        """The schema as written: dicts, lists and strings (read from the file's text on first use when the
        version was proven from its text, see :meth:`ParseMemo.known_text`)."""
        if self._text is not None:
            self._json, self._text = _json.loads(self._text), None
        return self._json

    @json.setter
    def json(self, value: Any) -> None:
        self._json, self._text = value, None

    @property
    def parsed(self) -> avro.schema.Schema:
        """The ``avro`` package's parsed form (named types resolved), built on first use."""
        if self._parsed is None:
            self._parsed = _avro_parse(self.json, self.source)
        return self._parsed

    def __repr__(self) -> str:
        return f"Schema(json={self.json!r}, source={self.source!r})"

    def __eq__(self, other: object) -> bool:
        # The parsed form is a function of the JSON, so two schemas with equal JSON parse alike.
        if not isinstance(other, Schema):
            return NotImplemented
        return (self.json, self.source) == (other.json, other.source)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value (as the dataclass it was)

    @property
    def fields(self) -> list[dict[str, Any]]:
        """The top-level fields of a record schema (empty for other schemas); read them, do not change them
        (a version proven field by field shares each with the versions that repeat it)."""
        if self.layout is not None:
            return list(map(_JSON, self.layout.fields))
        if isinstance(self.json, dict) and self.json.get("type") in ("record", "error"):
            return list(self.json.get("fields", []))
        return []

    @property
    def field_names(self) -> list[str]:
        """The names of the top-level fields, in schema order."""
        if self.layout is not None:
            return list(self.layout.names)
        return [f["name"] for f in self.fields]

    def field(self, name: str) -> dict[str, Any] | None:
        """The top-level field called ``name``, or None (shared: do not change it)."""
        if self.layout is not None:
            found = self.layout.by_name.get(name)
            return None if found is None else found.json
        return next((f for f in self.fields if f["name"] == name), None)

    def default(self, name: str) -> Any:
        """The default of the top-level field ``name`` as a Python value (bytes, Decimal, date...), not its JSON.

        The value is shared and must not be changed: give records :func:`versioning.values.owned` copies.
        Raises KeyError when the field or its default does not exist.
        """
        cache = self.__dict__.setdefault("_defaults", {})
        if name not in cache:
            found = self.field(name)
            if found is None or "default" not in found:
                raise KeyError(name)
            parsed = self.parsed.fields_dict[name].type  # type: ignore[attr-defined]
            cache[name] = from_json(parsed, found["default"])
        return cache[name]


def parse_schema(
    schema_json: Any, source: str = "<schema>", memo: ParseMemo | None = None, *, text: str | None = None
) -> Schema:
    """Check and parse an Avro schema given as JSON data; raises :class:`SchemaError` listing every problem.

    A schema nested deeper than :data:`versioning.input_limits.MAX_NESTING` is refused before any walk.
    ``memo``: what earlier versions of the same subject proved (see :class:`ParseMemo`); only for JSON freshly
    read by ``json.loads`` (a tree, nested no deeper than the JSON reader allows). The answer is the same with
    or without it. ``text``: the file text ``schema_json`` was read from, which :meth:`ParseMemo.known_text`
    already failed to prove: the version is checked whole, and its fields are remembered by their text.
    """
    if memo is not None and text is None:
        known = memo.known(schema_json, source)
        if known is not None:
            return known
    too_deep = nesting_problem(schema_json)
    if too_deep:
        raise SchemaError([Problem(source, too_deep)])
    problems = list(check_schema(schema_json, source))
    if problems:
        raise SchemaError(problems)
    parsed = _avro_parse(schema_json, source)
    if memo is not None and memo.learn(schema_json, parsed):
        known = memo.known(schema_json, source) if text is None else memo.known_text(text, source)
        if known is not None:
            known._parsed = parsed
            known.json = schema_json  # read already
            return known
    return Schema(json=schema_json, parsed=parsed, source=source)


def _avro_parse(schema_json: Any, source: str) -> avro.schema.Schema:
    try:
        return avro.schema.make_avsc_object(schema_json, avro.schema.Names())
    except (avro.errors.AvroException, TypeError, ValueError, KeyError) as err:
        raise SchemaError([Problem(source, f"not a valid Avro schema: {err}")]) from None


def read_schema_file(path: Path, display: str | None = None) -> Schema:
    """Read and parse an ``.avsc`` file; errors name the file, and the line and column of bad JSON."""
    where = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SchemaError([Problem(where, f"cannot read the file: {err.strerror}")]) from None
    except UnicodeDecodeError:
        raise SchemaError([Problem(where, "not UTF-8 text; save the schema as UTF-8 JSON")]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SchemaError(
            [Problem(where, f"not valid JSON at line {err.lineno}, column {err.colno}: {err.msg}")]
        ) from None
    except RecursionError:
        raise SchemaError([Problem(where, too_deep())]) from None
    return parse_schema(data, where)


@dataclass(eq=False)
class FieldLayout:
    """One field of a record, as written, checked and parsed on its own once (shared by the versions repeating it).

    Only a field that names no type defined elsewhere gets one: what it means then depends on nothing but its
    own JSON and the namespace of its record, and the names it defines (which must not clash with the others').
    """

    json: dict[str, Any]
    """The field's JSON (as first seen; every version repeating it has an equal one)."""
    name: str
    field: avro.schema.Field
    """The ``avro`` package's field, parsed in its record's namespace."""
    depth: int
    """How deep the field's JSON nests at most (as :func:`versioning.input_limits.nesting_depth` counts, or as
    many levels as its text opens brackets)."""
    defines: frozenset[str]
    """The full names of the types it defines, as our structural check resolves names."""
    defines_avro: frozenset[str]
    """The same, as the ``avro`` package resolves them (the two differ for a namespace given as null)."""


@dataclass(eq=False)
class RecordShell:
    """A top-level record's own part (everything but its fields), from a version checked in full."""

    record: avro.schema.RecordSchema
    """The record parsed with no fields: its name, namespace and aliases, which the compatibility checks read."""
    fullname: str
    avro_fullname: str
    own_namespace: str | None
    """The namespace its fields' names resolve in, for our structural check ..."""
    avro_space: str | None
    """... and for the ``avro`` package."""
    fields: dict[bytes, FieldLayout] = field(default_factory=dict)
    """The fields seen in records of this shell, by their exact JSON (``marshal``'s bytes)."""
    by_text: dict[str, FieldLayout] = field(default_factory=dict)
    """The same, by their exact text in a file (equal texts are equal JSON values)."""


@dataclass(eq=False)
class RecordLayout:
    """Why a top-level record is sound without checking it whole: its known shell and its fields' layouts."""

    shell: RecordShell
    fields: list[FieldLayout]

    @cached_property
    def by_name(self) -> dict[str, FieldLayout]:
        """The fields by name (distinct: a layout is only made for a record whose field names are)."""
        return dict(zip(map(_NAME, self.fields), self.fields, strict=True))

    @cached_property
    def names(self) -> tuple[str, ...]:
        """The field names in order (distinct); :meth:`ParseMemo._sound` fills it in as it proves the record."""
        return tuple(map(_NAME, self.fields))

    @cached_property
    def name_set(self) -> frozenset[str]:
        """The same names as a set (a step between versions compares two of them)."""
        return frozenset(self.names)


class ParseMemo:
    """What checking one subject's versions proved, so the next version is checked by its new parts only.

    Consecutive versions of a subject share most of their fields. A version whose record part (name,
    namespace, everything but the fields) was checked in full before, and whose fields each name no type
    defined elsewhere, is sound exactly when each field is sound on its own in that namespace, no two fields
    share a name and no two define the same type: each distinct field (by its exact JSON, ``marshal``'s bytes,
    so ``0``, ``0.0`` and ``false`` differ) is checked and parsed once, and a version is only looked up. Anything
    else (a new record part, a field that refers to a type defined in another field, a clash, any problem at
    all) is checked by the whole walk, so problems and their messages are always the whole walk's.

    Keep one memo per subject (the memory it holds is that subject's distinct fields).
    """

    def __init__(self) -> None:
        self.shells: dict[bytes, RecordShell] = {}
        self._last = _FieldTexts("", [], [], [])
        """Where the fields of the last version proven from its text stood: the next one's are looked for there."""
        self._header: tuple[str, dict[str, Any]] | None = None
        """The last version proven from its text: its text up to the ``[`` opening its fields, and the keys read
        before it. A version that starts with the same text is read from there (see :meth:`_scan`)."""

    def known_text(self, text: str, source: str) -> Schema | None:
        """As :meth:`known` for a schema file's text (what ``json.loads`` would read), without reading it all.

        Each field is found by its exact text: a field whose text is one seen before (looked for where the
        last version had it, or one place on) is not read again, its layout is looked up by that text; a new
        one is read by the JSON decoder's own scanner, which also gives its text. Anything unexpected (not a
        plain object, a key twice, bad JSON, ...) is None, and the caller reads the text whole, so problems
        and their messages are always the whole walk's. The schema's JSON is read from the text when first
        asked for.
        """
        try:
            found = self._scan(text)
        except Exception:  # bad JSON, deep nesting...: the whole read reports it exactly
            return None
        if found is None:
            return None
        part, where, values = found.part, found.fields, found.values
        texts = where.texts
        key = _marshal(part)
        if key is None:
            return None
        shell = self.shells.get(key) or self._learn_part(part, key)
        if shell is None:
            return None
        by_text = shell.by_text
        layouts: list[FieldLayout | None] = list(map(by_text.get, texts))
        for i in none_at(layouts):  # new fields: each checked and parsed on its own, once
            fld = values[i] if i in values else _json.loads(texts[i])
            layout = _field_layout(fld, shell, source, texts[i]) if type(fld) is dict else None
            if layout is None:
                return None
            layouts[i] = by_text[texts[i]] = layout
        proven = self._sound(shell, cast(list[FieldLayout], layouts))
        if proven is None:
            return None
        self._last = where
        self._header = found.header
        return Schema(None, None, source, layout=proven, text=text)

    def _scan(self, s: str) -> _Scanned | None:
        """A record's part but its fields, where each field's text stands, and the fields read to find them.

        Fields are looked for as runs of the last version's (from where it was matched up to, or one field on:
        one dropped): a stretch of the last version's text that stands here too, from the start of a field to
        the end of another, holds the same fields (each whole JSON objects, the scanner's state the same where
        the stretch starts), so a version that changes a field or two is matched in a few comparisons. Other
        fields are read by ``json``'s scanner.
        """
        ws = _WHITESPACE
        scan = _SCAN_ONCE
        header = self._header
        resuming = header is not None and s.startswith(header[0])
        if resuming:
            # The same text as the last version's up to the ``[`` of its fields: reading it again would find the
            # same keys (every token before that ``[`` ends inside the text compared), so start at the ``[``.
            assert header is not None
            part = dict(header[1])
            idx = len(header[0]) - 1
        else:
            idx = ws(s, 0).end()
            if s[idx] != "{":
                return None
            idx = ws(s, idx + 1).end()
            part = {}
        texts: list[str] | None = None
        starts: list[int] = []
        ends: list[int] = []
        values: dict[int, Any] = {}
        while True:
            if resuming:
                key, resuming = "fields", False
            else:
                if s[idx] != '"':
                    return None
                key, idx = _SCANSTRING(s, idx + 1)
                if key in part or (key == "fields" and texts is not None):
                    return None  # a key twice: json.loads keeps the last, the whole read decides
                idx = ws(s, idx).end()
                if s[idx] != ":":
                    return None
                idx = ws(s, idx + 1).end()
            if key == "fields":
                if s[idx] != "[":
                    return None
                if header is None or header[0] != s[: idx + 1]:
                    header = (s[: idx + 1], dict(part))
                texts = []
                last = self._last
                was, was_starts, was_ends, was_texts = last.text, last.starts, last.ends, last.texts
                count = len(was_texts)
                j = 0  # the last version's fields are matched up to here
                idx = ws(s, idx + 1).end()
                if s[idx] == "]":
                    idx = ws(s, idx + 1).end()
                else:
                    while True:
                        first = j if j < count and s.startswith(was_texts[j], idx) else -1
                        if first < 0 and j + 1 < count and s.startswith(was_texts[j + 1], idx):
                            first = j + 1
                        if first >= 0:
                            k = _longest_run(s, idx, was, was_starts, was_ends, first)
                            base = was_starts[first]
                            shift = idx - base
                            texts += was_texts[first : k + 1]
                            if shift:
                                starts += [at + shift for at in was_starts[first : k + 1]]
                                ends += [at + shift for at in was_ends[first : k + 1]]
                            else:  # where the fields stood (before any that changed)
                                starts += was_starts[first : k + 1]
                                ends += was_ends[first : k + 1]
                            idx += was_ends[k] - base
                            j = k + 1
                        else:
                            value, end = scan(s, idx)
                            values[len(texts)] = value
                            texts.append(s[idx:end])
                            starts.append(idx)
                            ends.append(end)
                            idx = end
                        separator = _SEPARATOR(s, idx)
                        if separator is None:
                            return None
                        idx = separator.end()
                        if separator.group(1) == "]":
                            break
            else:
                part[key], idx = scan(s, idx)
                idx = ws(s, idx).end()
            mark = s[idx]
            idx = ws(s, idx + 1).end()
            if mark == "}":
                break
            if mark != ",":
                return None
        if idx != len(s) or texts is None:
            return None
        assert header is not None  # set where the fields were found
        return _Scanned(part, _FieldTexts(s, starts, ends, texts), values, header)

    def known(self, schema_json: Any, source: str) -> Schema | None:
        """``schema_json`` as a :class:`Schema` (not parsed yet) when its parts prove it sound, else None."""
        if type(schema_json) is not dict or schema_json.get("type") != "record":
            return None
        fields = schema_json.get("fields")
        if type(fields) is not list:
            return None
        shell = self.shells.get(_marshal({k: v for k, v in schema_json.items() if k != "fields"}) or b"")
        if shell is None:
            return None
        known_fields = shell.fields
        try:
            # A field's exact bytes; a list or a string never has the bytes of a field object.
            keys = [marshal.dumps(fld, 2) for fld in fields]
        except (ValueError, TypeError):
            return None
        layouts: list[FieldLayout | None] = [known_fields.get(key) for key in keys]
        if None in layouts:  # new fields: each checked and parsed on its own, once
            for i, layout in enumerate(layouts):
                if layout is None:
                    fld = fields[i]
                    layout = _field_layout(fld, shell, source) if type(fld) is dict else None
                    if layout is None:
                        return None
                    layouts[i] = known_fields[keys[i]] = layout
        proven = self._sound(shell, cast(list[FieldLayout], layouts))
        return None if proven is None else Schema(schema_json, None, source, layout=proven)

    @staticmethod
    def _sound(shell: RecordShell, found: list[FieldLayout]) -> RecordLayout | None:
        """The record of these known, sound fields, unless two share a name or define the same type."""
        names = tuple(map(_NAME, found))
        name_set = frozenset(names)
        if len(name_set) != len(found):
            return None  # a field name twice: the whole walk reports it
        # No type defined twice (the record's own name among them): the names together as many as one by one.
        for own, defines in ((shell.fullname, _DEFINES), (shell.avro_fullname, _DEFINES_AVRO)):
            each = list(filter(None, map(defines, found)))  # most fields define no type: only the others
            together = {own}.union(*each)
            if len(together) != 1 + sum(map(len, each)):
                return None  # the whole walk reports it
        proven = RecordLayout(shell, found)
        # Made here anyway: kept (as the cached properties would make them), so a step does not make them again.
        proven.__dict__.update(names=names, name_set=name_set)
        return proven

    def _learn_part(self, part: dict[str, Any], key: bytes) -> RecordShell | None:
        """A record part not seen yet, checked whole on its own (as a record with no fields), then remembered.

        A record is sound exactly when its part is (as a record with no fields: name, namespace, aliases, every
        other key) and its fields are, each on its own in the part's namespace, none defining a type twice or
        the record's own name (what :meth:`_sound` checks) and none naming a type defined elsewhere (what
        :func:`_field_layout` requires): so a first version is proven by its parts like the next ones, and
        anything the parts do not prove is walked whole.
        """
        if part.get("type") != "record":
            return None
        empty = {**part, "fields": []}
        if nesting_problem(empty) is not None or next(check_schema(empty), None) is not None:
            return None
        try:
            parsed = _avro_parse(empty, "<record>")
        except SchemaError:
            return None
        if not self.learn(empty, parsed):
            return None
        return self.shells.get(key)

    def learn(self, schema_json: Any, parsed: avro.schema.Schema) -> bool:
        """Remember the record part of a version just checked in full; True if it was new and may be used."""
        if type(schema_json) is not dict or schema_json.get("type") != "record":
            return False
        if not isinstance(parsed, avro.schema.RecordSchema):
            return False
        part = {k: v for k, v in schema_json.items() if k != "fields"}
        key = _marshal(part)
        if key is None or key in self.shells:
            return False
        try:
            record = avro.schema.make_avsc_object({**part, "fields": []}, avro.schema.Names())
        except Exception:  # cannot be: the whole record parsed; then just not remembered
            return False
        name = part.get("name")
        if not isinstance(record, avro.schema.RecordSchema) or not isinstance(name, str):
            return False
        if record.fullname is None or _primitive_basename(record.fullname):
            # The avro package looks a primitive type's name up in the namespace first ("ns.string"): a type
            # named after a primitive changes what other fields mean. Checked whole, every time.
            return False
        fullname = _Checker.fullname(name, part.get("namespace"))
        self.shells[key] = RecordShell(
            record=record,
            fullname=fullname,
            avro_fullname=record.fullname,
            own_namespace=fullname.rpartition(".")[0] or None,
            avro_space=avro.name.Name(name, part.get("namespace"), None).space,
        )
        return True


@dataclass
class _FieldTexts:
    """Where a version's fields stand in its file's text: ``text[starts[i]:ends[i]] == texts[i]``, and only a
    comma and whitespace between one field and the next."""

    text: str
    starts: list[int]
    ends: list[int]
    texts: list[str]


@dataclass
class _Scanned:
    part: dict[str, Any]
    """The record's part but its fields, as ``json.loads`` reads it."""
    fields: _FieldTexts
    values: dict[int, Any]
    """The fields read (by position) to find their end; the others are ones seen before."""
    header: tuple[str, dict[str, Any]]
    """The text up to the ``[`` opening the fields and the keys read before it (see ``ParseMemo._header``)."""


def _longest_run(s: str, idx: int, was: str, starts: list[int], ends: list[int], first: int) -> int:
    """The last field ``k`` such that the last version's text from field ``first`` to the end of field ``k``
    stands at ``idx`` (field ``first`` itself does): tried whole first, else found by halving."""
    base = starts[first]
    last = len(ends) - 1
    if s.startswith(was[base : ends[last]], idx):
        return last
    low, high = first, last - 1
    while low < high:
        middle = (low + high + 1) // 2
        if s.startswith(was[base : ends[middle]], idx):
            low = middle
        else:
            high = middle - 1
    return low


def none_at(found: list[Any]) -> list[int]:
    """Where ``found`` holds None, found by ``list.index`` (no bytecode per item: usually one or two of a hundred)."""
    at: list[int] = []
    start = 0
    while True:
        try:
            start = found.index(None, start)
        except ValueError:
            return at
        at.append(start)
        start += 1


def _marshal(value: Any) -> bytes | None:
    """The exact bytes of a JSON value (types kept apart: 1, 1.0 and true differ), or None if it cannot be had."""
    try:
        return marshal.dumps(value, 2)  # version 2: no back-references, so equal values give equal bytes
    except (ValueError, TypeError):
        return None


def _primitive_basename(fullname: str) -> bool:
    return fullname.rpartition(".")[2] in PRIMITIVES


def _field_layout(fld: dict[str, Any], shell: RecordShell, source: str, text: str | None = None) -> FieldLayout | None:
    """Check and parse one field on its own in ``shell``'s namespace; None unless it is sound and self-contained.

    ``text``: the field's JSON text, when it was read from one: each level of nesting opens a bracket in it, so
    a text with few brackets needs no walk to be known shallow enough.
    """
    name = fld.get("name")
    if not isinstance(name, str) or "type" not in fld:
        return None
    opened = text.count("{") + text.count("[") if text is not None else MAX_NESTING
    depth = opened if opened + 2 <= MAX_NESTING else nesting_depth(fld, MAX_NESTING)  # before anything recurses
    # The record and its "fields" list hold the field two levels down; the record part was within the limit.
    if depth + 2 > MAX_NESTING or not _names_no_other_type(fld["type"]):
        return None
    checker = _Checker(source)
    if next(checker.check_field(fld, "", shell.own_namespace), None) is not None:
        return None
    names = avro.schema.Names(default_namespace=shell.avro_space)
    try:
        (parsed,) = avro.schema.RecordSchema.make_field_objects([fld], names)
    except Exception:  # whatever the avro package refuses, the whole walk reports
        return None
    defines_avro = frozenset(names.names)
    if any(_primitive_basename(n) for n in defines_avro):
        return None
    return FieldLayout(fld, name, parsed, depth, frozenset(checker.named), defines_avro)


def _names_no_other_type(node: Any) -> bool:
    """Whether a type, walked as :class:`_Checker` and the ``avro`` package walk it, names only primitive types.

    Such a type means the same wherever it stands (only the names it defines can clash).
    """
    if isinstance(node, str):
        return node in PRIMITIVES
    if isinstance(node, list):
        return all(_names_no_other_type(branch) for branch in node)
    if not isinstance(node, dict):
        return True  # not a schema at all: the structural check refuses it
    kind = node.get("type")
    if kind in ("record", "error"):
        fields = node.get("fields")
        if not isinstance(fields, list):
            return True
        return all(_names_no_other_type(f.get("type")) for f in fields if isinstance(f, dict))
    if kind in ("enum", "fixed"):
        return True
    if kind == "array":
        return _names_no_other_type(node.get("items"))
    if kind == "map":
        return _names_no_other_type(node.get("values"))
    return _names_no_other_type(kind)


def check_schema(schema_json: Any, source: str = "<schema>") -> Iterator[Problem]:
    """Yield every structural problem of an Avro schema, each located by a JSON pointer."""
    yield from _Checker(source).check(schema_json, "")


class _Checker:
    """Walks a schema's JSON, tracking named types so that references and defaults can be checked."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.named: dict[str, Any] = {}

    def problem(self, pointer: str, message: str) -> Problem:
        return Problem(f"{self.source}#{pointer or '/'}", message)

    def check(self, node: Any, pointer: str, namespace: str | None = None) -> Iterator[Problem]:
        if isinstance(node, str):
            if node not in PRIMITIVES and self.resolve(node, namespace) is None:
                yield self.problem(pointer, f"unknown type {node!r}; define it before use or fix the name")
            return
        if isinstance(node, list):
            yield from self.check_union(node, pointer, namespace)
            return
        if not isinstance(node, dict):
            yield self.problem(pointer, f"a schema must be a type name, an object or a union list, not {node!r}")
            return
        kind = node.get("type")
        if kind is None:
            yield self.problem(pointer, 'missing "type"')
            return
        if isinstance(kind, (dict, list)) or (isinstance(kind, str) and kind not in NAMED | {"array", "map"}):
            # {"type": "string", "logicalType": ...} or {"type": {...}}: a wrapped schema.
            yield from self.check(kind, f"{pointer}/type", namespace)
            yield from self.check_logical(node, pointer)
            return
        if kind in NAMED:
            yield from self.check_named(node, pointer, namespace)
        elif kind == "array":
            if "items" not in node:
                yield self.problem(pointer, 'an array needs "items"')
            else:
                yield from self.check(node["items"], f"{pointer}/items", namespace)
        elif kind == "map":
            if "values" not in node:
                yield self.problem(pointer, 'a map needs "values"')
            else:
                yield from self.check(node["values"], f"{pointer}/values", namespace)

    def check_union(self, branches: list[Any], pointer: str, namespace: str | None) -> Iterator[Problem]:
        seen: set[str] = set()
        for i, branch in enumerate(branches):
            if isinstance(branch, list):
                yield self.problem(f"{pointer}/{i}", "a union may not directly contain another union")
                continue
            yield from self.check(branch, f"{pointer}/{i}", namespace)
            key = self.branch_key(branch, namespace)
            if key in seen:
                yield self.problem(f"{pointer}/{i}", f"the union has two branches of type {key!r}")
            seen.add(key)

    def check_named(self, node: dict[str, Any], pointer: str, namespace: str | None) -> Iterator[Problem]:
        kind = node["type"]
        name = node.get("name")
        if not isinstance(name, str) or not name:
            yield self.problem(pointer, f'a {kind} needs a "name"')
            return
        full = self.fullname(name, node.get("namespace", namespace))
        if full in self.named:
            yield self.problem(f"{pointer}/name", f"the type {full!r} is defined twice")
        self.named[full] = node
        own_namespace = full.rpartition(".")[0] or None
        if kind in ("record", "error"):
            fields = node.get("fields")
            if not isinstance(fields, list):
                yield self.problem(pointer, 'a record needs a "fields" list')
                return
            names: set[str] = set()
            for i, fld in enumerate(fields):
                at = f"{pointer}/fields/{i}"
                if not isinstance(fld, dict) or not isinstance(fld.get("name"), str):
                    yield self.problem(at, 'each field needs a "name" and a "type"')
                    continue
                if fld["name"] in names:
                    yield self.problem(f"{at}/name", f"field {fld['name']!r} appears twice")
                names.add(fld["name"])
                yield from self.check_field(fld, at, own_namespace)
        elif kind == "enum":
            symbols = node.get("symbols")
            if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
                yield self.problem(pointer, 'an enum needs a "symbols" list of strings')
            elif len(set(symbols)) != len(symbols):
                yield self.problem(f"{pointer}/symbols", "enum symbols must be unique")
            elif "default" in node and node["default"] not in symbols:
                yield self.problem(f"{pointer}/default", f"enum default {node['default']!r} is not a symbol")
        elif kind == "fixed":
            size = node.get("size")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                yield self.problem(pointer, 'a fixed needs a non-negative integer "size"')
            yield from self.check_logical(node, pointer)

    def check_field(self, fld: dict[str, Any], at: str, own_namespace: str | None) -> Iterator[Problem]:
        """The problems of one named field of a record (at pointer ``at``): its type, then its default."""
        if "type" not in fld:
            yield self.problem(at, f'field {fld["name"]!r} has no "type"')
            return
        yield from self.check(fld["type"], f"{at}/type", own_namespace)
        if "default" in fld:
            error = self.default_error(fld["type"], fld["default"], own_namespace)
            if error:
                yield self.problem(f"{at}/default", f"field {fld['name']!r}: {error}")

    def check_logical(self, node: dict[str, Any], pointer: str) -> Iterator[Problem]:
        # An invalid logical type (a decimal with no valid precision, say) is not an error: the Avro
        # specification says readers use the underlying type, and the ``avro`` package parses it so.
        return iter(())

    def default_error(self, schema: Any, value: Any, namespace: str | None) -> str | None:
        """Why ``value`` is not a valid default for ``schema`` (Avro JSON encoding), or None if it is."""
        if isinstance(schema, list):
            if not schema:
                return "an empty union can have no default"
            # Since Avro 1.12 a union's default may match any branch (the first one it matches is used).
            found = [self.default_error(branch, value, namespace) for branch in schema]
            if any(error is None for error in found):
                return None
            branches = ", ".join(self.branch_key(branch, namespace) for branch in schema)
            return f"the default matches no branch of the union ({branches}): {found[0]}"
        if isinstance(schema, str) and schema not in PRIMITIVES:
            target = self.resolve(schema, namespace)
            return None if target is None else self.default_error(target, value, namespace)
        if isinstance(schema, dict):
            kind = schema.get("type")
            if kind in ("record", "error"):
                if not isinstance(value, dict):
                    return f"expected an object for record {schema.get('name')!r}, got {value!r}"
                for fld in schema.get("fields", []):
                    if fld["name"] in value:
                        error = self.default_error(fld["type"], value[fld["name"]], namespace)
                    elif "default" not in fld:
                        error = "has no value and no default"
                    else:
                        error = None
                    if error:
                        return f"field {fld['name']!r} {error}"
                return None
            if kind == "enum":
                ok = value in schema.get("symbols", [])
                return None if ok else f"{value!r} is not one of the enum's symbols"
            if kind == "fixed":
                ok = isinstance(value, str) and len(value) == schema.get("size")
                return None if ok else f"expected a string of {schema.get('size')} characters"
            if kind == "array":
                if not isinstance(value, list):
                    return f"expected a list, got {value!r}"
                errors = (self.default_error(schema["items"], v, namespace) for v in value)
                return next((e for e in errors if e), None)
            if kind == "map":
                if not isinstance(value, dict):
                    return f"expected an object, got {value!r}"
                errors = (self.default_error(schema["values"], v, namespace) for v in value.values())
                return next((e for e in errors if e), None)
            return self.default_error(kind, value, namespace)
        return _primitive_default_error(schema, value)

    def resolve(self, name: str, namespace: str | None) -> Any | None:
        if name in self.named:
            return self.named[name]
        if namespace and f"{namespace}.{name}" in self.named:
            return self.named[f"{namespace}.{name}"]
        return None

    def branch_key(self, branch: Any, namespace: str | None) -> str:
        if isinstance(branch, str):
            if branch in PRIMITIVES:
                return branch
            return self.fullname(branch, namespace)
        if isinstance(branch, dict):
            kind = branch.get("type")
            if kind in NAMED and isinstance(branch.get("name"), str):
                return self.fullname(branch["name"], branch.get("namespace", namespace))
            if isinstance(kind, str) and kind not in NAMED:
                return kind
        return repr(branch)

    @staticmethod
    def fullname(name: str, namespace: str | None) -> str:
        if "." in name or not namespace:
            return name
        return f"{namespace}.{name}"


def _primitive_default_error(kind: str, value: Any) -> str | None:
    expected = {
        "null": ("null", lambda v: v is None),
        "boolean": ("true or false", lambda v: isinstance(v, bool)),
        "int": ("a 32-bit integer", lambda v: _is_int(v) and INT_RANGE[0] <= v <= INT_RANGE[1]),
        "long": ("a 64-bit integer", lambda v: _is_int(v) and LONG_RANGE[0] <= v <= LONG_RANGE[1]),
        "float": ("a number", _is_number),
        "double": ("a number", _is_number),
        "bytes": ("a string", lambda v: isinstance(v, str)),
        "string": ("a string", lambda v: isinstance(v, str)),
    }.get(kind)
    if expected is None:
        return None
    description, accepts = expected
    return None if accepts(value) else f"default {json.dumps(value)} is not {description} ({kind})"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return not (isinstance(value, float) and math.isnan(value))
