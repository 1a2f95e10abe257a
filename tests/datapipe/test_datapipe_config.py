"""The config file: a valid one loads; every mistake is reported with its key path and line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from datapipe_fixtures import config_dict, write_config

from datapipe.config import Cloud, LoadMode, SourceKind, UnconstrainedNumber, load_project
from datapipe.errors import ConfigError, MissingVariableError, ProjectExistsError
from datapipe.project_init import init_project
from datapipe.source import source_url


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_project(path)
    return [p.render(str(path)) for p in caught.value.problems]


def test_should_load_a_valid_config(tmp_path: Path) -> None:
    project = load_project(write_config(tmp_path))
    config = project.config
    assert config.destination.cloud is Cloud.GCP
    assert [t.load_mode for t in config.tables] == [LoadMode.INCREMENTAL, LoadMode.FULL]
    assert config.types.unconstrained_number is UnconstrainedNumber.STRING
    assert project.table("ventas_cabecera").name == "VENTAS_CABECERA"


def test_should_name_the_key_path_and_line_of_a_bad_load_mode(tmp_path: Path) -> None:
    data = config_dict()
    data["tables"][1]["load_mode"] = "append"
    path = write_config(tmp_path, data)
    [problem] = problems_of(path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "append" in text)
    assert problem.startswith(f"{path}:{line}: tables[1].load_mode: ")
    assert "'full' or 'incremental'" in problem


def test_should_list_every_problem_not_just_the_first(tmp_path: Path) -> None:
    data = config_dict()
    data["tables"][0].pop("partition_column")
    data["destination"].pop("dataset")
    data["airflow"]["schedul"] = "@hourly"
    problems = problems_of(write_config(tmp_path, data))
    text = "\n".join(problems)
    assert len(problems) == 3
    assert "destination.dataset: required key is missing" in text
    assert "airflow.schedul: unknown key" in text
    assert "tables[0]: an incremental table needs `partition_column`" in text


@pytest.mark.parametrize("field", ["password", "username"])
def test_should_refuse_credentials_written_as_values(tmp_path: Path, field: str) -> None:
    source = {"kind": "oracle", "host": "db", "service_name": "ORCL", field: "s3cr3t"}
    [problem] = problems_of(write_config(tmp_path, source=source))
    assert f"source.{field}: the {field} must be an environment variable reference" in problem
    # The message names the mistake without repeating the secret.
    assert "s3cr3t" not in problem


def test_should_refuse_an_unknown_cloud_and_a_duplicate_table(tmp_path: Path) -> None:
    data = config_dict()
    data["destination"]["cloud"] = "ibm"
    data["tables"].append({"name": "ventas_detalle", "load_mode": "full"})
    text = "\n".join(problems_of(write_config(tmp_path, data)))
    assert "destination.cloud: must be one of 'gcp', 'aws', 'azure'" in text
    assert "table 'ventas_detalle' is listed twice" in text


def test_should_report_a_yaml_syntax_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("project:\n  name: x\nsource: [unclosed\n", encoding="utf-8")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:4: not valid YAML")


def test_should_say_how_to_create_a_missing_config(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path / "nope.yaml")
    assert "file not found" in problem and "datapipe init" in problem


def test_should_keep_variable_references_until_connecting(tmp_path: Path) -> None:
    source = {
        "kind": "oracle",
        "host": "${DB_HOST}",
        "port": 1521,
        "service_name": "ORCLPDB1",
        "username": "${DB_USER}",
        "password": "${DB_PASSWORD}",
    }
    project = load_project(write_config(tmp_path, source=source))
    assert project.config.source.password == "${DB_PASSWORD}"
    url = source_url(project, {"DB_HOST": "oracle.internal", "DB_USER": "etl", "DB_PASSWORD": "pa:ss@word"})
    assert url.drivername == "oracle+oracledb"
    assert (url.username, url.password, url.host, url.port) == ("etl", "pa:ss@word", "oracle.internal", 1521)
    assert url.query == {"service_name": "ORCLPDB1"}
    assert "pa:ss@word" not in url.render_as_string(hide_password=True)


def test_should_name_every_missing_variable_and_the_key_that_refers_to_it(tmp_path: Path) -> None:
    source = {"kind": "postgresql", "host": "${DB_HOST}", "username": "${DB_USER}", "password": "${DB_PASSWORD}"}
    project = load_project(write_config(tmp_path, source=source))
    with pytest.raises(MissingVariableError) as caught:
        source_url(project, {"DB_HOST": "pg"})
    assert [(m.variable, m.key) for m in caught.value.missing] == [
        ("DB_USER", "source.username"),
        ("DB_PASSWORD", "source.password"),
    ]
    assert "${DB_PASSWORD} (referenced by source.password)" in str(caught.value)


def test_should_resolve_a_sqlite_path_against_the_config_folder(tmp_path: Path) -> None:
    project = load_project(write_config(tmp_path / "proj"))
    assert project.config.source.kind is SourceKind.SQLITE
    assert source_url(project, {}).database == str(tmp_path / "proj" / "source.db")


def test_should_scaffold_a_template_that_loads(tmp_path: Path) -> None:
    import datetime as dt

    cloud = Cloud.GCP
    path = init_project(tmp_path / "migracion-ventas", cloud, today=dt.date(2025, 3, 1))
    project = load_project(path)
    assert project.config.project.name == "migracion-ventas"
    assert project.config.destination.cloud is cloud
    assert str(project.config.airflow.start_date) == "2025-03-01"
    assert project.config.source.password == "${SOURCE_PASSWORD}"
    # The template explains itself: every section carries comments.
    assert sum(1 for line in path.read_text().splitlines() if "#" in line) >= 15
    assert yaml.safe_load(path.read_text())["tables"][0]["name"] == "VENTAS_CABECERA"


def test_should_not_overwrite_an_existing_project(tmp_path: Path) -> None:
    init_project(tmp_path / "ventas", Cloud.GCP)
    with pytest.raises(ProjectExistsError):
        init_project(tmp_path / "ventas", Cloud.GCP)


def test_should_refuse_partition_immutable_on_a_full_load(tmp_path: Path) -> None:
    data = config_dict()
    data["tables"][1]["partition_immutable"] = True  # VENTAS_DETALLE is a full load
    [problem] = problems_of(write_config(tmp_path, data))
    assert "tables[1]" in problem and "`partition_immutable` applies to incremental tables" in problem
