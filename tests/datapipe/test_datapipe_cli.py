"""The ``datapipe`` CLI: the issue's workflow end to end, exit codes 0 / 1 / 2 and messages without tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from datapipe_fixtures import SQLITE_VENTAS_DDL, config_dict, write_config

from datapipe.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_should_walk_the_issue_workflow(chdir_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "init", "migracion-ventas", "--cloud", "gcp")
    assert code == 0 and "created migracion-ventas/config.yaml" in out
    # The user edits the template: here, a SQLite source standing in for Oracle.
    write_config(chdir_tmp / "migracion-ventas", config_dict())
    engine = sa.create_engine(f"sqlite:///{chdir_tmp / 'migracion-ventas' / 'source.db'}")
    with engine.begin() as connection:
        for ddl in SQLITE_VENTAS_DDL:
            connection.exec_driver_sql(ddl)
    config = "migracion-ventas/config.yaml"

    code, out, err = run(capsys, "generate", "schema", "VENTAS_CABECERA", "--config", config)
    assert (code, err) == (0, "")
    assert "ventas_cabecera: v1 added" in out
    assert (chdir_tmp / "migracion-ventas/schemas/ventas_cabecera.avsc").is_file()
    assert (chdir_tmp / "migracion-ventas/schemas/ventas_cabecera.json").is_file()

    code, out, _ = run(capsys, "generate", "schema", "VENTAS_CABECERA", "--config", config)
    assert code == 0 and "unchanged since v1" in out

    code, out, _ = run(capsys, "generate", "dag", "VENTAS_CABECERA", "--config", config)
    assert code == 0 and "wrote migracion-ventas/dags/dag_gcp_ventas_cabecera.py" in out
    assert "--config migracion-ventas/config.yaml" in (chdir_tmp / out.split()[1]).read_text()

    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE VENTAS_CABECERA ADD COLUMN CANAL VARCHAR2(20) NOT NULL DEFAULT 'web'")
    code, _, err = run(capsys, "generate", "schema", "VENTAS_CABECERA", "--config", config)
    assert code == 1
    assert "not BACKWARD-compatible" in err and "nothing was written" in err and "Traceback" not in err


def test_should_exit_2_on_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = config_dict()
    data["tables"][1]["load_mode"] = "sometimes"
    path = write_config(tmp_path, data)
    code, _, err = run(capsys, "generate", "dag", "VENTAS_DETALLE", "--config", str(path))
    assert code == 2
    assert "tables[1].load_mode: Input should be 'full' or 'incremental'" in err


def test_should_exit_2_on_a_missing_variable_without_showing_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = {"kind": "oracle", "host": "db.internal", "service_name": "ORCL", "username": "${ORA_USER}",
              "password": "${ORA_PASSWORD}"}
    path = write_config(tmp_path, source=source)
    monkeypatch.setenv("ORA_PASSWORD", "Sup3r-S3cret")
    monkeypatch.delenv("ORA_USER", raising=False)
    code, out, err = run(capsys, "generate", "schema", "VENTAS_CABECERA", "--config", str(path))
    assert code == 2
    assert "${ORA_USER} (referenced by source.username)" in err
    assert "Sup3r-S3cret" not in out + err


def test_should_exit_2_on_an_unknown_table_and_an_unreachable_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, source={"kind": "postgresql", "host": "127.0.0.1", "port": 9,
                                          "username": "${U}", "password": "${P}"})
    code, _, err = run(capsys, "generate", "schema", "CLIENTES", "--config", str(path))
    assert code == 2 and "table 'CLIENTES' is not in" in err and "add it to `tables`" in err
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("U", "etl")
        patch.setenv("P", "Sup3r-S3cret")
        code, _, err = run(capsys, "generate", "schema", "VENTAS_CABECERA", "--config", str(path))
    assert code == 2 and "cannot read the source database postgresql+psycopg://etl:***@127.0.0.1:9" in err
    assert "Sup3r-S3cret" not in err


def test_should_exit_1_when_the_project_exists(chdir_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "init", "ventas")[0] == 0
    code, _, err = run(capsys, "init", "ventas")
    assert code == 1 and "already exists" in err


def test_should_exit_2_on_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "init", "x", "--cloud", "ibm")
    assert code == 2 and "'ibm' is not one of 'gcp', 'aws', 'azure'" in err
    code, _, err = run(capsys, "generate", "dag", "T")
    assert code == 2 and "Missing option '--config'" in err


@pytest.mark.parametrize("args", [[], ["init"], ["generate"], ["generate", "schema"], ["generate", "dag"], ["extract"]])
def test_should_offer_help_everywhere(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, _ = run(capsys, *args, "--help")
    assert code == 0 and out.startswith("Usage: datapipe")


@pytest.mark.parametrize(("cloud", "warehouse"), [("aws", "Redshift"), ("azure", "Azure Synapse")])
def test_should_refuse_a_cloud_it_cannot_generate_pipelines_for_at_init(
    chdir_tmp: Path, capsys: pytest.CaptureFixture[str], cloud: str, warehouse: str
) -> None:
    code, _, err = run(capsys, "init", "ventas", "--cloud", cloud)
    assert code == 2
    assert f"--cloud {cloud} ({warehouse}) is not supported" in err and "supported clouds: gcp" in err
    assert "Traceback" not in err and not (chdir_tmp / "ventas").exists()
