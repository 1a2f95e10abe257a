"""Connecting to the source database: ``${VAR}`` expansion and the SQLAlchemy URL, built only here.

The config keeps ``${VAR}`` references verbatim; this module reads the environment at connection time, reports
every missing variable at once, and renders URLs for messages with the password hidden.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import URL, Engine, create_engine, event

from datapipe.config import VARIABLE_REFERENCE, Project, SourceKind, SourceSettings
from datapipe.errors import ConfigError, ConfigProblem, MissingVariable, MissingVariableError

# The source fields that may hold ${VAR} references, in the order they are reported.
_EXPANDED_FIELDS = ("host", "port", "database", "service_name", "username", "password", "schema_name")
_CONFIG_KEYS = {"schema_name": "schema"}


def expand_source(
    source: SourceSettings, config_file: str, environ: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """The source's fields with every ``${VAR}`` replaced by its value; raises if any variable is unset."""
    env = os.environ if environ is None else environ
    values: dict[str, str | None] = {}
    missing: list[MissingVariable] = []
    for field in _EXPANDED_FIELDS:
        raw = getattr(source, field)
        if raw is None:
            values[field] = None
            continue
        text = str(raw)
        key = f"source.{_CONFIG_KEYS.get(field, field)}"
        for name in VARIABLE_REFERENCE.findall(text):
            if name not in env:
                missing.append(MissingVariable(name, key))
        values[field] = VARIABLE_REFERENCE.sub(lambda m: env.get(m.group(1), ""), text)
    if missing:
        raise MissingVariableError(config_file, missing)
    return values


def source_url(project: Project, environ: Mapping[str, str] | None = None) -> URL:
    """The SQLAlchemy URL of the project's source, with the environment's values filled in."""
    source = project.config.source
    values = expand_source(source, str(project.config_path), environ)
    database = values["database"]
    if source.kind is SourceKind.SQLITE and database is not None and database != ":memory:":
        path = Path(database)
        database = str(path if path.is_absolute() else (project.root / path))
    query = {"service_name": values["service_name"]} if values["service_name"] else {}
    port = values["port"]
    try:
        port_number = int(port) if port else None
    except ValueError:
        raise ConfigError(
            str(project.config_path), [ConfigProblem("source.port", f"must be a port number, got {port!r}")]
        ) from None
    return URL.create(
        source.drivername,
        username=values["username"] or None,
        password=values["password"] or None,
        host=values["host"] or None,
        port=port_number,
        database=database or None,
        query=query,
    )


def source_schema(project: Project, environ: Mapping[str, str] | None = None) -> str | None:
    """The schema (Oracle: owner) that holds the tables, expanded; ``None`` for the connection's default."""
    return expand_source(project.config.source, str(project.config_path), environ)["schema_name"] or None


CONNECT_TIMEOUT_SECONDS = 30
"""How long connecting to the source may take before it is reported as unreachable."""


def connect(project: Project, environ: Mapping[str, str] | None = None) -> Engine:
    """An engine for the project's source database, every session pinned to UTC. Connection errors surface on
    first use.

    Pinning the session's time zone makes values that depend on it (MySQL ``TIMESTAMP``, Oracle ``TIMESTAMP WITH
    LOCAL TIME ZONE``, PostgreSQL ``timestamptz`` rendered by the server) the same whatever the server's default.
    Oracle connections also get :func:`datapipe.oracle_types.output_type_handler`, so numbers arrive exact.
    """
    url = source_url(project, environ)
    return engine_for(url)


def engine_for(url: URL) -> Engine:
    """An engine on ``url`` with the session set-up of :func:`connect` (time zone, Oracle type handlers)."""
    backend = url.get_backend_name()
    connect_args: dict[str, object] = {}
    if backend == "postgresql":
        connect_args = {"options": "-c timezone=UTC", "connect_timeout": CONNECT_TIMEOUT_SECONDS}
    elif backend in ("mysql", "mariadb"):
        connect_args = {"init_command": "SET time_zone = '+00:00'", "connect_timeout": CONNECT_TIMEOUT_SECONDS}
    elif backend == "oracle":
        connect_args = {"tcp_connect_timeout": CONNECT_TIMEOUT_SECONDS}
    engine = create_engine(url, connect_args=connect_args)
    if backend == "oracle":
        event.listen(engine, "connect", _set_up_oracle_session)
    return engine


def _set_up_oracle_session(dbapi_connection: object, _record: object) -> None:
    from datapipe.oracle_types import SESSION_SETUP, output_type_handler

    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    try:
        for statement in SESSION_SETUP:
            cursor.execute(statement)
    finally:
        cursor.close()
    dbapi_connection.outputtypehandler = output_type_handler  # type: ignore[attr-defined]


def shown(url: URL) -> str:
    """A URL for messages and logs: the password is never shown."""
    return url.render_as_string(hide_password=True)
