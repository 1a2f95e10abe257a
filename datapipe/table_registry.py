"""One table's subject in the project's registry, read and changed without depending on the other subjects.

The project's ``registry/`` is a versioning registry (one subject per table). datapipe reads and changes one
subject at a time through a private copy of it, so a problem in another table's subject never stops this table's
commands, and a change is moved into place only once the changed subject loads cleanly: a failed or refused
change leaves the registry as it was.

A forced version (``generate schema --force``) breaks the subject's compatibility mode, which the registry would
refuse to load. datapipe records it as an exception instead: the subject's ``subject.yaml`` says
``compatibility: NONE`` (so the registry loads, for every tool), and ``registry/_exceptions/<table>.yaml`` keeps
the mode the subject is meant to follow and every forced version with its incompatibilities. Later versions are
still checked under that recorded mode, against the version before them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from versioning import Compatibility, CompatibilityResult, IncompatibleSchemaError, Registry

EXCEPTIONS_DIR = "_exceptions"
"""``registry/_exceptions/``: forced versions per table (the registry loader skips ``_`` folders)."""
_STAGING_PREFIX = "_staging-"
SUBJECT_FILE = "subject.yaml"


@dataclass(frozen=True)
class SubjectHistory:
    """A table's subject: its mode and every version's Avro schema."""

    name: str
    compatibility: Compatibility
    """The mode versions are checked under (the recorded one, for a subject with forced versions)."""
    schemas: dict[int, dict[str, Any]]
    forced: list[int] = field(default_factory=list)
    """Versions recorded with ``--force`` although they break :attr:`compatibility`."""

    @property
    def latest(self) -> int:
        return max(self.schemas)


@dataclass(frozen=True)
class AddedVersion:
    """The outcome of :func:`add_version`."""

    version: int
    verdict: CompatibilityResult
    forced: bool
    """True when the version breaks the subject's mode and was recorded as an exception."""


def exceptions_file(registry_dir: Path, name: str) -> Path:
    """``registry/_exceptions/<name>.yaml``."""
    return registry_dir / EXCEPTIONS_DIR / f"{name}.yaml"


def read_subject(registry_dir: Path, name: str) -> SubjectHistory | None:
    """The subject ``name`` of the registry, checked on its own; ``None`` when the table has no subject yet.
    Raises :class:`versioning.RegistryError` (naming ``registry/<name>/...`` files) when it does not load."""
    folder = registry_dir / name
    if not folder.is_dir():
        return None
    with tempfile.TemporaryDirectory(prefix="datapipe-registry-") as scratch:
        root = Path(scratch) / registry_dir.name
        root.mkdir()
        shutil.copytree(folder, root / name)
        subject = Registry.load(root).subject(name)
        schemas = {v: subject.schema(v) for v in subject.versions}
    recorded = _read_exceptions(registry_dir, name)
    mode = Compatibility.parse(recorded["compatibility"]) if recorded else subject.compatibility
    forced = [int(entry["version"]) for entry in (recorded or {}).get("forced", [])]
    return SubjectHistory(name, mode, schemas, forced)


def add_version(
    registry_dir: Path, name: str, schema: dict[str, Any], *, force: bool = False, table: str | None = None
) -> AddedVersion:
    """Record ``schema`` as the next version of subject ``name`` (created if new).

    An incompatible version raises :class:`versioning.IncompatibleSchemaError` and changes nothing, unless
    ``force``: then it is recorded as an exception (see the module docstring). Every file is written in a private
    copy first and moved into place only when the subject loads."""
    registry_dir.mkdir(parents=True, exist_ok=True)
    current = read_subject(registry_dir, name)
    verdict = CompatibilityResult()
    if current is not None:
        verdict = _check(name, current.compatibility, current.schemas[current.latest], schema)
        if not verdict.compatible and not force:
            raise IncompatibleSchemaError(name, current.latest + 1, verdict)
    forced = not verdict.compatible
    staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=registry_dir))
    try:
        root = staging / registry_dir.name
        root.mkdir()
        folder = registry_dir / name
        if folder.is_dir():
            shutil.copytree(folder, root / name)
        if forced or (current is not None and current.forced):
            # The registry checks every version under subject.yaml's mode; the recorded mode lives beside it.
            _set_mode(root / name / SUBJECT_FILE, Compatibility.NONE)
        version, _ = Registry.load(root).add_version(name, schema, table=table)
        Registry.load(root)  # the changed subject loads: only now does it replace the registry's
        if folder.is_dir():
            os.replace(folder, staging / "previous")
        os.replace(root / name, folder)
        if forced:
            assert current is not None
            _record_exception(registry_dir, name, current.compatibility, version, verdict)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return AddedVersion(version, verdict, forced)


def _check(name: str, mode: Compatibility, latest: dict[str, Any], new: dict[str, Any]) -> CompatibilityResult:
    # The registry's own check, under ``mode``, in a scratch registry holding the latest version only.
    with tempfile.TemporaryDirectory(prefix="datapipe-check-") as scratch:
        registry = Registry.load(scratch)
        registry.add_version(name, latest, mode)
        try:
            return registry.add_version(name, new)[1]
        except IncompatibleSchemaError as error:
            return error.result


def _set_mode(path: Path, mode: Compatibility) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    document["compatibility"] = mode.value
    _write_atomically(path, yaml.safe_dump(document, sort_keys=False))


def _read_exceptions(registry_dir: Path, name: str) -> dict[str, Any] | None:
    path = exceptions_file(registry_dir, name)
    if not path.is_file():
        return None
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else None


def _record_exception(
    registry_dir: Path, name: str, mode: Compatibility, version: int, verdict: CompatibilityResult
) -> None:
    document = _read_exceptions(registry_dir, name) or {
        "subject": name,
        "compatibility": mode.value,
        "note": "subject.yaml says NONE so that the registry loads; datapipe checks new versions under this mode",
        "forced": [],
    }
    document["forced"].append({"version": version, "incompatibilities": [str(i) for i in verdict.incompatibilities]})
    path = exceptions_file(registry_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
