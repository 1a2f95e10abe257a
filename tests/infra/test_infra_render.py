"""The offline render: the main job without a cluster. Exit codes, files, redaction, Kubernetes validity."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from infra_fixtures import ROOT, run_shipped_stack

from infra.offline import render as render_module
from infra.offline.render import (
    EXIT_INVALID,
    EXIT_REFUSED,
    EXIT_RENDERED,
    PLACEHOLDERS,
    REDACTED,
    file_name,
    manifest,
)

KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]
CUSTOM_KINDS = {"ScaledObject", "TriggerAuthentication"}
"""KEDA's CRDs: not in the Kubernetes OpenAPI schema, checked by shape below instead."""


def draw(args: list[str]) -> int:
    """``pipeline-platform render ARGS`` in this process; returns the exit code."""
    from infra.cli import main

    return main(["render", *args])


def project_copy(tmp_path: Path, stack_files: dict[str, str]) -> Path:
    """A project folder with the real Pulumi.yaml, program and registry, and the given stack files."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (folder / "infra").symlink_to(ROOT / "infra")
    (folder / "schemas").symlink_to(ROOT / "schemas")
    (folder / "Dockerfile").symlink_to(ROOT / "Dockerfile")
    for name, text in stack_files.items():
        (folder / name).write_text(text)
    return folder


def dev_with(**changes: Any) -> str:
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    for key, value in changes.items():
        stack["config"][f"pipeline-platform:{key}"] = value
    return yaml.safe_dump(stack)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """dev and prod rendered once, with blue live (no move: nothing gated)."""
    out = tmp_path_factory.mktemp("rendered")
    folders = {}
    for stack in ("dev", "prod"):
        folders[stack] = out / stack
        assert (
            draw(["--stack", stack, "--out", str(folders[stack]), "--live-color", "blue", "--project-dir", str(ROOT)])
            == 0
        )
    return folders


def documents(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, yaml.safe_load(path.read_text())) for path in sorted(folder.glob("*.yaml"))]


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_should_render_only_objects_valid_against_the_kubernetes_schema_in_strict_mode(
    rendered: dict[str, Path], stack: str, version: str
) -> None:
    checked = 0
    for _name, document in documents(rendered[stack]):
        if document["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(document, version, strict=True)
        checked += 1
    assert checked >= 20


def test_should_render_keda_objects_with_the_fields_keda_requires(rendered: dict[str, Path]) -> None:
    custom = [doc for _, doc in documents(rendered["prod"]) if doc["kind"] in CUSTOM_KINDS]
    assert {doc["kind"] for doc in custom} == CUSTOM_KINDS
    for doc in custom:
        assert doc["apiVersion"] == "keda.sh/v1alpha1"
        if doc["kind"] == "ScaledObject":
            assert doc["spec"]["scaleTargetRef"]["name"].startswith("airflow-")
            assert all(
                t["type"] == "postgresql" and t["authenticationRef"]["name"] and t["metadata"]["query"]
                for t in doc["spec"]["triggers"]
            )
        else:
            assert doc["spec"]["secretTargetRef"][0]["parameter"] == "connection"


def test_should_write_one_file_per_object_named_by_kind_and_name(rendered: dict[str, Path]) -> None:
    for name, document in documents(rendered["dev"]):
        assert name == f"{document['kind'].lower()}-{document['metadata']['name']}.yaml"
    names = {name for name, _ in documents(rendered["dev"])}
    assert {
        "deployment-airflow-blue-worker-default.yaml",
        "service-airflow-api.yaml",
        "job-airflow-smoke-test.yaml",
    } <= names


def test_should_redact_every_secret_value(rendered: dict[str, Path]) -> None:
    for stack in ("dev", "prod"):
        text = "\n".join(path.read_text() for path in rendered[stack].glob("*.yaml"))
        for placeholder in PLACEHOLDERS.values():
            assert placeholder not in text
        for _, document in documents(rendered[stack]):
            if document["kind"] == "Secret":
                assert set(document["stringData"].values()) == {REDACTED}


def test_should_print_a_summary_and_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = draw(["--stack", "prod", "--out", str(tmp_path / "out"), "--project-dir", str(ROOT)])
    printed = capsys.readouterr().out
    assert code == EXIT_RENDERED
    assert "rendered 65 Kubernetes objects for stack 'prod'" in printed
    assert "active colour: blue (live colour: none)" in printed
    assert "  Deployment                    14" in printed
    assert "  reporting                      2 / 2" in printed
    assert "  default                     auto / auto" in printed
    assert (
        "secrets replaced by render placeholders: redisPassword, metadataDbConnection, fernetKey, apiSecretKey, "
        "adminPassword" in printed
    )


def test_should_exit_1_and_write_nothing_when_the_gate_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A registry folder written by hand: orders v2 dropped the required 'amount', so a release on v1
    # cannot read what the live v2 release wrote.
    releases = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]["pipeline-platform:releases"]
    registry = tmp_path / "registry"
    (registry / "orders").mkdir(parents=True)
    (registry / "orders" / "subject.yaml").write_text(
        "compatibility: BACKWARD\nsteps:\n  - {from: 1, to: 2, upgrade: []}\n"
    )
    order_id, amount = {"name": "id", "type": "string"}, {"name": "amount", "type": "int"}
    for version, fields in ((1, [order_id, amount]), (2, [order_id])):
        schema = {"type": "record", "name": "Order", "fields": fields}
        (registry / "orders" / f"v{version}.avsc").write_text(json.dumps(schema))
    releases["blue"]["schemas"] = {"orders": 2}
    releases["green"]["schemas"] = {"orders": 1}
    project = project_copy(
        tmp_path, {"Pulumi.dev.yaml": dev_with(releases=releases, activeColor="green", schemaRegistry=str(registry))}
    )
    out = tmp_path / "out"
    code = draw(["--stack", "dev", "--out", str(out), "--live-color", "blue", "--project-dir", str(project)])
    error = capsys.readouterr().err
    assert code == EXIT_REFUSED
    assert "refusing to move traffic from blue (live) to green: 1 schema incompatibility:" in error
    assert "orders v2 -> v1 (BACKWARD): READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1" in error
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_should_exit_2_listing_every_config_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pools = [{"name": "default", "queues": [], "replicas": -1}]
    project = project_copy(tmp_path, {"Pulumi.dev.yaml": dev_with(workerPools=pools, activeColor="teal")})
    code = draw(["--stack", "dev", "--out", str(tmp_path / "out"), "--project-dir", str(project)])
    error = capsys.readouterr().err
    assert code == EXIT_INVALID
    assert "invalid configuration for stack 'dev' (3 problems):" in error
    assert "  - activeColor: must be one of 'blue' or 'green' (got 'teal')" in error
    assert "  - workerPools[0].queues: must have at least 1 item" in error
    assert "  - workerPools[0].replicas: must be >= 0 (got -1)" in error
    assert not (tmp_path / "out").exists()


def test_should_exit_2_for_a_missing_stack_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert draw(["--stack", "staging", "--out", str(tmp_path / "out"), "--project-dir", str(ROOT)]) == EXIT_INVALID
    assert "Pulumi.staging.yaml does not exist" in capsys.readouterr().err


def test_should_exit_2_when_pulumi_yaml_names_no_program(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = project_copy(tmp_path, {"Pulumi.dev.yaml": dev_with()})
    (project / "infra").unlink()
    assert draw(["--stack", "dev", "--out", str(tmp_path / "out"), "--project-dir", str(project)]) == EXIT_INVALID
    assert "main 'infra/' has no program" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_should_use_placeholders_for_encrypted_secrets_and_reject_plain_text_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = yaml.safe_load(dev_with())
    stack["config"]["pipeline-platform:fernetKey"] = {"secure": "v1:AAAAencrypted"}
    stack["config"]["pipeline-platform:redisPassword"] = "plain-text-password"
    project = project_copy(tmp_path, {"Pulumi.dev.yaml": yaml.safe_dump(stack)})
    code = draw(["--stack", "dev", "--out", str(tmp_path / "out"), "--project-dir", str(project)])
    error = capsys.readouterr().err
    assert code == EXIT_INVALID
    assert "redisPassword: is stored in plain text" in error
    assert "fernetKey" not in error


def test_should_replace_a_previous_render_entirely(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.yaml").write_text("kind: Stale\n")
    assert draw(["--stack", "dev", "--out", str(out), "--project-dir", str(ROOT)]) == EXIT_RENDERED
    assert not (out / "stale.yaml").exists()
    assert (out / "service-airflow-api.yaml").is_file()


def test_should_run_as_the_documented_command_from_a_fresh_process(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "infra.render", "--stack", "dev", "--out", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PIPELINE_LIVE_COLOR"},
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "active colour: blue (live colour: none)" in completed.stdout
    assert len(list((tmp_path / "out").glob("*.yaml"))) == 51


def test_should_write_each_object_as_yaml_that_loads_back_to_the_declared_manifest(rendered: dict[str, Path]) -> None:
    run = run_shipped_stack("prod", live="blue")
    declared = {file_name(resource): manifest(resource) for resource in run.kubernetes_objects()}
    written = dict(documents(rendered["prod"]))
    assert written.keys() == declared.keys()
    for name, document in written.items():
        assert document == declared[name], name


def test_should_write_with_libyaml_when_pyyaml_has_it() -> None:
    assert yaml.__with_libyaml__
    assert render_module.YAML_DUMPER is yaml.CSafeDumper


OPTIONAL_COMPONENTS = {"statsd": {"enabled": True}, "pgbouncer": {"enabled": True}}
"""Off by default and in the shipped stacks: switched on here so their objects go through the same checks."""


@pytest.fixture(scope="module")
def rendered_optional(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dev with every optional component enabled, rendered."""
    tmp = tmp_path_factory.mktemp("optional")
    project = project_copy(tmp, {"Pulumi.dev.yaml": dev_with(**OPTIONAL_COMPONENTS)})
    out = tmp / "out"
    assert draw(["--stack", "dev", "--out", str(out), "--live-color", "blue", "--project-dir", str(project)]) == 0
    return out


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_should_render_the_optional_components_valid_in_strict_mode_and_restricted(
    rendered_optional: Path, version: str
) -> None:
    names = {name for name, _ in documents(rendered_optional)}
    assert {
        "deployment-airflow-statsd.yaml",
        "service-airflow-statsd.yaml",
        "deployment-airflow-pgbouncer.yaml",
        "service-airflow-pgbouncer.yaml",
        "secret-airflow-pgbouncer-config.yaml",
    } <= names
    for _name, document in documents(rendered_optional):
        if document["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(document, version, strict=True)
        if document["kind"] not in {"Deployment", "Job"}:
            continue
        spec = document["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] > 0, _name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, _name
        # Volume types the restricted Pod Security Standard allows that the platform uses.
        assert all(set(v) & {"emptyDir", "persistentVolumeClaim", "secret"} for v in spec.get("volumes", [])), _name
        for each in spec["containers"]:
            context = each["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context["capabilities"] == {"drop": ["ALL"]}, _name
            assert "hostPort" not in repr(each.get("ports", [])), _name
