"""``DataVersionManager``: the naive manager's familiar calls, answered by the registry.

Code written against the old in-process manager keeps working unchanged::

    from versioning import DataVersionManager

    manager = DataVersionManager()                        # the project's schemas/, subject "users"
    manager.validate_schema({"id": "1", "name": "Ana", "created_at": "2024-01-01"}, version=1)
    # {'valid': True, 'version': 1, 'errors': []}
    manager.upgrade_data(legacy_record, target_version=3)   # the record, schema_version set to 3
    manager.create_migration_script(1, 3)                   # PostgreSQL DDL + backfill, as text

Underneath, schemas are Avro versions in the registry, validation reports every error with its field path,
upgrades follow the declared steps and migrations are rendered per SQL dialect.

Legacy code calls the manager one record at a time, so each call is kept short: a version is resolved once,
ever, into a table; a record of a flat version (strings, numbers, booleans, nulls and their unions) is first
checked by one small function generated for that version (:func:`compile_record_check`), which only ever says
"valid" for a record the reference validator finds nothing wrong with; any other record, and every record of
other versions, goes to the reference validator, which lists every error. An upgrade runs the compiled plan of
its version pair (:class:`~versioning.upgrade.rows.RowUpgrader`), which hands any record the plan does not fit
to the reference steps. The answers are exactly :meth:`Subject.validate`'s and :meth:`Subject.convert`'s
(``tests/versioning/test_facade_fast.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from versioning.errors import VersioningError
from versioning.registry import VERSION_FIELD, Registry, Subject
from versioning.schema import Schema
from versioning.upgrade.operations import promote_value
from versioning.upgrade.plan import Constant, Expression, InputField, plan_fields
from versioning.upgrade.rows import RowUpgrader
from versioning.validation.reference import EXPECTED, FieldError, Validator, unexpected_field, wrong_type
from versioning.values import INT_RANGE, LONG_RANGE, is_mutable, owned

_Resolved = tuple[int, Validator, Callable[[Any], bool], Callable[[Any], list[str] | None]]
"""A version resolved: its number, reference validator, quick check and error lister."""

DEFAULT_REGISTRY = "schemas"
REGISTRY_ENV = "VERSIONING_REGISTRY"


def default_registry_path() -> Path:
    """The registry folder to use when none is given: ``$VERSIONING_REGISTRY``, else ``./schemas``."""
    return Path(os.environ.get(REGISTRY_ENV, DEFAULT_REGISTRY))


class DataVersionManager:
    """One subject's versions behind the naive manager's interface (``users`` in the project's registry)."""

    def __init__(self, registry: str | os.PathLike[str] | Registry | None = None, subject: str = "users") -> None:
        if isinstance(registry, Registry):
            loaded = registry
        else:
            loaded = Registry.load(registry or default_registry_path(), [subject])  # only the subject it serves
        self.registry = loaded
        self.subject: Subject = loaded.subject(subject)
        self._first = self.subject.versions[0]
        self._validators: dict[tuple[type, Any], _Resolved] = {}
        self._by_int: dict[int, _Resolved] = {}
        self._upgraders: dict[tuple[Any, ...], Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self._from_first: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

    def _validator(self, version: Any) -> _Resolved:
        """The version as a number, its reference validator, quick check and error lister; each resolved once."""
        key = (type(version), version)  # True == 1 and 1.0 == 1 as keys; they are not versions
        try:
            return self._validators[key]
        except (KeyError, TypeError):  # TypeError: an unhashable "version", resolved to its error below
            pass
        number = self.subject.version_number(version)  # raises UnknownVersionError: nothing remembered
        schema = self.subject.schemas[number]
        validator = self.subject.validator(number)
        found = (
            number,
            validator,
            compile_record_check(schema) or _never,
            compile_error_lister(schema, validator) or _ask_the_reference,
        )
        self._validators[key] = found
        if type(version) is int:
            self._by_int[version] = found
        return found

    @property
    def current_version(self) -> int:
        """The newest version of the subject."""
        return self.subject.latest

    @property
    def versions(self) -> list[int]:
        """Every version of the subject, oldest first."""
        return self.subject.versions

    def validate_schema(self, data: dict[str, Any], version: int | None = None) -> dict[str, Any]:
        """Validate one record: ``{'valid': bool, 'version': int | None, 'errors': [str, ...]}``.

        The version is ``version`` if given, else the record's own ``schema_version``, else 1: a record
        without ``schema_version`` is legacy data from before versioning, as :meth:`upgrade_data` takes it.
        An unknown version is not an exception: ``valid`` is False and ``errors`` says which versions exist.
        """
        shown = version
        if version is None:
            stamp = data.get(VERSION_FIELD) if isinstance(data, dict) else None
            if stamp is None:
                version = shown = self._first
            else:
                version = stamp  # an unknown stamp is reported with no version, as before
        # Plain int versions (nearly every call) straight from a table; anything else resolved the careful way.
        found = self._by_int.get(version) if type(version) is int else None
        if found is None:
            try:
                found = self._validator(version)
            except VersioningError as err:
                return {"valid": False, "version": shown, "errors": [str(err)]}
        used, validator, quick, lister = found
        if quick(data):
            return {"valid": True, "version": used, "errors": []}
        listed = lister(data)
        if listed is None:
            listed = [str(e) for e in validator.errors(data)]
        return {"valid": not listed, "version": used, "errors": listed}

    def upgrade_data(self, data: dict[str, Any], target_version: int) -> dict[str, Any]:
        """Move a record to ``target_version`` (up or down); the result carries ``schema_version``.

        A record without ``schema_version`` is legacy data from before versioning, taken as version 1.
        """
        if VERSION_FIELD not in data and type(target_version) is int:  # legacy data: the commonest call
            legacy = self._from_first.get(target_version)
            if legacy is not None:
                return legacy(data)
        start = data.get(VERSION_FIELD) or self._first
        if type(start) is int and type(target_version) is int:
            key: tuple[Any, ...] = (start, target_version)  # the common case: no type() in the key
        else:
            key = (type(start), start, type(target_version), target_version)  # True == 1: kept apart
        try:
            upgrade = self._upgraders.get(key)
        except TypeError:  # an unhashable version: the reference says what is wrong with it
            return self.subject.convert(data, target_version, from_version=start)
        if upgrade is None:
            try:
                upgrader = RowUpgrader(self.subject, start, target_version)
            except VersioningError:  # an unknown version: the reference raises, naming what it meets first
                return self.subject.convert(data, target_version, from_version=start)
            upgrade = self._upgraders[key] = compile_record_upgrade(self.subject, upgrader)
            if VERSION_FIELD not in data and type(target_version) is int:
                self._from_first[target_version] = upgrade
        return upgrade(data)

    def create_migration_script(self, from_version: int, to_version: int, dialect: str = "postgresql") -> str:
        """The SQL script that moves the subject's table between two versions, for a SQL dialect."""
        from versioning.migrations import migration_sql

        return migration_sql(self.subject, from_version, to_version, dialect)


def _never(record: Any) -> bool:
    return False


def compile_record_upgrade(subject: Subject, upgrader: RowUpgrader) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """One record moved as ``upgrader`` moves it, by one generated function when the path allows.

    An upward path of declarative steps (``upgrader.compiled`` with no ``call`` step left) becomes one function
    that builds the new record in a single dict display from the plan of the steps
    (:func:`versioning.upgrade.plan.plan_fields`, which :class:`RowUpgrader` compiles for batches), for a record
    carrying exactly the source version's fields and no stamp; any other record, and any other path, goes
    through ``upgrader`` itself, so the results are :meth:`Subject.convert`'s.
    """

    def through_upgrader(record: dict[str, Any]) -> dict[str, Any]:
        return upgrader.upgrade([record])[0]

    if not upgrader.compiled or upgrader.rest:
        return through_upgrader
    names = [f for f in subject.schemas[upgrader.from_version].field_names if f != VERSION_FIELD]
    steps = [step for step, _ in subject.path(upgrader.from_version, upgrader.to_version)]
    plan = plan_fields(steps, names)
    bound: dict[str, Any] = {"_promote": promote_value, "_owned": owned, "fields": frozenset(names)}
    bound["other"] = through_upgrader

    def source(expr: Expression) -> str:
        if isinstance(expr, InputField):
            return f"r[{expr.name!r}]"
        if isinstance(expr, Constant):
            key = f"c{len(bound)}"
            bound[key] = expr.value
            return f"_owned({key})" if is_mutable(expr.value) else key  # each record its own list or map
        inner = source(expr.value)
        return f"_promote({inner}, {expr.source_type!r}, {expr.to!r}, {expr.field!r})"

    items = [f"{name!r}: {source(expr)}" for name, expr in plan.items() if name != VERSION_FIELD]
    items.append(f"{VERSION_FIELD!r}: {upgrader.to_version!r}")
    code = f"lambda r: {{{', '.join(items)}}} if r.keys() == fields else other(r)"
    function: Callable[[dict[str, Any]], dict[str, Any]] = eval(code, bound)  # names as repr literals only
    return function


_QUICK: dict[str, str] = {
    "null": "{v} is None",
    "boolean": "type({v}) is bool",
    "int": f"(type({{v}}) is int and {INT_RANGE[0]} <= {{v}} <= {INT_RANGE[1]})",
    "long": f"(type({{v}}) is int and {LONG_RANGE[0]} <= {{v}} <= {LONG_RANGE[1]})",
    "double": "type({v}) is float",
    # Text that is all ASCII can hold no lone surrogate; other text is left to the reference, which looks.
    "string": "(type({v}) is str and {v}.isascii())",
}
"""For each plain Avro type, a test that a value is certainly valid (the reference may accept more)."""


def _flat_fields(schema: Schema) -> list[tuple[dict[str, Any], list[str]]] | None:
    """A record version's fields with their type's branches, when every branch is a plain type the generated
    checks know (:data:`_QUICK`); None for any other schema."""
    if not isinstance(schema.json, dict) or schema.json.get("type") != "record":
        return None
    flat = []
    for f in schema.fields:
        branches = f["type"] if isinstance(f["type"], list) else [f["type"]]
        if not branches or not all(isinstance(b, str) and b in _QUICK for b in branches):
            return None
        flat.append((f, branches))
    return flat


def compile_record_check(schema: Schema, version_field: str = VERSION_FIELD) -> Callable[[Any], bool] | None:
    """A function telling, for one record, "certainly valid" (True) or "ask the reference" (False).

    Made for record versions whose fields are plain types (null, boolean, int, long, double, string) or unions
    of them, written as plain names; None for any other schema. True only when the reference validator finds
    no error: a dict (not a subclass) with only known keys (``version_field`` among them), every field without
    a default present, every value present of exactly the expected type, in range, text all ASCII.
    As :func:`versioning.upgrade.rows.compile_plan` does, the function is generated source, one test per
    field in a row; field names enter it only as ``repr`` literals.
    """
    flat = _flat_fields(schema)
    if flat is None:
        return None
    terms = ["type(r) is dict", "r.keys() <= known"]
    for f, branches in flat:
        test = " or ".join(_QUICK[b] for b in branches)  # "{v}" where the value goes
        fetch = f"(v := r.get({f['name']!r}, missing))"
        if "default" in f:  # may be absent
            terms.append(f"({fetch} is missing or {test.format(v='v')})")
        else:  # absent is `missing`, which passes no test; a test's leftmost value is always evaluated first
            first, rest = test.split("{v}", 1)
            terms.append(f"({first}{fetch}{rest.format(v='v')})")
    scope: dict[str, Any] = {"known": frozenset([*schema.field_names, version_field]), "missing": object()}
    # One expression, no statements: about 40% cheaper per call than the same tests as if-statements.
    check: Callable[[Any], bool] = eval(f"lambda r: {' and '.join(terms)}", scope)  # repr literals and fixed tests
    return check


_TYPE_TEST: dict[str, str] = {
    "null": "{v} is None",
    "boolean": "type({v}) is bool",
    "int": "type({v}) is int",
    "long": "type({v}) is int",
    "double": "type({v}) is float or type({v}) is int",
    "string": "type({v}) is str",
}
"""For a single-type field, whether a value is of a type the reference validator checks further; any other value
gets :func:`~versioning.validation.reference.wrong_type`'s message, as the reference words it."""


def compile_error_lister(
    schema: Schema, validator: Validator, version_field: str = VERSION_FIELD
) -> Callable[[Any], list[str] | None] | None:
    """A function listing one record's errors as the reference validator words them, in its order; None for a
    schema :func:`compile_record_check` does not take.

    Made for the record a quick check turned down: each field present is first given the same quick test, and
    only a field that fails it goes to its own reference check (``validator.top_fields``), which words its
    errors; a missing field and an unknown key get the reference's messages. The function returns None for a
    value that is not exactly a dict, so the reference answers that too. Generated source, as the quick check.
    """
    flat = _flat_fields(schema)
    if flat is None or len(validator.top_fields) != len(flat):
        return None
    lines = ["def lister(r):", "    if type(r) is not dict:", "        return None", "    out = []", "    present = 0"]
    scope: dict[str, Any] = {
        "missing": object(),
        "known": frozenset([*schema.field_names, version_field]),
        "label": validator.top_label,
        "unexpected": unexpected_field,
        "refer": _refer,
        "wrong_type": wrong_type,
    }
    for index, ((f, branches), (name, check, optional)) in enumerate(zip(flat, validator.top_fields, strict=True)):
        assert f["name"] == name
        test = " or ".join(_QUICK[b] for b in branches).format(v="v")
        scope[f"check{index}"] = check
        lines.append(f"    v = r.get({name!r}, missing)")
        lines.append("    if v is missing:")
        lines.append("        pass" if optional else f"        out.append({name + ': missing required field'!r})")
        lines.append("    else:")
        lines.append("        present += 1")
        lines.append(f"        if not ({test}):")
        kind = branches[0] if len(branches) == 1 else None
        if kind in _TYPE_TEST:  # the commonest mistake, a value of another type, worded here as the reference does
            lines.append(f"            if not ({_TYPE_TEST[kind].format(v='v')}):")
            lines.append(f"                out.append({name + ': '!r} + wrong_type({EXPECTED[kind]!r}, v))")
            lines.append("            else:")
            lines.append(f"                refer(check{index}, v, {name!r}, out)")
        else:
            lines.append(f"            refer(check{index}, v, {name!r}, out)")
    lines += [
        "    if len(r) > present:",
        "        for key in r:",
        "            if key not in known:",
        "                out.append(str(unexpected(str(key), label)))",
        "    return out",
    ]
    exec("\n".join(lines), scope)  # field names enter only as repr literals; the tests are fixed text
    lister: Callable[[Any], list[str] | None] = scope["lister"]
    return lister


def _refer(check: Callable[[Any, str, list[FieldError]], None], value: Any, path: str, out: list[str]) -> None:
    """Run one field's reference check and add its errors, worded, to ``out``."""
    found: list[FieldError] = []
    check(value, path, found)
    out.extend(map(str, found))


def _ask_the_reference(record: Any) -> None:
    return None
