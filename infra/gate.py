"""The pre-deploy gate: may traffic move from the live colour to the candidate colour?

Each release declares the version of every schema subject it reads and writes. When ``activeColor`` would
move traffic, every subject both releases use is checked with the versioning library under the subject's
compatibility mode, from the live version to the candidate's (a rollback is the same check in its own
direction). Any incompatibility refuses the whole flip, listing all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi

from infra.config import Color, StackConfig
from infra.errors import ConfigProblem
from versioning import Registry, RegistryError, VersioningError


@dataclass(frozen=True)
class FlipIncompatibility:
    """One reason the candidate cannot take over: subject, versions, kind, location and message."""

    subject: str
    live_version: int
    candidate_version: int
    compatibility: str
    kind: str
    location: str
    message: str

    def __str__(self) -> str:
        where = self.location or "/"
        return (
            f"{self.subject} v{self.live_version} -> v{self.candidate_version} ({self.compatibility}): "
            f"{self.kind} at {where}: {self.message}"
        )


class FlipRefused(pulumi.RunError):
    """The candidate colour's schemas are incompatible with the live colour's; nothing was changed."""

    def __init__(self, live: Color, candidate: Color, incompatibilities: list[FlipIncompatibility]) -> None:
        self.live = live
        self.candidate = candidate
        self.incompatibilities = list(incompatibilities)
        count = len(self.incompatibilities)
        lines = [
            f"refusing to move traffic from {live.value} (live) to {candidate.value}: "
            f"{count} schema incompatibilit{'ies' if count != 1 else 'y'}:",
            *(f"  - {item}" for item in self.incompatibilities),
            f"Nothing was changed. Keep {live.value} active (`pulumi config set activeColor {live.value}`), "
            f"or declare schema versions in releases.{candidate.value}.schemas that are compatible with "
            f"releases.{live.value}.schemas (add a compatible schema version to the registry).",
        ]
        super().__init__("\n".join(lines))


class AirflowVersionRefused(pulumi.RunError):
    """The colours would run different Airflow versions while one is live, on one shared metadata database."""

    def __init__(self, live: Color, live_version: str, other: Color, other_version: str) -> None:
        self.live, self.live_version, self.other, self.other_version = live, live_version, other, other_version
        super().__init__(
            f"refusing to deploy releases.{other.value}.airflowVersion {other_version} beside {live.value} (live) "
            f"on Airflow {live_version}: both colours share one metadata database, so {other.value}'s migration "
            f"Job would run `airflow db migrate` for {other_version} under the live {live_version}, which Airflow "
            f"does not support (and a rollback would need `airflow db downgrade`). Nothing was changed.\n"
            f"Keep releases.{other.value}.airflowVersion at {live_version}, or release {other_version} in a "
            "maintenance window: `pulumi up --config allowAirflowVersionChange=true` (the migration runs while "
            f"{live.value} is live), `pulumi up --config activeColor={other.value}`, then put "
            f"releases.{live.value}.airflowVersion on {other_version} and "
            "`pulumi up --config allowAirflowVersionChange=false`. See docs/deploying.md."
        )


def enforce_airflow_versions(config: StackConfig, live: Color | None) -> None:
    """Raise :class:`AirflowVersionRefused` when a colour is live and the colours' Airflow versions differ.

    Nothing is live (first deployment): nothing runs on the database yet. ``allowAirflowVersionChange``
    acknowledges the shared-database migration.
    """
    if live is None or config.allow_airflow_version_change:
        return
    other = live.other
    live_version = config.releases[live].airflow_version
    other_version = config.releases[other].airflow_version
    if live_version != other_version:
        raise AirflowVersionRefused(live, live_version, other, other_version)


def load_registry(path: Path, subjects: Iterable[str] | None = None) -> Registry:
    """Load the schema registry the gate checks against; a broken registry is a config problem.

    ``subjects``: check only these (the ones the releases name); the rest of the registry is not read.
    """
    return Registry.load(str(path), subjects)


def named_subjects(config: StackConfig) -> list[str]:
    """Every subject either release declares a version of: all the gate ever reads of the registry."""
    return sorted({name for color in Color for name in config.releases[color].schemas})


def registry_problems(path: Path, subjects: Iterable[str] | None = None) -> tuple[Registry | None, list[ConfigProblem]]:
    """The loaded registry, or the problems that kept it from loading (keyed ``schemaRegistry``)."""
    if not path.is_dir():
        return None, [ConfigProblem("schemaRegistry", f"{path} is not a folder; point it at the schema registry")]
    try:
        return load_registry(path, subjects), []
    except RegistryError as error:
        return None, [ConfigProblem("schemaRegistry", f"{path}: {error}")]


def schema_reference_problems(config: StackConfig, registry: Registry) -> list[ConfigProblem]:
    """Every ``releases.<colour>.schemas.<subject>`` that names a subject or version the registry lacks."""
    problems = []
    for color in Color:
        for subject_name, version in config.releases[color].schemas.items():
            key = f"releases.{color.value}.schemas.{subject_name}"
            try:
                subject = registry.subject(subject_name)
            except VersioningError as error:
                problems.append(ConfigProblem(key, str(error)))
                continue
            if version not in subject.versions:
                known = ", ".join(str(v) for v in subject.versions)
                problems.append(
                    ConfigProblem(key, f"subject {subject_name!r} has no version {version}; known versions: {known}")
                )
    return problems


def check_flip(
    registry: Registry,
    live_schemas: Mapping[str, int],
    candidate_schemas: Mapping[str, int],
) -> list[FlipIncompatibility]:
    """Every incompatibility between the live release's schema versions and the candidate's.

    Subjects only one side uses are not compared: nothing written under one version is read under another.
    """
    found: list[FlipIncompatibility] = []
    for subject_name in sorted(set(live_schemas) & set(candidate_schemas)):
        live_version, candidate_version = live_schemas[subject_name], candidate_schemas[subject_name]
        if live_version == candidate_version:
            continue
        mode = str(registry.subject(subject_name).compatibility)
        result = registry.check_transition(subject_name, live_version=live_version, candidate_version=candidate_version)
        for item in result.incompatibilities:
            message = item.message
            if item.reader_version is not None and item.writer_version is not None:
                message += f" (reader v{item.reader_version}, writer v{item.writer_version})"
            found.append(
                FlipIncompatibility(
                    subject=subject_name,
                    live_version=live_version,
                    candidate_version=candidate_version,
                    compatibility=mode,
                    kind=str(item.kind),
                    location=str(item.location),
                    message=message,
                )
            )
        if not result.compatible and not result.incompatibilities:
            found.append(
                FlipIncompatibility(
                    subject_name, live_version, candidate_version, mode, "incompatible", "", "not compatible"
                )
            )
    return found


def enforce_flip(registry: Registry, config: StackConfig, live: Color | None) -> None:
    """Raise :class:`FlipRefused` when moving from ``live`` to ``config.active_color`` is incompatible.

    No live colour (first deployment) or no move (live is already active) has nothing to check.
    """
    candidate = config.active_color
    if live is None or live is candidate:
        return
    incompatibilities = check_flip(registry, config.releases[live].schemas, config.releases[candidate].schemas)
    if incompatibilities:
        raise FlipRefused(live, candidate, incompatibilities)
