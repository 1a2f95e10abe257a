"""Schema generation: real reflection (SQLite, PostgreSQL, MariaDB), golden files, versions in the registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from datapipe_fixtures import assert_golden, pg_source, write_config

from datapipe.config import Project, load_project
from datapipe.errors import IncompatibleVersionError, UnknownColumnError, UnknownTableError
from datapipe.schema_generation import generate_schema
from versioning import Registry, RegistryError


def test_should_write_the_golden_schemas_of_oracle_style_tables(sqlite_project: Project) -> None:
    for table in ("VENTAS_CABECERA", "VENTAS_DETALLE"):
        outcome = generate_schema(sqlite_project, table)
        key = table.lower()
        assert_golden(outcome.files.avsc.read_text(), f"schemas/{key}.avsc")
        assert_golden(outcome.files.bigquery.read_text(), f"schemas/{key}.json")


def test_should_carry_nullability_and_primary_keys(sqlite_project: Project) -> None:
    outcome = generate_schema(sqlite_project, "VENTAS_DETALLE")
    fields = {f["name"]: f for f in outcome.avro["fields"]}
    assert outcome.avro["primary_keys"] == ["ID_VENTA", "LINEA"]
    assert fields["PRODUCTO"]["type"] == "string"
    assert fields["PRECIO"]["type"] == ["null", {"type": "bytes", "logicalType": "decimal", "precision": 30,
                                                 "scale": 4}]
    assert fields["PRECIO"]["default"] is None
    modes = {c["name"]: c["mode"] for c in outcome.bigquery}
    assert modes == {"ID_VENTA": "REQUIRED", "LINEA": "REQUIRED", "PRODUCTO": "REQUIRED",
                     "CANTIDAD": "REQUIRED", "PRECIO": "NULLABLE"}


def test_should_record_the_first_version_and_then_nothing_while_unchanged(sqlite_project: Project) -> None:
    first = generate_schema(sqlite_project, "ventas_cabecera")
    again = generate_schema(sqlite_project, "ventas_cabecera")
    assert (first.version, first.added) == (1, True)
    assert (again.version, again.added) == (1, False)
    registry = Registry.load(sqlite_project.registry_dir)
    assert registry.subject("ventas_cabecera").versions == [1]
    assert registry.subject("ventas_cabecera").schema(1)["fields"] == first.avro["fields"]


def alter(project: Project, *statements: str) -> None:
    engine = sa.create_engine(f"sqlite:///{project.root / 'source.db'}")
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    engine.dispose()


def test_should_add_a_compatible_version_and_show_bigquery_in_place_changes(sqlite_project: Project) -> None:
    generate_schema(sqlite_project, "VENTAS_CABECERA")
    alter(sqlite_project, "ALTER TABLE VENTAS_CABECERA ADD COLUMN CANAL VARCHAR2(20)")
    outcome = generate_schema(sqlite_project, "VENTAS_CABECERA")
    assert (outcome.version, outcome.added, outcome.verdict.compatible) == (2, True, True)
    assert [str(c) for c in outcome.bigquery_changes] == ["CANAL: added as a NULLABLE column (in place)"]
    assert json.loads(outcome.files.avsc.read_text())["fields"][-1]["name"] == "CANAL"


def test_should_refuse_an_incompatible_version_and_write_nothing(sqlite_project: Project) -> None:
    generate_schema(sqlite_project, "VENTAS_CABECERA")
    before = outcome_files(sqlite_project)
    # A new NOT NULL column without a default: old records cannot be read with the new schema (BACKWARD).
    alter(sqlite_project, "ALTER TABLE VENTAS_CABECERA ADD COLUMN CANAL VARCHAR2(20) NOT NULL DEFAULT 'web'")
    with pytest.raises(IncompatibleVersionError) as caught:
        generate_schema(sqlite_project, "VENTAS_CABECERA")
    assert caught.value.exit_code == 1
    assert "CANAL" in str(caught.value) and "--force" in str(caught.value)
    assert outcome_files(sqlite_project) == before
    assert Registry.load(sqlite_project.registry_dir).subject("ventas_cabecera").versions == [1]


def outcome_files(project: Project) -> dict[str, str]:
    return {str(p.relative_to(project.root)): p.read_text() for p in sorted(project.root.rglob("*.*"))
            if p.suffix in (".avsc", ".json", ".yaml") and p.name != "config.yaml"}


def test_should_name_an_unknown_table_and_suggest_close_names(sqlite_project: Project, tmp_path: Path) -> None:
    data = json.loads(json.dumps(sqlite_project.config.model_dump(mode="json", by_alias=True)))
    data["tables"].append({"name": "VENTAS_CABECERAS", "load_mode": "full"})
    project = load_project(write_config(sqlite_project.root, data))
    with pytest.raises(UnknownTableError) as caught:
        generate_schema(project, "VENTAS_CABECERAS")
    assert "did you mean: VENTAS_CABECERA" in str(caught.value)
    with pytest.raises(UnknownTableError, match="add it to `tables`"):
        generate_schema(project, "CLIENTES")


def test_should_name_a_partition_column_the_table_lacks(sqlite_project: Project) -> None:
    data = sqlite_project.config.model_dump(mode="json", by_alias=True)
    data["tables"][0]["partition_column"] = "FECHA_ALTA"
    project = load_project(write_config(sqlite_project.root, data))
    with pytest.raises(UnknownColumnError) as caught:
        generate_schema(project, "VENTAS_CABECERA")
    assert "'FECHA_ALTA' is not in table 'VENTAS_CABECERA'" in str(caught.value)
    assert "FECHA_MODIFICACION" in str(caught.value)


PG_DDL = [
    """CREATE TABLE {s}.ventas_cabecera (
        id_venta bigint PRIMARY KEY,
        cliente varchar(100) NOT NULL,
        total numeric(12, 2),
        exacto numeric,
        creada_en timestamptz NOT NULL,
        modificada_en timestamp,
        fecha date,
        activo boolean,
        firma bytea,
        extra jsonb,
        ref uuid
    )""",
    "COMMENT ON TABLE {s}.ventas_cabecera IS 'Cabecera de ventas'",
    "COMMENT ON COLUMN {s}.ventas_cabecera.total IS 'Importe total con IVA'",
]


def pg_project(tmp_path: Path, postgres_url: str, schema: str, **config: Any) -> Project:
    tables = config.pop("tables", [{"name": "VENTAS_CABECERA", "load_mode": "incremental",
                                    "partition_column": "MODIFICADA_EN"}])
    return load_project(write_config(tmp_path / "migracion-ventas", source=pg_source(postgres_url, schema),
                                     tables=tables, **config))


@pytest.mark.postgres
def test_should_reflect_a_postgresql_table_for_real(
    pg_schema: tuple[sa.Engine, str], postgres_url: str, pg_user_env: str, tmp_path: Path
) -> None:
    engine, schema = pg_schema
    with engine.begin() as connection:
        for ddl in PG_DDL:
            connection.exec_driver_sql(ddl.format(s=schema))
    outcome = generate_schema(pg_project(tmp_path, postgres_url, schema), "VENTAS_CABECERA")
    avro = outcome.avro
    assert avro["doc"] == "Cabecera de ventas"
    assert avro["primary_keys"] == ["id_venta"]  # from the reflected primary key: the config names none
    fields = {f["name"]: f for f in avro["fields"]}
    assert fields["total"]["doc"] == "Importe total con IVA"
    assert fields["creada_en"]["type"] == {"type": "long", "logicalType": "timestamp-micros"}
    bigquery = {c["name"]: (c["type"], c["mode"]) for c in outcome.bigquery}
    assert bigquery == {
        "id_venta": ("INTEGER", "REQUIRED"),
        "cliente": ("STRING", "REQUIRED"),
        "total": ("NUMERIC", "NULLABLE"),
        "exacto": ("STRING", "NULLABLE"),
        "creada_en": ("TIMESTAMP", "REQUIRED"),
        "modificada_en": ("DATETIME", "NULLABLE"),
        "fecha": ("DATE", "NULLABLE"),
        "activo": ("BOOLEAN", "NULLABLE"),
        "firma": ("BYTES", "NULLABLE"),
        "extra": ("STRING", "NULLABLE"),
        "ref": ("STRING", "NULLABLE"),
    }


SECRET = "Sup3r-S3cret-Value"


@pytest.mark.postgres
def test_should_write_no_secret_into_any_file(
    pg_schema: tuple[sa.Engine, str], postgres_url: str, pg_user_env: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, schema = pg_schema
    with engine.begin() as connection:
        connection.exec_driver_sql(PG_DDL[0].format(s=schema))
    monkeypatch.setenv("DATAPIPE_TEST_PGPASSWORD", SECRET)  # trust auth ignores it; it must still not leak
    source = {**pg_source(postgres_url, schema), "password": "${DATAPIPE_TEST_PGPASSWORD}"}
    project = pg_project(tmp_path, postgres_url, schema)
    project = load_project(write_config(project.root, project.config.model_dump(mode="json", by_alias=True)
                                        | {"source": source}))
    generate_schema(project, "ventas_cabecera")
    written = [p for p in project.root.rglob("*") if p.is_file()]
    assert len(written) >= 4  # config, .avsc, .json, registry files
    assert all(SECRET not in p.read_text() for p in written)


def test_should_reflect_a_mariadb_table_for_real(tmp_path: Path, mysql_url: str) -> None:
    url = sa.make_url(mysql_url)
    engine = sa.create_engine(url)
    name = f"ventas_{tmp_path.name[-8:].replace('-', '_')}".lower()
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, total DECIMAL(12, 2) COMMENT 'Importe', "
            "creada DATETIME(6) NOT NULL, nombre VARCHAR(50), foto BLOB, activo TINYINT(1))"
        )
    try:
        source = {"kind": "mariadb", "host": url.host, "port": url.port, "database": url.database,
                  "username": "${MDB_USER}"}
        project = load_project(write_config(tmp_path / "m", source=source,
                                            tables=[{"name": name, "load_mode": "full"}]))
        outcome = generate_schema(project, name, environ={"MDB_USER": "root"})
        bigquery = {c["name"]: (c["type"], c["mode"]) for c in outcome.bigquery}
        assert bigquery["id"] == ("INTEGER", "REQUIRED")
        assert bigquery["total"] == ("NUMERIC", "NULLABLE")
        assert bigquery["creada"] == ("DATETIME", "REQUIRED")
        assert bigquery["foto"] == ("BYTES", "NULLABLE")
        assert {f["name"]: f.get("doc") for f in outcome.avro["fields"]}["total"] == "Importe"
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TABLE {name}")
        engine.dispose()


def registry_files(project: Project) -> dict[str, str]:
    return {str(p.relative_to(project.registry_dir)): p.read_text()
            for p in sorted(project.registry_dir.rglob("*")) if p.is_file()}


def test_should_record_a_forced_version_as_an_exception_and_keep_the_registry_loadable(
    sqlite_project: Project,
) -> None:
    for table in ("VENTAS_CABECERA", "VENTAS_DETALLE"):
        generate_schema(sqlite_project, table)
    # TOTAL widened from NUMBER(12, 2) to NUMBER(14, 2): Avro calls a decimal's new precision incompatible.
    alter(sqlite_project, "ALTER TABLE VENTAS_CABECERA DROP COLUMN TOTAL",
          "ALTER TABLE VENTAS_CABECERA ADD COLUMN TOTAL NUMBER(14, 2)")
    before = registry_files(sqlite_project)
    with pytest.raises(IncompatibleVersionError):
        generate_schema(sqlite_project, "VENTAS_CABECERA")
    assert registry_files(sqlite_project) == before

    forced = generate_schema(sqlite_project, "VENTAS_CABECERA", force=True)
    assert (forced.version, forced.added, forced.forced) == (2, True, True)
    assert [str(c) for c in forced.bigquery_changes] == [
        "TOTAL: type widens from NUMERIC(12, 2) to NUMERIC(14, 2) (in place)"]

    registry = Registry.load(sqlite_project.registry_dir)  # the whole registry still loads
    assert registry.subject("ventas_cabecera").versions == [1, 2]
    assert str(registry.subject("ventas_cabecera").compatibility) == "NONE"
    recorded = yaml.safe_load((sqlite_project.registry_dir / "_exceptions" / "ventas_cabecera.yaml").read_text())
    assert recorded["compatibility"] == "BACKWARD"
    [exception] = recorded["forced"]
    assert exception["version"] == 2 and any("(decimal)" in i for i in exception["incompatibilities"])
    assert not any(p.name.startswith("_staging-") for p in sqlite_project.registry_dir.iterdir())

    # Other tables keep working, and later versions are still checked under the recorded mode.
    assert generate_schema(sqlite_project, "VENTAS_DETALLE").added is False
    alter(sqlite_project, "ALTER TABLE VENTAS_CABECERA ADD COLUMN CANAL VARCHAR2(20) NOT NULL DEFAULT 'web'")
    with pytest.raises(IncompatibleVersionError, match="not BACKWARD-compatible"):
        generate_schema(sqlite_project, "VENTAS_CABECERA")
    assert Registry.load(sqlite_project.registry_dir).subject("ventas_cabecera").versions == [1, 2]


def test_should_keep_other_tables_working_when_one_subject_is_broken(sqlite_project: Project) -> None:
    for table in ("VENTAS_CABECERA", "VENTAS_DETALLE"):
        generate_schema(sqlite_project, table)
    (sqlite_project.registry_dir / "ventas_detalle" / "v1.avsc").write_text("{not json")
    alter(sqlite_project, "ALTER TABLE VENTAS_CABECERA ADD COLUMN CANAL VARCHAR2(20)")
    assert generate_schema(sqlite_project, "VENTAS_CABECERA").version == 2
    with pytest.raises(RegistryError, match=r"registry/ventas_detalle/v1\.avsc"):
        generate_schema(sqlite_project, "VENTAS_DETALLE")


def test_should_leave_the_registry_as_it_was_when_a_forced_version_cannot_be_recorded(
    sqlite_project: Project,
) -> None:
    generate_schema(sqlite_project, "VENTAS_CABECERA")
    before = registry_files(sqlite_project)
    # A new NOT NULL column: no step can fill it for older records, so even --force cannot record it.
    alter(sqlite_project, "ALTER TABLE VENTAS_CABECERA ADD COLUMN CANAL VARCHAR2(20) NOT NULL DEFAULT 'web'")
    with pytest.raises(RegistryError, match="CANAL"):
        generate_schema(sqlite_project, "VENTAS_CABECERA", force=True)
    assert registry_files(sqlite_project) == before
