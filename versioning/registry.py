"""The schema registry: a folder of subjects, each with its ordered versions, its mode and its steps.

Layout::

    schemas/                      the registry
      users/                      one folder per subject
        subject.yaml              mode, table name, the steps between versions
        v1.avsc v2.avsc v3.avsc   the versions, numbered from 1 without gaps
        steps.py                  optional: functions named by 'call' operations

``subject.yaml``::

    description: People who use the platform.
    compatibility: BACKWARD       # BACKWARD (default), FORWARD, FULL, their _TRANSITIVE forms, NONE
    table: users                  # SQL table name; defaults to the subject's name
    steps:
      - from: 1
        to: 2
        upgrade:
          - copy: {field: updated_at, from: created_at}
      - from: 2
        to: 3
        upgrade: []               # phone is added with its default: nothing to declare

Loading checks all of it and raises one :class:`RegistryError` that lists every problem with its file and
location: unparseable schemas, defaults that do not match their types, gaps in the version numbers, missing
or inconsistent steps, and versions that break their subject's compatibility mode.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from versioning.compatibility import (
    Compatibility,
    CompatibilityChecker,
    CompatibilityResult,
    check_reader_writer,
)
from versioning.errors import (
    Problem,
    RegistryError,
    SchemaError,
    UnknownSubjectError,
    UnknownVersionError,
    VersioningError,
)
from versioning.schema import Schema, parse_schema, read_schema_file
from versioning.upgrade.operations import Step, build_step, parse_operations, parse_sql
from versioning.validation.reference import VERSION_FIELD, FieldError, Validator

SUBJECT_FILE = "subject.yaml"
VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")


class IncompatibleSchemaError(VersioningError):
    """A new version breaks its subject's compatibility mode; :attr:`result` lists every incompatibility."""

    def __init__(self, subject: str, version: int, result: CompatibilityResult) -> None:
        self.subject = subject
        self.version = version
        self.result = result
        lines = [f"v{version} of {subject!r} is incompatible under its mode:"]
        lines += [f"  - {inc}" for inc in result.incompatibilities]
        super().__init__("\n".join(lines))


@dataclass
class Subject:
    """One subject: its versions (1..n), compatibility mode, SQL table name and the steps between versions."""

    name: str
    folder: Path
    compatibility: Compatibility
    table: str
    description: str = ""
    schemas: dict[int, Schema] = field(default_factory=dict)
    steps: dict[int, Step] = field(default_factory=dict)
    """Step from version ``n`` to ``n + 1``, keyed by ``n``."""
    _validators: dict[int, Validator] = field(default_factory=dict, repr=False)
    _checker: CompatibilityChecker = field(default_factory=CompatibilityChecker, repr=False)
    """Remembers walked field-type pairs, so checking a new version against many is cheap."""

    @property
    def versions(self) -> list[int]:
        """The version numbers, oldest first."""
        return sorted(self.schemas)

    @property
    def latest(self) -> int:
        """The newest version number."""
        return max(self.schemas)

    def schema(self, version: int) -> dict[str, Any]:
        """The JSON form of a version's Avro schema."""
        return self.schema_object(version).json

    def schema_object(self, version: int) -> Schema:
        """A version's parsed :class:`Schema`; raises :class:`UnknownVersionError`."""
        try:
            return self.schemas[self.version_number(version)]
        except KeyError:
            raise UnknownVersionError(self.name, version, self.versions) from None

    def version_number(self, version: object) -> int:
        """Read a version as people write it (3, "3", "v3"); raises :class:`UnknownVersionError`."""
        number: int | None = None
        if isinstance(version, int) and not isinstance(version, bool):
            number = version
        elif isinstance(version, str) and re.fullmatch(r"[vV]?\d+", version.strip()):
            number = int(version.strip().lstrip("vV"))
        if number is None or number not in self.schemas:
            raise UnknownVersionError(self.name, version, self.versions)
        return number

    def validator(self, version: int) -> Validator:
        """The compiled validator of a version (compiled once, then reused)."""
        number = self.version_number(version)
        if number not in self._validators:
            self._validators[number] = Validator(self.schemas[number])
        return self._validators[number]

    def validate(self, record: Any, version: int | None = None) -> tuple[int, list[FieldError]]:
        """Validate one record; its own ``schema_version`` chooses the version unless ``version`` is given.

        Returns the version used and the record's errors (empty when valid).
        """
        if version is None and isinstance(record, dict) and record.get(VERSION_FIELD) is not None:
            number = self.version_number(record[VERSION_FIELD])
        else:
            number = self.version_number(version if version is not None else self.latest)
        return number, self.validator(number).errors(record)

    def path(self, from_version: int, to_version: int) -> list[tuple[Step, bool]]:
        """The steps from one version to another, each with True to go up (upgrade) or False to go down."""
        start, end = self.version_number(from_version), self.version_number(to_version)
        if start <= end:
            return [(self.steps[v], True) for v in range(start, end)]
        return [(self.steps[v], False) for v in range(start - 1, end - 1, -1)]

    def convert(self, record: dict[str, Any], to_version: int, from_version: int | None = None) -> dict[str, Any]:
        """Move a record to ``to_version`` (up or down) and stamp it with its new ``schema_version``.

        The record's own ``schema_version`` says where it starts unless ``from_version`` is given. A record
        already at ``to_version`` comes back unchanged, so converting is idempotent.
        """
        start = self.record_version(record, from_version)
        out = {k: v for k, v in record.items() if k != VERSION_FIELD}
        for step, up in self.path(start, to_version):
            out = step.upgrade(out) if up else step.downgrade(out)
        out[VERSION_FIELD] = self.version_number(to_version)
        return out

    def record_version(self, record: dict[str, Any], default: int | None = None) -> int:
        """The version a record says it was written with, else ``default``; raises if neither is known."""
        if VERSION_FIELD in record and record[VERSION_FIELD] is not None:
            return self.version_number(record[VERSION_FIELD])
        if default is None:
            raise VersioningError(
                f"the record has no {VERSION_FIELD!r} field; say which version of {self.name!r} it is"
            )
        return self.version_number(default)

    def check_new(self, schema: Schema) -> CompatibilityResult:
        """How a candidate next version fares under this subject's mode against the existing versions."""
        return self._checker.check(
            schema,
            [self.schemas[v] for v in self.versions],
            self.compatibility,
            subject=self.name,
            new_version=self.latest + 1,
            previous_versions=self.versions,
        )


@dataclass
class Registry:
    """A schema registry folder, loaded and checked as a whole."""

    root: Path
    subjects: dict[str, Subject]

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> Registry:
        """Load and check a registry folder; raises :class:`RegistryError` listing every problem."""
        path = Path(root)
        if not path.is_dir():
            raise RegistryError([Problem(str(path), "no such registry folder; pass --registry DIR")])
        problems: list[Problem] = []
        subjects: dict[str, Subject] = {}
        for folder in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            subject = _load_subject(folder, path, problems)
            if subject is not None:
                subjects[subject.name] = subject
        if problems:
            raise RegistryError(problems)
        return cls(path, subjects)

    def subject(self, name: str) -> Subject:
        """The subject called ``name``; raises :class:`UnknownSubjectError`."""
        try:
            return self.subjects[name]
        except KeyError:
            raise UnknownSubjectError(name, sorted(self.subjects)) from None

    def __iter__(self) -> Iterator[Subject]:
        return iter(self.subjects[name] for name in sorted(self.subjects))

    def check_transition(self, subject: str, live_version: int, candidate_version: int) -> CompatibilityResult:
        """Whether traffic may move from a release on ``live_version`` to one on ``candidate_version``.

        The candidate takes the role of the new version, whichever way the numbers go (an upgrade or a
        rollback): under BACKWARD it must read what the live version wrote, under FORWARD the live version must
        read what it writes, FULL both. Transitive modes also check every version between the two.
        """
        found = self.subject(subject)
        live, candidate = found.version_number(live_version), found.version_number(candidate_version)
        mode = found.compatibility
        result = CompatibilityResult()
        if live == candidate or mode is Compatibility.NONE:
            return result
        if mode.transitive:
            low, high = sorted((live, candidate))
            others = [v for v in range(low, high + 1) if v != candidate]
            others.sort(key=lambda v: abs(v - candidate), reverse=False)
        else:
            others = [live]
        new = found.schemas[candidate]
        for version in others:
            old = found.schemas[version]
            if mode.backward:
                result.extend(
                    check_reader_writer(new, old, subject=subject, reader_version=candidate, writer_version=version)
                )
            if mode.forward:
                result.extend(
                    check_reader_writer(old, new, subject=subject, reader_version=version, writer_version=candidate)
                )
        return result

    def add_version(
        self,
        name: str,
        schema: dict[str, Any],
        compatibility: Compatibility | None = None,
        *,
        force: bool = False,
        table: str | None = None,
    ) -> tuple[int, CompatibilityResult]:
        """Register a schema as the next version of a subject (created if new); returns version and verdict.

        The step from the previous version is derived from the difference (new fields filled from their
        defaults, dropped fields removed). An incompatible schema raises :class:`IncompatibleSchemaError` and
        writes nothing, unless ``force``. Files are written atomically.
        """
        folder = self.root / name
        existing = self.subjects.get(name)
        version = existing.latest + 1 if existing else 1
        parsed = parse_schema(schema, f"{name}/v{version}.avsc")
        result = existing.check_new(parsed) if existing else CompatibilityResult()
        if not result.compatible and not force:
            raise IncompatibleSchemaError(name, version, result)
        document: dict[str, Any]
        if existing:
            document = _read_yaml(folder / SUBJECT_FILE) or {}
            problems: list[Problem] = []
            _, problems = build_step(version - 1, version, [], existing.schemas[version - 1], parsed, "derived")
            if problems:
                raise RegistryError(problems)
            document.setdefault("steps", []).append({"from": version - 1, "to": version, "upgrade": []})
        else:
            mode = compatibility or Compatibility.BACKWARD
            document = {"compatibility": mode.value, "table": table or name, "steps": []}
            folder.mkdir(parents=True, exist_ok=True)
        _write_atomically(folder / f"v{version}.avsc", json.dumps(schema, indent=2) + "\n")
        _write_atomically(folder / SUBJECT_FILE, yaml.safe_dump(document, sort_keys=False))
        reloaded = _load_subject(folder, self.root, problems := [])
        if problems or reloaded is None:
            raise RegistryError(problems)
        self.subjects[name] = reloaded
        return version, result

    @cached_property
    def names(self) -> list[str]:
        """Subject names, sorted."""
        return sorted(self.subjects)


def _load_subject(folder: Path, root: Path, problems: list[Problem]) -> Subject | None:
    name = folder.name
    rel = lambda p: str(p.relative_to(root.parent)) if root.parent in p.parents else str(p)  # noqa: E731
    config_path = folder / SUBJECT_FILE
    before = len(problems)
    config: dict[str, Any] = {}
    if not config_path.is_file():
        problems.append(Problem(rel(config_path), "missing; every subject folder needs a subject.yaml"))
    else:
        try:
            loaded = _read_yaml(config_path)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f"{rel(config_path)}:{mark.line + 1}" if mark else rel(config_path)
            problems.append(Problem(where, f"not valid YAML: {getattr(err, 'problem', err)}"))
            loaded = {}
        if loaded is not None and not isinstance(loaded, dict):
            problems.append(Problem(rel(config_path), "must be a mapping of keys (compatibility, table, steps)"))
        else:
            config = loaded or {}
    unknown = set(config) - {"description", "compatibility", "table", "steps"}
    for key in sorted(unknown):
        problems.append(
            Problem(f"{rel(config_path)}:{key}", "unknown key; known: description, compatibility, table, steps")
        )
    mode = Compatibility.BACKWARD
    if "compatibility" in config:
        try:
            mode = Compatibility.parse(str(config["compatibility"]))
        except ValueError as err:
            problems.append(Problem(f"{rel(config_path)}:compatibility", str(err)))
    table = config.get("table", name)
    if not isinstance(table, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", table):
        problems.append(Problem(f"{rel(config_path)}:table", f"{table!r} is not a plain SQL table name"))

    schemas: dict[int, Schema] = {}
    for path in sorted(folder.glob("*.avsc")):
        match = VERSION_FILE.match(path.name)
        if not match or int(match.group(1)) < 1:
            problems.append(Problem(rel(path), "schema files are named v<N>.avsc with N = 1, 2, 3, ..."))
            continue
        try:
            schemas[int(match.group(1))] = read_schema_file(path, rel(path))
        except SchemaError as err:
            problems.extend(err.problems)
            schemas[int(match.group(1))] = None  # type: ignore[assignment]  # a hole, checked below
    if not schemas:
        problems.append(Problem(rel(folder), "no versions; add v1.avsc"))
    numbers = sorted(schemas)
    missing = [n for n in range(1, (numbers[-1] if numbers else 0) + 1) if n not in schemas]
    for n in missing:
        problems.append(Problem(rel(folder / f"v{n}.avsc"), "missing: version numbers must have no gaps"))

    steps = _load_steps(config.get("steps"), schemas, folder, rel(config_path), problems)
    subject = Subject(name, folder, mode, str(table), str(config.get("description", "")), schemas, steps)
    if len(problems) > before:
        return None
    for version in subject.versions[1:]:
        earlier = [v for v in subject.versions if v < version]
        result = subject._checker.check(
            schemas[version],
            [schemas[v] for v in earlier],
            mode,
            subject=name,
            new_version=version,
            previous_versions=earlier,
        )
        for inc in result.incompatibilities:
            problems.append(
                Problem(
                    f"{rel(folder / f'v{version}.avsc')}",
                    f"breaks {mode.value}: {inc}",
                )
            )
    return subject if len(problems) == before else None


def _load_steps(
    raw: Any, schemas: dict[int, Schema], folder: Path, where: str, problems: list[Problem]
) -> dict[int, Step]:
    declared: dict[int, tuple[int, Any]] = {}
    raw_descriptions: dict[int, Any] = {}
    raw_sql: dict[int, dict[str, dict[str, list[str]]]] = {}
    if raw is not None and not isinstance(raw, list):
        problems.append(Problem(f"{where}:steps", "must be a list of {from, to, upgrade} entries"))
        raw = []
    for i, entry in enumerate(raw or []):
        at = f"{where}:steps[{i}]"
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("from"), int)
            or not isinstance(entry.get("to"), int)
        ):
            problems.append(Problem(at, "each step needs integer 'from' and 'to' versions"))
            continue
        start, end = entry["from"], entry["to"]
        if end != start + 1:
            problems.append(Problem(at, f"steps join consecutive versions; {start}->{end} skips a version"))
            continue
        if start in declared:
            problems.append(Problem(at, f"a second step {start}->{end}"))
            continue
        if start not in schemas or end not in schemas:
            problems.append(Problem(at, f"step {start}->{end} names a version that does not exist"))
            continue
        unknown = set(entry) - {"from", "to", "upgrade", "description", "sql"}
        if unknown:
            problems.append(
                Problem(at, f"unknown keys {sorted(unknown)}; a step has from, to, upgrade, description, sql")
            )
        raw_sql[start], sql_problems = parse_sql(entry.get("sql"), f"{at}.sql")
        problems.extend(sql_problems)
        declared[start] = (i, entry.get("upgrade"))
        raw_descriptions[start] = entry.get("description")
    steps: dict[int, Step] = {}
    for start in sorted(v for v in schemas if v + 1 in schemas):
        if start not in declared:
            problems.append(
                Problem(
                    f"{where}:steps",
                    f"no step from v{start} to v{start + 1}; add '- {{from: {start}, to: {start + 1}, upgrade: []}}'",
                )
            )
            continue
        old, new = schemas[start], schemas[start + 1]
        if old is None or new is None:
            continue
        index, raw_ops = declared[start]
        at = f"{where}:steps[{index}].upgrade"
        operations, op_problems = parse_operations(raw_ops, at)
        problems.extend(op_problems)
        step, step_problems = build_step(start, start + 1, operations, old, new, at)
        step.folder = folder
        step.description = str(raw_descriptions.get(start) or "")
        step.sql = raw_sql.get(start, {})
        problems.extend(step_problems)
        steps[start] = step
    return steps


def _read_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _write_atomically(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
