"""The migration project's ``config.yaml``: a typed model, parsed once at the edge.

Credentials appear in the config only as ``${ENV_VAR}`` references. They stay verbatim in the model; they are
expanded only when connecting (see :mod:`datapipe.source`), so no secret value is ever held by the config,
written into a generated file or printed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from datapipe.errors import ConfigError, ConfigProblem
from versioning.input_limits import document_problem

VARIABLE_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""A ``${VAR}`` reference to an environment variable."""

_ONLY_A_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


class Cloud(StrEnum):
    """Where the warehouse lives."""

    GCP = "gcp"
    """Google Cloud: BigQuery, staged through Cloud Storage."""
    AWS = "aws"
    """Amazon Web Services: Redshift, staged through S3."""
    AZURE = "azure"
    """Microsoft Azure: Synapse, staged through Blob Storage."""


WAREHOUSES: dict[Cloud, str] = {Cloud.GCP: "BigQuery", Cloud.AWS: "Redshift", Cloud.AZURE: "Azure Synapse"}
"""The warehouse of each cloud."""


class LoadMode(StrEnum):
    """How a table's rows reach the warehouse on each run."""

    FULL = "full"
    """Every run reads the whole table and replaces the warehouse table."""
    INCREMENTAL = "incremental"
    """Every run reads one data interval of the partition column and merges it on the primary keys."""


class SourceKind(StrEnum):
    """The operational database a migration reads from."""

    ORACLE = "oracle"
    """Oracle Database through python-oracledb (``oracle+oracledb``)."""
    POSTGRESQL = "postgresql"
    """PostgreSQL through psycopg 3 (``postgresql+psycopg``)."""
    MYSQL = "mysql"
    """MySQL through PyMySQL (``mysql+pymysql``)."""
    MARIADB = "mariadb"
    """MariaDB through PyMySQL (``mariadb+pymysql``)."""
    SQLITE = "sqlite"
    """A SQLite file; ``database`` is its path, relative to the config file."""


DEFAULT_DRIVERS: dict[SourceKind, str] = {
    SourceKind.ORACLE: "oracle+oracledb",
    SourceKind.POSTGRESQL: "postgresql+psycopg",
    SourceKind.MYSQL: "mysql+pymysql",
    SourceKind.MARIADB: "mariadb+pymysql",
    SourceKind.SQLITE: "sqlite",
}


class UnconstrainedNumber(StrEnum):
    """What a number column without declared precision (Oracle bare ``NUMBER``, PostgreSQL ``numeric``) becomes.

    Such a column can hold up to 38 significant digits at any magnitude (Oracle: 1e-130 to 1e126), which no
    fixed-scale decimal holds. The default keeps every value exactly, as text.
    """

    STRING = "string"
    """Avro ``string`` / BigQuery ``STRING`` holding the exact decimal text. Lossless (the default)."""
    BIGNUMERIC = "bignumeric"
    """Avro ``decimal(76, 38)`` / BigQuery ``BIGNUMERIC``: exact up to 38 integer and 38 fractional digits."""
    DOUBLE = "double"
    """Avro ``double`` / BigQuery ``FLOAT64``: any magnitude, about 15 significant digits (lossy)."""


class _Model(BaseModel):
    # Unknown keys are mistakes (usually typos), reported with their key path.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectSettings(_Model):
    """What the migration is called and where it runs."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    """The project's name: lower case letters, digits and dashes (used in DAG ids and storage paths)."""
    environment: str = "dev"
    """The environment the DAGs run in (``dev``, ``prod``, ...); tags the DAGs."""


def _reject_literal_secret(value: str | None, what: str) -> str | None:
    if value is not None and not _ONLY_A_REFERENCE.match(value):
        raise ValueError(
            f"the {what} must be an environment variable reference like ${{SOURCE_{what.upper()}}}, never the "
            "value itself; put the value in the environment (or a Kubernetes Secret) and write its name here"
        )
    return value


class SourceSettings(_Model):
    """The operational database. Any string may contain ``${VAR}`` references; credentials must be one."""

    kind: SourceKind
    driver: str | None = None
    """SQLAlchemy driver name; defaults to the kind's (e.g. ``oracle+oracledb``)."""
    host: str | None = None
    port: int | str | None = None
    database: str | None = None
    """Database name (SQLite: the file path, relative to the config file)."""
    service_name: str | None = None
    """Oracle only: the service name to connect to."""
    username: str | None = None
    password: str | None = None
    schema_name: str | None = Field(default=None, alias="schema")
    """The schema (Oracle: owner) that holds the tables; the connection's default when omitted."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("username")
    @classmethod
    def _username_is_reference(cls, value: str | None) -> str | None:
        return _reject_literal_secret(value, "username")

    @field_validator("password")
    @classmethod
    def _password_is_reference(cls, value: str | None) -> str | None:
        return _reject_literal_secret(value, "password")

    @model_validator(mode="after")
    def _fields_fit_the_kind(self) -> SourceSettings:
        if self.kind is SourceKind.SQLITE:
            if not self.database:
                raise ValueError("a sqlite source needs `database`: the path of the SQLite file")
        elif not self.host:
            raise ValueError(f"a {self.kind} source needs `host`")
        if self.service_name is not None and self.kind is not SourceKind.ORACLE:
            raise ValueError("`service_name` is for oracle sources only; use `database`")
        return self

    @property
    def drivername(self) -> str:
        """The SQLAlchemy driver name used to connect."""
        return self.driver or DEFAULT_DRIVERS[self.kind]


class GcpDestination(_Model):
    """BigQuery, loaded from Avro files staged in a Cloud Storage bucket."""

    cloud: Literal[Cloud.GCP]
    project_id: str
    """The Google Cloud project that holds the dataset."""
    dataset: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    """The BigQuery dataset the tables load into, e.g. ``raw_ventas``."""
    staging_bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$")
    """The Cloud Storage bucket (name only, no ``gs://``) where extracted Avro files are staged."""
    location: str = "US"
    """The BigQuery location of the dataset, e.g. ``US``, ``EU``, ``southamerica-east1``."""


class AwsDestination(_Model):
    """Redshift, loaded from Avro files staged in S3."""

    cloud: Literal[Cloud.AWS]
    region: str
    database: str
    schema_name: str = Field(alias="schema")
    staging_bucket: str
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AzureDestination(_Model):
    """Azure Synapse, loaded from Avro files staged in Blob Storage."""

    cloud: Literal[Cloud.AZURE]
    storage_account: str
    container: str
    database: str
    schema_name: str = Field(alias="schema")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Destination = Annotated[GcpDestination | AwsDestination | AzureDestination, Field(discriminator="cloud")]


CRON_PRESETS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
"""The schedule presets datapipe accepts, as the cron expressions Airflow gives them."""

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#LW-]+$")


ResourceName = str
"""``cpu`` or ``memory`` (checked by :class:`ContainerResources`)."""


class ContainerResources(_Model):
    """Kubernetes requests and limits of the extractor container (quantities as Kubernetes writes them)."""

    requests: dict[ResourceName, str] = Field(default_factory=lambda: {"cpu": "500m", "memory": "1Gi"})
    """What the scheduler reserves; default 500m CPU, 1Gi memory (the extractor holds one batch at a time)."""
    limits: dict[ResourceName, str] = Field(default_factory=lambda: {"cpu": "2", "memory": "2Gi"})
    """The most the pod may use; default 2 CPU, 2Gi memory."""

    @field_validator("requests", "limits")
    @classmethod
    def _only_cpu_and_memory(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - {"cpu", "memory"})
        if unknown:
            raise ValueError(f"only cpu and memory are set here, not {', '.join(unknown)}")
        return value


class AirflowSettings(_Model):
    """How the generated DAGs run on the platform."""

    schedule: str = "@daily"
    """The DAGs' schedule: a preset (``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``) or a
    five-field cron expression. Each run reads the data interval from the previous tick to this one."""
    start_date: dt.date
    """The first data interval starts on this date (UTC)."""
    catchup: bool = False
    """Whether Airflow runs the intervals between ``start_date`` and now."""
    queue: str = "default"
    """The Celery queue (the platform's worker pool) extraction runs on; a table may override it."""
    namespace: str = "airflow"
    """The Kubernetes namespace of the extractor pods."""
    extractor_image: str
    """The container image that holds datapipe and this project folder."""
    project_dir: str | None = None
    """This project's folder inside the extractor image; defaults to ``/opt/datapipe/<project.name>``."""
    source_secret: str | None = None
    """The Kubernetes Secret whose keys are the ``${VAR}`` variables of ``source``; defaults to
    ``<project.name>-source``."""
    retries: int = Field(default=2, ge=0)
    service_account: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    """The Kubernetes service account of the extractor pods, bound to a Google service account through Workload
    Identity (write access to the staging bucket); defaults to ``<project.name>-extractor``."""
    extractor_resources: ContainerResources = Field(default_factory=ContainerResources)
    """Requests and limits of the extractor container."""
    staging_expiration_hours: int = Field(default=24, ge=1)
    """Incremental loads: the staging table expires this long after a run's merge starts (BigQuery drops it)."""

    @field_validator("schedule")
    @classmethod
    def _schedule_has_intervals(cls, value: str) -> str:
        text = " ".join(value.split())
        if text.startswith("@"):
            if text not in CRON_PRESETS:
                raise ValueError(
                    f"{value!r} is not a schedule with data intervals; use one of {', '.join(CRON_PRESETS)} or a "
                    "five-field cron expression like '0 3 * * *'"
                )
            return text
        fields = text.split(" ")
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise ValueError(
                f"{value!r} is not a five-field cron expression (minute hour day-of-month month day-of-week), "
                "e.g. '0 3 * * *', nor a preset like @daily"
            )
        return text

    @property
    def cron(self) -> str:
        """The schedule as a cron expression (presets expanded), for the DAGs' cron data-interval timetable."""
        return CRON_PRESETS.get(self.schedule, self.schedule)


class TableSettings(_Model):
    """One table to migrate."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_$#]*$")
    """The table's name in the source, as the users write it (``VENTAS_CABECERA``); matched case-insensitively."""
    load_mode: LoadMode
    partition_column: str | None = None
    """The column whose value selects a data interval (incremental loads; also partitions the warehouse table
    when it is a date or timestamp)."""
    primary_keys: list[str] = Field(default_factory=list)
    """The columns that identify a row; default: the table's reflected primary key."""
    queue: str | None = None
    """The Celery queue for this table's extraction; defaults to ``airflow.queue``."""
    partition_immutable: bool = False
    """Incremental loads: the partition column's value never changes once a row exists (an order date, a
    creation time). The MERGE then reads only the warehouse partitions in the staging rows' range instead of the
    whole table. Leave it false for a last-modified time: an update moves a row to a newer partition, and a MERGE
    limited to recent partitions would miss its older version and insert a duplicate."""
    deleted_column: str | None = None
    """Incremental loads: the source's soft-delete marker, a boolean (true = deleted) or a date/timestamp (set =
    deleted). The MERGE deletes a marked row from the warehouse and never inserts one. Without it, rows deleted
    in the source stay in the warehouse (incremental loads only see rows that still exist)."""

    @model_validator(mode="after")
    def _incremental_needs_partition_column(self) -> TableSettings:
        if self.load_mode is LoadMode.INCREMENTAL and not self.partition_column:
            raise ValueError(
                "an incremental table needs `partition_column`: the column whose value selects each data "
                "interval (e.g. the last-modified timestamp)"
            )
        if self.partition_immutable and self.load_mode is not LoadMode.INCREMENTAL:
            raise ValueError(
                "`partition_immutable` applies to incremental tables (it limits their MERGE); a full load replaces "
                "the table; remove it"
            )
        return self

    @property
    def key(self) -> str:
        """The table's name in lower case: its file names, subject name and warehouse table name."""
        return self.name.lower()


class TypeSettings(_Model):
    """Choices in the type mapping."""

    unconstrained_number: UnconstrainedNumber = UnconstrainedNumber.STRING


class MigrationConfig(_Model):
    """A whole migration project: ``config.yaml``."""

    project: ProjectSettings
    source: SourceSettings
    destination: Destination
    airflow: AirflowSettings
    tables: list[TableSettings] = Field(min_length=1)
    types: TypeSettings = Field(default_factory=TypeSettings)

    @field_validator("tables")
    @classmethod
    def _table_names_unique(cls, tables: list[TableSettings]) -> list[TableSettings]:
        seen: set[str] = set()
        for table in tables:
            if table.key in seen:
                raise ValueError(f"table {table.name!r} is listed twice (names are matched case-insensitively)")
            seen.add(table.key)
        return tables


@dataclass(frozen=True)
class Project:
    """A loaded migration project: its config and the folder that holds it."""

    config: MigrationConfig
    config_path: Path

    @property
    def root(self) -> Path:
        """The project folder: ``schemas/``, ``dags/`` and ``registry/`` live here."""
        return self.config_path.parent

    @property
    def schemas_dir(self) -> Path:
        return self.root / "schemas"

    @property
    def dags_dir(self) -> Path:
        return self.root / "dags"

    @property
    def registry_dir(self) -> Path:
        """The versioning registry of the project's table schemas (one subject per table)."""
        return self.root / "registry"

    def table(self, name: str) -> TableSettings:
        """The table called ``name`` (case-insensitive)."""
        from datapipe.errors import UnknownTableError

        for table in self.config.tables:
            if table.key == name.lower():
                return table
        raise UnknownTableError(
            name,
            f"{self.config_path} (tables[].name)",
            [t.name for t in self.config.tables],
            hint=f"add it to `tables` in {self.config_path}",
        )


def load_project(path: str | Path) -> Project:
    """Read and validate a config file; raise :class:`ConfigError` listing every problem with key and line."""
    config_path = Path(path)
    shown = str(config_path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            shown, [ConfigProblem("", "file not found; create a project with `datapipe init NAME`")]
        ) from None
    except OSError as error:
        raise ConfigError(shown, [ConfigProblem("", f"cannot read: {error.strerror}")]) from None
    except UnicodeDecodeError as error:
        raw = config_path.read_bytes()
        problem = f"not UTF-8 text (byte 0x{raw[error.start]:02x}); save the file as UTF-8"
        raise ConfigError(shown, [ConfigProblem("", problem, raw.count(b"\n", 0, error.start) + 1)]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(error, "problem", None) or str(error)
        raise ConfigError(shown, [ConfigProblem("", f"not valid YAML: {reason}", line)]) from None
    hostile = document_problem(data)  # an alias bomb or deep nesting, refused before validation walks it
    if hostile:
        raise ConfigError(shown, [ConfigProblem("", hostile)])
    if not isinstance(data, dict):
        raise ConfigError(shown, [ConfigProblem("", "expected a mapping with project, source, destination, ...")])
    try:
        config = MigrationConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(shown, [_problem(e, node) for e in error.errors()]) from None
    return Project(config=config, config_path=config_path)


def key_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as a key path: ``tables[1].load_mode``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _problem(error: Any, root: yaml.Node | None) -> ConfigProblem:
    # Discriminated unions add the tag (e.g. "gcp") to the location; it is not a key the user wrote.
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p in {c.value for c in Cloud}))
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key; remove it or check its spelling (see docs/datapipe.md for the keys)"
    elif error["type"] == "missing":
        message = "required key is missing"
    elif error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc = (*loc, "cloud")
        message = "must be one of 'gcp', 'aws', 'azure'"
    return ConfigProblem(key_path(loc), message, _line_of(root, loc))


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    # Walk the YAML node tree along the error's path; the deepest node found gives the line.
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if match is None:
                return line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return line
        line = node.start_mark.line + 1
    return line
