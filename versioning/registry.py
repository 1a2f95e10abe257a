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

At scale (hundreds of subjects, hundreds of versions each) three things keep loading cheap, none changing an
answer:

- subjects are loaded when first asked for (:meth:`Registry.open`, or ``Registry.load(root, subjects=...)``
  to check only some), so memory holds the subjects in use;
- a subject whose files hash to content already checked clean (:mod:`versioning.registry_cache`) is not
  checked again, and its versions are parsed when first used;
- a new version is checked against a transitive mode's whole history through the subject's
  :class:`CompatibilityChecker`, which summarises the history once instead of walking every pair.
"""

from __future__ import annotations

import gc
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from versioning.compatibility import (
    Compatibility,
    CompatibilityChecker,
    CompatibilityResult,
    Incompatibility,
)
from versioning.errors import (
    Problem,
    RegistryError,
    SchemaError,
    UnknownSubjectError,
    UnknownVersionError,
    VersioningError,
)
from versioning.input_limits import document_problem, too_deep
from versioning.registry_cache import SubjectFiles, VerdictCache, file_digest
from versioning.schema import ParseMemo, Schema, parse_schema
from versioning.upgrade.operations import Call, Step, build_step, call_problems, parse_operations, parse_sql
from versioning.validation.reference import VERSION_FIELD, FieldError, Validator

SUBJECT_FILE = "subject.yaml"
VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when PyYAML was built with it (about 7x the pure-Python one); the same documents."""


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
    schemas: Mapping[int, Schema] = field(default_factory=dict)
    """The versions by number; a subject taken from the verdict cache parses each on first use."""
    steps: Mapping[int, Step] = field(default_factory=dict)
    """Step from version ``n`` to ``n + 1``, keyed by ``n``."""
    checked: bool = False
    """True when the whole subject was checked (or its exact files were checked before): every version keeps
    its mode with those before it, which :meth:`Registry.check_transition` relies on."""
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

    @property
    def checker(self) -> CompatibilityChecker:
        """The subject's compatibility checker: what it walked while the subject loaded, it knows."""
        return self._checker

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
    """A schema registry folder; its subjects are loaded (and checked) when first asked for."""

    root: Path
    subjects: MutableMapping[str, Subject]
    """Subjects by name; reading one loads and checks it (raising :class:`RegistryError` for its problems)."""

    @classmethod
    def load(
        cls,
        root: str | os.PathLike[str],
        subjects: Iterable[str] | None = None,
        *,
        verdicts: VerdictCache | None = None,
    ) -> Registry:
        """Load and check a registry folder; raises :class:`RegistryError` listing every problem.

        ``subjects`` checks only the subjects named (names the folder lacks are left for :meth:`subject` to
        report); the others are checked when first asked for. ``verdicts`` is where clean verdicts are
        remembered (default: the user's cache folder, see :mod:`versioning.registry_cache`).
        """
        registry = cls.open(root, verdicts=verdicts)
        lazy = registry.subjects
        assert isinstance(lazy, _Subjects)
        names = lazy.names if subjects is None else [n for n in dict.fromkeys(subjects) if n in lazy.names]
        problems: list[Problem] = []
        with _no_collection():
            for name in names:
                lazy.check(name, problems, keep=subjects is not None)
        if problems:
            raise RegistryError(problems)
        return registry

    @classmethod
    def open(cls, root: str | os.PathLike[str], *, verdicts: VerdictCache | None = None) -> Registry:
        """A registry folder whose subjects are loaded and checked only when asked for (nothing read yet)."""
        path = Path(root)
        if not path.is_dir():
            raise RegistryError([Problem(str(path), "no such registry folder; pass --registry DIR")])
        names = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
        return cls(path, _Subjects(path, names, verdicts if verdicts is not None else VerdictCache()))

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
        if found.checked and candidate > live and (mode.transitive or candidate == live + 1):
            # A checked subject keeps its mode: each version with every earlier one (transitive) or with the
            # one before it. An upgrade within that guarantee has nothing to report; no schema is read.
            return result
        if mode.transitive:
            low, high = sorted((live, candidate))
            others = [v for v in range(low, high + 1) if v != candidate]
            others.sort(key=lambda v: abs(v - candidate), reverse=False)
        else:
            others = [live]
        new = found.schemas[candidate]
        walk = found.checker.reader_writer  # the subject's checker: pairs it walked while loading are known
        found_list = result.incompatibilities
        for version in others:
            old = found.schemas[version]
            if mode.backward:
                for kind, location, message in walk(new, old):
                    found_list.append(Incompatibility(kind, location or "/", message, subject, candidate, version))
            if mode.forward:
                for kind, location, message in walk(old, new):
                    found_list.append(Incompatibility(kind, location or "/", message, subject, version, candidate))
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


def _uses_call(subject: Subject) -> bool:
    """Whether any step of ``subject`` names a Python function (a ``call`` operation)."""
    return any(isinstance(operation, Call) for step in subject.steps.values() for operation in step.operations)


class _Subjects(MutableMapping[str, Subject]):
    """A registry's subjects by name, each loaded and checked on first access, then kept.

    A subject is checked once per content: the files are hashed, a digest checked clean before (in this process
    or, through the verdict cache, before it) is loaded without checks and with its versions parsed on first use.
    """

    def __init__(self, root: Path, names: list[str], verdicts: VerdictCache) -> None:
        self.root = root
        self.names = names
        self.verdicts = verdicts
        self.clean: dict[str, dict[str, Any]] = {}
        """Digests checked clean in this process (so an unwritable cache folder does not mean checking twice)."""
        self.loaded: dict[str, Subject] = {}

    def check(self, name: str, problems: list[Problem], *, keep: bool = True) -> Subject | None:
        """Load and check one subject, adding its problems; ``keep`` False keeps none of its parsed versions."""
        if name in self.loaded:
            return self.loaded[name]
        folder = self.root / name
        files = SubjectFiles.read(folder, keep=True)  # a subject checked now is parsed from these bytes
        entry = self.clean.get(files.key) or self.verdicts.lookup(files)
        if entry is not None:
            files.contents.clear()
            subject = _load_subject(folder, self.root, problems, verified=files, cached_config=entry.get("config"))
        else:
            read: list[Any] = []
            subject = _load_subject(folder, self.root, problems, files=files, read_config=read)
            files.contents.clear()
            if subject is not None and not _uses_call(subject):
                # A `call` step's module may live anywhere on the Python path, outside the files the digest
                # covers: such a subject is checked every time, so a module that has gone is always found.
                config = read[0] if read else None
                self.clean[files.key] = {"config": config}
                self.verdicts.remember_clean(files, config)
                if not keep:  # keep what a checked subject costs when its versions are parsed on first use
                    subject = _load_subject(folder, self.root, problems, verified=files, cached_config=config)
        if subject is not None:
            self.loaded[name] = subject
        return subject

    def __getitem__(self, name: str) -> Subject:
        if name in self.loaded:
            return self.loaded[name]
        if name not in self.names:
            raise KeyError(name)
        problems: list[Problem] = []
        with _no_collection():
            subject = self.check(name, problems)
        if subject is None:
            raise RegistryError(problems)
        return subject

    def __setitem__(self, name: str, subject: Subject) -> None:
        if name not in self.names:
            self.names = sorted([*self.names, name])
        self.loaded[name] = subject

    def __delitem__(self, name: str) -> None:
        self.names = [n for n in self.names if n != name]
        self.loaded.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.names))

    def __len__(self) -> int:
        return len(self.names)


@contextmanager
def _no_collection() -> Iterator[None]:
    """No cyclic garbage collection while loading: parsing makes many objects and frees none, so the collector's
    passes over them would be pure cost. Restored afterwards as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_freeze_count() == 0:
                # Everything made while loading sits in the youngest generation, so the first collection after
                # would walk it all (about 0.1 s for ten wide subjects). Moved to the oldest generation instead,
                # as if it had survived: collected by the next full pass like any long-lived object. Not done
                # when objects were frozen by someone else (a pre-fork freeze is theirs to keep).
                gc.freeze()
                gc.unfreeze()
            gc.enable()


class _VersionFiles(Mapping[int, Schema]):
    """A checked subject's versions, each read and parsed on first use; a file changed since is refused."""

    def __init__(self, folder: Path, display: Callable[[Path], str], files: dict[int, str], digests: dict[str, str]):
        self._folder = folder
        self._display = display
        self._files = files
        self._digests = digests
        self._numbers = sorted(files)
        self._parsed: dict[int, Schema] = {}

    def __getitem__(self, number: int) -> Schema:
        found = self._parsed.get(number)
        if found is not None:
            return found
        name = self._files[number]  # KeyError for an unknown version, as a dict
        path = self._folder / name
        try:
            data = path.read_bytes()
        except OSError as err:
            raise RegistryError([Problem(self._display(path), f"cannot read the file: {err.strerror}")]) from None
        if file_digest(data) != self._digests.get(name):
            raise RegistryError(
                [Problem(self._display(path), "changed since the registry was loaded; load the registry again")]
            )
        try:
            schema = _schema_from_bytes(data, self._display(path))
        except SchemaError as err:
            raise RegistryError(err.problems) from None
        self._parsed[number] = schema
        return schema

    def __contains__(self, number: object) -> bool:
        return number in self._files

    def __iter__(self) -> Iterator[int]:
        return iter(self._numbers)

    def __len__(self) -> int:
        return len(self._numbers)


class _LazySteps(Mapping[int, Step]):
    """A checked subject's steps, each built on first use."""

    def __init__(self, starts: list[int], build: Callable[[int], Step]) -> None:
        self._starts = starts
        self._build = build
        self._built: dict[int, Step] = {}

    def __getitem__(self, start: int) -> Step:
        if start not in self._built:
            if start not in self._starts:
                raise KeyError(start)
            self._built[start] = self._build(start)
        return self._built[start]

    def __contains__(self, start: object) -> bool:
        return start in self._starts

    def __iter__(self) -> Iterator[int]:
        return iter(self._starts)

    def __len__(self) -> int:
        return len(self._starts)


def _schema_from_bytes(data: bytes, where: str, memo: ParseMemo | None = None) -> Schema:
    """A schema file's bytes parsed; errors name the file, and the line and column of bad JSON.

    ``memo``: what the subject's other versions proved (:class:`ParseMemo`), shared by one subject's files.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SchemaError([Problem(where, "not UTF-8 text; save the schema as UTF-8 JSON")]) from None
    if memo is not None:
        known = memo.known_text(text, where)  # fields seen in earlier versions are not read again
        if known is not None:
            return known
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as err:
        raise SchemaError(
            [Problem(where, f"not valid JSON at line {err.lineno}, column {err.colno}: {err.msg}")]
        ) from None
    except RecursionError:
        raise SchemaError([Problem(where, too_deep())]) from None
    return parse_schema(parsed, where, memo, text=text if memo is not None else None)


def _load_subject(
    folder: Path,
    root: Path,
    problems: list[Problem],
    *,
    files: SubjectFiles | None = None,
    verified: SubjectFiles | None = None,
    cached_config: Any = None,
    read_config: list[Any] | None = None,
) -> Subject | None:
    """Load one subject, adding its problems; None when it has any.

    ``files``: the digests the content is checked under (a file that reads otherwise changed meanwhile and is a
    problem, so a verdict is never stored for content other than what was checked). ``verified``: those files
    were checked clean before; versions are parsed on first use and nothing is checked again; ``cached_config``, when
    given, is their ``subject.yaml`` as read then. ``read_config`` receives the ``subject.yaml`` document read.
    """
    name = folder.name
    known = verified or files
    digests = known.digests if known is not None else None
    contents = files.contents if files is not None else {}

    def read(path: Path) -> bytes:
        data = contents.get(path.name)
        if data is not None:
            return data  # the very bytes hashed into ``files``: nothing to compare
        data = path.read_bytes()
        if digests is not None and file_digest(data) != digests.get(path.name):
            raise OSError(0, "changed while the registry was being checked; check it again")
        return data

    rel = lambda p: str(p.relative_to(root.parent)) if root.parent in p.parents else str(p)  # noqa: E731
    in_folder = rel(folder)
    rel_file = lambda file_name: f"{in_folder}/{file_name}"  # noqa: E731  # rel(folder / file_name), no Path made
    config_path = folder / SUBJECT_FILE
    before = len(problems)
    config: dict[str, Any] = {}
    if verified is not None and isinstance(cached_config, dict):
        config = cached_config  # the document of these very bytes, as read when they were checked
    elif not config_path.is_file():
        problems.append(Problem(rel(config_path), "missing; every subject folder needs a subject.yaml"))
    else:
        try:
            loaded = yaml.load(read(config_path), Loader=_YAML_LOADER)  # _YAML_LOADER is a safe loader
        except OSError as err:
            problems.append(Problem(rel(config_path), f"cannot read the file: {err.strerror}"))
            loaded = {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f"{rel(config_path)}:{mark.line + 1}" if mark else rel(config_path)
            problems.append(Problem(where, f"not valid YAML: {getattr(err, 'problem', err)}"))
            loaded = {}
        hostile = document_problem(loaded)
        if hostile:  # an alias bomb or deep nesting: refused before anything walks or prints it
            problems.append(Problem(rel(config_path), hostile))
            loaded = {}
        if loaded is not None and not isinstance(loaded, dict):
            problems.append(Problem(rel(config_path), "must be a mapping of keys (compatibility, table, steps)"))
        else:
            config = loaded or {}
    if read_config is not None:
        read_config.append(config)
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
    version_files: dict[int, str] = {}
    memo = ParseMemo()  # consecutive versions share most fields: each distinct field is checked once
    listed = sorted(verified.digests) if verified is not None else sorted(p.name for p in folder.glob("*.avsc"))
    numbered: list[tuple[str, int | None]] = []  # (file name, its version or None), in the listing's order
    for file_name in listed:
        if not file_name.endswith(".avsc"):
            continue
        match = VERSION_FILE.match(file_name)
        numbered.append((file_name, int(match.group(1)) if match and int(match.group(1)) >= 1 else None))
    read_as: dict[str, Schema | list[Problem]] = {}
    if verified is None:
        # Read in version order (v2 after v1, not after v19): each version is then matched against the one before
        # it, which it differs from least. What each file gives is reported below in the listing's order.
        for file_name, _ in sorted((e for e in numbered if e[1] is not None), key=lambda e: e[1] or 0):
            data = contents.get(file_name)  # the very bytes hashed into ``files``: nothing to compare
            try:
                if data is None:
                    data = read(folder / file_name)
                read_as[file_name] = _schema_from_bytes(data, rel_file(file_name), memo)
            except OSError as err:
                read_as[file_name] = [Problem(rel_file(file_name), f"cannot read the file: {err.strerror}")]
            except SchemaError as err:
                read_as[file_name] = err.problems
    for file_name, number in numbered:
        if number is None:
            problems.append(Problem(rel(folder / file_name), "schema files are named v<N>.avsc with N = 1, 2, 3, ..."))
            continue
        version_files[number] = file_name
        if verified is not None:
            continue  # checked clean before: parsed on first use (no path made for it until then)
        got = read_as[file_name]
        if isinstance(got, list):
            problems.extend(got)
            schemas[number] = None  # type: ignore[assignment]  # a hole, checked below
        else:
            schemas[number] = got
    if verified is not None:
        assert digests is not None
        lazy = _VersionFiles(folder, rel, version_files, digests)
        raw_steps = config.get("steps")

        def build(start: int) -> Step:
            found: list[Problem] = []
            built = _load_steps(raw_steps, lazy, folder, rel(config_path), found, only=start)
            if found or start not in built:
                raise RegistryError(found or [Problem(rel(config_path), f"no step from v{start}")])
            return built[start]

        starts = sorted(v for v in version_files if v + 1 in version_files)
        description = str(config.get("description", ""))
        if len(problems) > before:
            return None
        return Subject(name, folder, mode, str(table), description, lazy, _LazySteps(starts, build), checked=True)
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
    subject.checked = True
    numbers = subject.versions
    for index in range(1, len(numbers)):
        version, earlier = numbers[index], numbers[:index]
        result = subject._checker.check(
            schemas[version],
            list(map(schemas.__getitem__, earlier)),
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
    raw: Any,
    schemas: Mapping[int, Schema],
    folder: Path,
    where: str,
    problems: list[Problem],
    only: int | None = None,
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
    for start in sorted(v for v in schemas if v + 1 in schemas and (only is None or v == only)):
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
        problems.extend(Problem(at, message) for message in call_problems(step))
        steps[start] = step
    return steps


def _read_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_YAML_LOADER)  # _YAML_LOADER is a safe loader


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
