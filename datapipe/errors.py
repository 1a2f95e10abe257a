"""Errors datapipe raises for people to read.

Each error says what is wrong, where (config file, key path, line, table, column) and what to do. The CLI turns
a :class:`DatapipeError` into a message and an exit code (2 for bad input, 1 for a refused operation), never a
traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class DatapipeError(Exception):
    """Base class of every error datapipe raises for a user mistake or a refused operation."""

    exit_code = 2
    """The CLI's exit code for this error: 2 bad input, 1 the operation was refused on its merits."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a config file: where it is and what is wrong."""

    key: str
    """The key path inside the config, e.g. ``tables[1].load_mode``."""
    message: str
    """What is wrong and how to fix it."""
    line: int | None = None
    """The 1-based line in the config file, when known."""

    def render(self, file: str) -> str:
        """The problem as one line: ``file:line: key: message``."""
        where = f"{file}:{self.line}" if self.line is not None else file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(DatapipeError):
    """A config file is not valid; :attr:`problems` lists every problem found, not just the first."""

    def __init__(self, file: str, problems: Sequence[ConfigProblem]) -> None:
        self.file = file
        self.problems = list(problems)
        count = len(self.problems)
        header = f"{file} has {count} problem{'s' if count != 1 else ''}:"
        super().__init__("\n".join([header, *(f"  - {p.render(file)}" for p in self.problems)]))


@dataclass(frozen=True)
class MissingVariable:
    """A ``${VAR}`` reference whose environment variable is not set."""

    variable: str
    key: str
    """The config key that refers to it, e.g. ``source.password``."""


class MissingVariableError(DatapipeError):
    """Environment variables referenced as ``${VAR}`` in the config are not set."""

    def __init__(self, file: str, missing: Sequence[MissingVariable]) -> None:
        self.file = file
        self.missing = list(missing)
        lines = [f"  - ${{{m.variable}}} (referenced by {m.key})" for m in self.missing]
        names = " ".join(f"{m.variable}=..." for m in self.missing)
        super().__init__(
            "\n".join(
                [
                    f"{file}: environment variables are not set:",
                    *lines,
                    f"set them before running datapipe, e.g. `export {names}`",
                ]
            )
        )


class SourceError(DatapipeError):
    """The source database could not be reached or read."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"cannot read the source database {url}: {reason}\n"
            "check the source section of the config and the environment variables it references"
        )


class UnknownTableError(DatapipeError):
    """A table that the config or the source database does not hold."""

    def __init__(self, table: str, where: str, known: Sequence[str], hint: str = "") -> None:
        self.table = table
        self.where = where
        self.known = list(known)
        listed = ", ".join(self.known) if self.known else "none"
        message = f"table {table!r} is not in {where}; it holds: {listed}"
        super().__init__(f"{message}\n{hint}" if hint else message)


class UnknownColumnError(DatapipeError):
    """A column named in the config that the reflected table does not have."""

    def __init__(self, key: str, column: str, table: str, known: Sequence[str]) -> None:
        self.key = key
        self.column = column
        self.table = table
        self.known = list(known)
        super().__init__(
            f"{key}: column {column!r} is not in table {table!r}; its columns are: {', '.join(self.known)}"
        )


@dataclass(frozen=True)
class UnsupportedColumn:
    """A column whose database type has no lossless Avro mapping."""

    column: str
    type_name: str
    reason: str


class UnsupportedTypeError(DatapipeError):
    """Columns of a table have types datapipe cannot map without losing data."""

    def __init__(self, table: str, columns: Sequence[UnsupportedColumn]) -> None:
        self.table = table
        self.columns = list(columns)
        lines = [f"  - {table}.{c.column} ({c.type_name}): {c.reason}" for c in self.columns]
        super().__init__(
            "\n".join(
                [
                    f"table {table!r} has columns datapipe cannot map to Avro:",
                    *lines,
                    "exclude them through a view that casts them to a supported type, and name the view in "
                    "tables[].name",
                ]
            )
        )


class MissingSchemaError(DatapipeError):
    """A DAG was asked for a table whose schema has not been generated yet."""

    def __init__(self, table: str, path: str, config: str) -> None:
        self.table = table
        self.path = path
        super().__init__(
            f"no schema for table {table!r} at {path}; generate it first: "
            f"`datapipe generate schema {table} --config {config}`"
        )


class UnsupportedTargetError(DatapipeError):
    """The destination cloud has no DAG generator yet."""

    def __init__(self, cloud: str, warehouse: str, supported: Sequence[str], at: str = "dag") -> None:
        self.cloud = cloud
        self.warehouse = warehouse
        if at == "init":
            message = (
                f"--cloud {cloud} ({warehouse}) is not supported: datapipe generates pipelines into BigQuery only "
                f"(supported clouds: {', '.join(supported)}); nothing was created"
            )
        else:
            message = (
                f"destination.cloud {cloud!r} ({warehouse}): DAG generation is not supported yet; "
                f"supported clouds: {', '.join(supported)}. Schemas (`datapipe generate schema`) work for every "
                "cloud."
            )
        super().__init__(message)


class ProjectExistsError(DatapipeError):
    """``datapipe init`` refuses to overwrite an existing project."""

    exit_code = 1

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"{path} already exists; choose another name or remove it first")


class IncompatibleVersionError(DatapipeError):
    """The registry refused the table's new schema version under the subject's compatibility mode."""

    exit_code = 1

    def __init__(self, subject: str, mode: str, incompatibilities: Sequence[str]) -> None:
        self.subject = subject
        self.mode = mode
        self.incompatibilities = list(incompatibilities)
        super().__init__(
            "\n".join(
                [
                    f"the table's new schema is not {mode}-compatible with subject {subject!r}; nothing was "
                    "written:",
                    *(f"  - {i}" for i in self.incompatibilities),
                    "make the change compatible (e.g. a nullable column with a default), or pass --force to "
                    "record it anyway",
                ]
            )
        )


class InvalidIntervalError(DatapipeError):
    """The extractor was given an interval it cannot use."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ValueOverflowError(DatapipeError):
    """A source value that the column's Avro type cannot hold exactly; the extraction stops and writes nothing."""

    exit_code = 1

    def __init__(self, table: str, column: str, reason: str) -> None:
        self.table = table
        self.column = column
        self.reason = reason
        super().__init__(
            f"table {table!r}, column {column!r}: {reason}; nothing was written. Run `datapipe generate schema "
            f"{table}` if the column was widened in the source, or expose the table through a view that casts "
            "the column to a type that holds its values, and name the view in tables[].name"
        )


class OutputError(DatapipeError):
    """The extractor's output location is not supported or cannot be reached."""

    def __init__(self, output: str, reason: str) -> None:
        self.output = output
        self.reason = reason
        super().__init__(f"cannot write to --output {output}: {reason}")


class PartitionColumnTypeError(DatapipeError):
    """A partition column that is not a date or timestamp: no data interval can select rows by it."""

    def __init__(self, table: str, column: str, type_name: str, candidates: Sequence[str]) -> None:
        self.table = table
        self.column = column
        listed = ", ".join(candidates) if candidates else "none"
        super().__init__(
            f"tables[{table}].partition_column: column {column!r} is {type_name}, not a date or timestamp, so no "
            f"data interval can select its rows; choose a date or timestamp column (in this table: {listed})"
        )
