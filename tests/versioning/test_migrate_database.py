"""``versioning migrate current|upgrade|downgrade --url``: migrations applied to real databases, with a version table.

Each test runs the CLI against SQLite, PostgreSQL and MariaDB, and reads the database back with SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from registry_factory import field, record, write_subject

from versioning.cli import main


@dataclass
class Database:
    url: str
    engine: sa.Engine
    schema: str | None

    def args(self) -> list[str]:
        return ["--url", self.url, *(["--schema", self.schema] if self.schema else [])]

    def name(self, table: str) -> str:
        return f"{self.schema}.{table}" if self.schema else table

    def rows(self, table: str) -> list[dict[str, Any]]:
        found = sa.Table(table, sa.MetaData(), schema=self.schema, autoload_with=self.engine)
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(sa.select(found).order_by(found.c.id))]

    def columns(self, table: str) -> list[str]:
        return [c["name"] for c in sa.inspect(self.engine).get_columns(table, schema=self.schema)]

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.text(sql), params)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "mariadb"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
        return Database(url, sa.create_engine(url), None)
    if request.param == "postgresql":
        engine, schema = request.getfixturevalue("postgres_schema")
        return Database(request.getfixturevalue("postgres_url"), engine, schema)
    engine, schema = request.getfixturevalue("mysql_database")
    return Database(request.getfixturevalue("mysql_url"), engine, schema)


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_should_create_upgrade_and_downgrade_the_users_table_recording_each_version(
    database: Database, users_registry_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = ["--registry", str(users_registry_dir)]
    code, out, _ = cli(capsys, "migrate", "current", "users", *database.args(), *registry)
    assert (code, out) == (1, "users: no version recorded for table 'users'\n")

    code, out, _ = cli(capsys, "migrate", "upgrade", "users", "--to", "1", *database.args(), *registry)
    assert (code, out) == (0, "users: created table 'users' at v1\n")
    database.execute(f"INSERT INTO {database.name('users')} (id, name, created_at) VALUES ('u1', 'Ada', '2024-01-02')")

    code, out, _ = cli(capsys, "migrate", "upgrade", "users", *database.args(), *registry)
    assert code == 0 and out.startswith("users: table 'users' moved from v1 to v3")
    assert database.rows("users") == [
        {
            "id": "u1",
            "name": "Ada",
            "created_at": "2024-01-02",
            "email": None,
            "updated_at": "2024-01-02",
            "phone": None,
        }
    ]
    assert cli(capsys, "migrate", "current", "users", *database.args(), *registry)[:2] == (0, "users: v3 (latest v3)\n")

    code, out, _ = cli(capsys, "migrate", "downgrade", "users", "--to", "1", *database.args(), *registry)
    assert code == 0 and out.startswith("users: table 'users' moved from v3 to v1")
    assert database.rows("users") == [{"id": "u1", "name": "Ada", "created_at": "2024-01-02"}]
    assert cli(capsys, "migrate", "current", "users", *database.args(), *registry)[:2] == (0, "users: v1 (latest v3)\n")

    code, out, _ = cli(capsys, "migrate", "upgrade", "users", "--to", "1", *database.args(), *registry)
    assert (code, out) == (0, "users: table 'users' is already at v1; nothing to do\n")


def test_should_refuse_to_go_the_wrong_way(
    database: Database, users_registry_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = ["--registry", str(users_registry_dir)]
    assert cli(capsys, "migrate", "upgrade", "users", *database.args(), *registry)[0] == 0
    code, _, err = cli(capsys, "migrate", "upgrade", "users", "--to", "1", *database.args(), *registry)
    assert code == 2 and "the table is at v3 and --to is v1; use 'downgrade'" in err
    code, _, err = cli(capsys, "migrate", "downgrade", "users", "--to", "3", *database.args(), *registry)
    assert code == 0  # already there: nothing to do either way


def test_should_ask_the_version_of_an_existing_unrecorded_table_once(
    database: Database, users_registry_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from versioning import Registry
    from versioning.migrations import create_table_sql

    users = Registry.load(users_registry_dir).subject("users")
    with database.engine.begin() as connection:
        sql = create_table_sql(users, 2, database.engine.dialect.name, schema=database.schema)
        connection.exec_driver_sql(sql.strip().removesuffix(";"))
    registry = ["--registry", str(users_registry_dir)]
    code, _, err = cli(capsys, "migrate", "upgrade", "users", *database.args(), *registry)
    assert code == 2 and "exists but its version is not recorded; say which version it is once with --from N" in err
    code, out, _ = cli(capsys, "migrate", "upgrade", "users", "--from", "2", *database.args(), *registry)
    assert code == 0 and out.startswith("users: table 'users' moved from v2 to v3")
    assert "phone" in database.columns("users")
    code, _, err = cli(capsys, "migrate", "downgrade", "users", "--to", "1", "--from", "2", *database.args(), *registry)
    assert code == 2 and "records 'users' at v3, not v2" in err


def test_should_keep_table_and_version_when_the_database_refuses_a_step(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = tmp_path / "registry"
    write_subject(
        registry,
        "counts",
        [record(field("id", "long"), field("n", "int")), record(field("id", "long"), field("n", "long"))],
        steps=[{"from": 1, "to": 2, "upgrade": [{"promote": {"field": "n", "to": "long"}}]}],
        compatibility="NONE",
    )
    args = [*database.args(), "--registry", str(registry)]
    assert cli(capsys, "migrate", "upgrade", "counts", *args)[0] == 0
    database.execute(f"INSERT INTO {database.name('counts')} (id, n) VALUES (1, :n)", n=2**40)
    code, _, err = cli(capsys, "migrate", "downgrade", "counts", "--to", "1", *args)
    assert code == 1 and "n_would_change_as_int" in err
    assert cli(capsys, "migrate", "current", "counts", *args)[1] == "counts: v2 (latest v2)\n"
    assert database.rows("counts") == [{"id": 1, "n": 2**40}]


def test_should_never_show_the_password_of_the_url(
    users_registry_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERSIONING_DATABASE_URL", "postgresql+psycopg://app:s3cret-pw@127.0.0.1:1/app")
    code, out, err = cli(capsys, "migrate", "current", "users", "--registry", str(users_registry_dir))
    assert code == 2
    assert "s3cret-pw" not in out + err
    assert "postgresql+psycopg://app:***@127.0.0.1:1/app" in err


def test_should_refuse_a_malformed_url(users_registry_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "migrate", "current", "users", "--url", "not a url", "--registry", users_registry_dir)
    assert code == 2 and "not a SQLAlchemy URL" in err


def test_should_keep_writing_the_offline_script_as_before(
    users_registry_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = cli(capsys, "migrate", "users", "--from", "1", "--to", "3", "--registry", users_registry_dir)
    new = cli(capsys, "migrate", "sql", "users", "--from", "1", "--to", "3", "--registry", users_registry_dir)
    assert old == new and old[0] == 0 and "ALTER TABLE users ADD COLUMN email" in old[1]


def test_should_record_how_far_a_failed_downgrade_got(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = tmp_path / "registry"
    v1 = record(field("id", "long"), field("n", "int"))
    v2 = record(field("id", "long"), field("n", "long"))
    v3 = record(field("id", "long"), field("n", "long"), field("note", ["null", "string"], default=None))
    steps = [{"from": 1, "to": 2, "upgrade": [{"promote": {"field": "n", "to": "long"}}]}, {"from": 2, "to": 3}]
    write_subject(registry, "counts", [v1, v2, v3], steps=steps, compatibility="NONE")
    args = [*database.args(), "--registry", str(registry)]
    assert cli(capsys, "migrate", "upgrade", "counts", *args)[0] == 0
    database.execute(f"INSERT INTO {database.name('counts')} (id, n) VALUES (1, :n)", n=2**40)
    code, _, err = cli(capsys, "migrate", "downgrade", "counts", "--to", "1", *args)
    assert code == 1 and "n_would_change_as_int" in err
    current = cli(capsys, "migrate", "current", "counts", *args)[1]
    if database.engine.dialect.name in ("postgresql", "sqlite"):
        # One transaction: the v3 -> v2 step is rolled back with the failing one.
        assert current == "counts: v3 (latest v3)\n"
        assert "note" in database.columns("counts")
    else:
        # DDL commits on its own: v3 -> v2 is done, and recorded.
        assert current == "counts: v2 (latest v3)\n"
        assert "note" not in database.columns("counts")
    assert database.rows("counts")[0]["n"] == 2**40


def test_should_report_current_upgrade_and_downgrade_as_json_for_scripts(
    database: Database, users_registry_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    registry = ["--registry", str(users_registry_dir)]
    code, out, _ = cli(capsys, "migrate", "current", "users", "--format", "json", *database.args(), *registry)
    assert code == 1
    assert json.loads(out) == {"subject": "users", "table": "users", "version": None, "latest": 3}

    code, out, _ = cli(capsys, "migrate", "upgrade", "users", "--to", "1", "--json", *database.args(), *registry)
    created = json.loads(out)
    assert code == 0
    assert (created["from_version"], created["to_version"], created["created"]) == (None, 1, True)
    assert len(created["statements"]) == 1 and "CREATE TABLE" in created["statements"][0].upper()

    code, out, _ = cli(capsys, "migrate", "upgrade", "users", "--format", "json", *database.args(), *registry)
    moved = json.loads(out)
    assert code == 0
    assert (moved["from_version"], moved["to_version"], moved["created"]) == (1, 3, False)
    assert moved["statements"] and all(isinstance(s, str) for s in moved["statements"])

    code, out, _ = cli(
        capsys, "migrate", "downgrade", "users", "--to", "2", "--format", "json", *database.args(), *registry
    )
    assert code == 0 and (json.loads(out)["from_version"], json.loads(out)["to_version"]) == (3, 2)

    code, out, _ = cli(capsys, "migrate", "current", "users", "--format", "json", *database.args(), *registry)
    assert code == 0 and json.loads(out) == {"subject": "users", "table": "users", "version": 2, "latest": 3}
