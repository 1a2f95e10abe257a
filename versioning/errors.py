"""Errors raised by the versioning library.

Every error is for a person to read: it says what is wrong, where (file, version, field path, line) and,
where there is one, what to do about it. The CLI turns a :class:`VersioningError` into a message and an exit
code, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class VersioningError(Exception):
    """Base class of every error the versioning library raises for bad input."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a registry, a schema or a file: where it is and what is wrong."""

    where: str
    """The file, and inside it the JSON pointer or key path, e.g. ``users/v2.avsc#/fields/3/default``."""
    message: str
    """What is wrong and how to fix it."""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class SchemaError(VersioningError):
    """A schema is malformed: not JSON, not Avro, or a default that does not match its type."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class RegistryError(VersioningError):
    """A registry folder failed to load; :attr:`problems` lists every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        header = f"the schema registry has {count} problem{'s' if count != 1 else ''}:"
        super().__init__("\n".join([header, *(f"  - {p}" for p in self.problems)]))


class UnknownSubjectError(VersioningError):
    """A subject name that the registry does not hold."""

    def __init__(self, subject: str, known: list[str]) -> None:
        self.subject = subject
        self.known = known
        listed = ", ".join(known) if known else "none"
        super().__init__(f"unknown subject {subject!r}; the registry holds: {listed}")


class UnknownVersionError(VersioningError):
    """A version number that a subject does not have."""

    def __init__(self, subject: str, version: object, known: list[int]) -> None:
        self.subject = subject
        self.version = version
        self.known = known
        listed = ", ".join(str(v) for v in known)
        super().__init__(f"subject {subject!r} has no version {version!r}; known versions: {listed}")


class StepError(VersioningError):
    """An upgrade or downgrade step failed on a record (e.g. a callable step raised, or a value cannot move)."""
