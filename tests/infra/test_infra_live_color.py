"""How the program learns the live colour: the environment, else the router Service in the stack's state.

The state path runs a stand-in ``pulumi`` executable written by the test (the external CLI, not our code)
that prints a ``pulumi stack export`` document built from a real run of the program under the mock
runtime (the URNs, types and selectors the program really declares), so the real subprocess call and the
real parsing are exercised.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from infra_fixtures import (
    PROGRAM,
    ROOT,
    SECRETS,
    base_config,
    checkpoint_document,
    config_strings,
    fake_pulumi,
    run_stack,
)

from infra.config import Color
from infra.errors import LiveColorError
from infra.live_color import (
    CLI_ENV_VAR,
    ENV_VAR,
    ROUTER_SERVICE_RESOURCE,
    ROUTER_SERVICE_TYPE,
    discover_live_color,
    qualified_stack_name,
)
from infra.offline.mock_runtime import ProgramRun, run_program

STACK = "organization/pipeline-platform/prod"


@pytest.fixture(scope="module")
def blue_state(blue_run: ProgramRun) -> str:
    """The checkpoint after blue was deployed and routed."""
    return checkpoint_document(blue_run)


@pytest.fixture(scope="module")
def green_state(green_flip_run: ProgramRun) -> str:
    """The checkpoint after a successful flip to green."""
    return checkpoint_document(green_flip_run)


def _edit(document: str, change: Any) -> str:
    parsed = json.loads(document)
    change(parsed["deployment"])
    return json.dumps(parsed)


def _router(deployment: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in deployment["resources"] if r["urn"].endswith(f"::{ROUTER_SERVICE_RESOURCE}"))


@pytest.mark.parametrize(("value", "expected"), [("blue", Color.BLUE), ("GREEN", Color.GREEN), ("none", None)])
def test_should_take_the_live_colour_from_the_environment_first(
    tmp_path: Path, blue_state: str, value: str, expected: Color | None
) -> None:
    cli = fake_pulumi(tmp_path / "bin", blue_state)
    live = discover_live_color(STACK, tmp_path, env={ENV_VAR: value, "PATH": str(cli.parent)})
    assert live.color is expected
    assert live.source == ENV_VAR
    assert not (tmp_path / "bin" / "args.txt").exists()


def test_should_reject_a_bad_environment_value(tmp_path: Path) -> None:
    with pytest.raises(LiveColorError, match="PIPELINE_LIVE_COLOR is 'purple'; it must be 'blue', 'green' or 'none'"):
        discover_live_color(STACK, tmp_path, env={ENV_VAR: "purple"})


@pytest.mark.parametrize(("state", "expected"), [("blue_state", Color.BLUE), ("green_state", Color.GREEN)])
def test_should_read_the_colour_the_router_service_selects_from_the_exported_state(
    tmp_path: Path, request: pytest.FixtureRequest, state: str, expected: Color
) -> None:
    cli = fake_pulumi(tmp_path / "bin", request.getfixturevalue(state))
    live = discover_live_color(STACK, tmp_path, env={"PATH": str(cli.parent)})
    assert live.color is expected
    assert (tmp_path / "bin" / "args.txt").read_text().split() == ["stack", "export", "--stack", STACK]
    assert Path((tmp_path / "bin" / "cwd.txt").read_text().strip()) == tmp_path


def test_should_ignore_the_active_color_output_that_a_failed_flip_recorded(
    tmp_path: Path, blue_run: ProgramRun
) -> None:
    # A flip to green failed at the smoke test (or the flip-guard hook refused it): Pulumi saved the new
    # outputs (activeColor: green) but never updated the router Service, which still selects blue.
    failed_flip = checkpoint_document(blue_run, stack_outputs={**blue_run.outputs, "activeColor": "green"})
    cli = fake_pulumi(tmp_path / "bin", failed_flip)
    assert discover_live_color(STACK, tmp_path, env={CLI_ENV_VAR: str(cli)}).color is Color.BLUE


def test_should_compute_the_next_flip_from_the_router_after_a_failed_flip(tmp_path: Path, blue_run: ProgramRun) -> None:
    failed_flip = checkpoint_document(blue_run, stack_outputs={**blue_run.outputs, "activeColor": "green"})
    cli = fake_pulumi(tmp_path / "bin", failed_flip)
    env = {CLI_ENV_VAR: str(cli)}
    # Retrying the flip is still a flip from blue: gated, smoke-tested through the preview Service.
    retry = run_stack(base_config(activeColor="green"), live=None, env=env)
    smoke_env = retry.find("Job", "airflow-smoke-test")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "BASE_URL", "value": "http://airflow-api-preview.airflow-test.svc.cluster.local:8080"} in smoke_env
    # Going back to blue is no flip at all: nothing to gate, the smoke test targets blue's own Service.
    back = run_stack(base_config(activeColor="blue"), live=None, env=env)
    smoke_env = back.find("Job", "airflow-smoke-test")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "BASE_URL", "value": "http://airflow-blue-api.airflow-test.svc.cluster.local:8080"} in smoke_env


def test_should_ask_for_the_fully_qualified_stack_of_the_running_program(tmp_path: Path, blue_state: str) -> None:
    cli = fake_pulumi(tmp_path / "bin", blue_state)
    values = config_strings(base_config())
    values.update({f"pipeline-platform:{key}": value for key, value in SECRETS.items()})
    run_program(
        PROGRAM,
        "prod",
        values,
        [f"pipeline-platform:{key}" for key in SECRETS],
        env={CLI_ENV_VAR: str(cli)},
        organization="data-team",
    )
    assert (tmp_path / "bin" / "args.txt").read_text().split() == [
        "stack",
        "export",
        "--stack",
        "data-team/pipeline-platform/prod",
    ]


@pytest.mark.parametrize(
    ("organization", "stack", "expected"),
    [
        ("data-team", "prod", "data-team/pipeline-platform/prod"),
        (None, "prod", "organization/pipeline-platform/prod"),
        ("", "dev", "organization/pipeline-platform/dev"),
        ("data-team", "other/pipeline-platform/prod", "other/pipeline-platform/prod"),
    ],
)
def test_should_qualify_the_stack_name_with_organisation_and_project(
    organization: str | None, stack: str, expected: str
) -> None:
    assert qualified_stack_name(organization, "pipeline-platform", stack) == expected


def test_should_find_the_router_service_under_the_name_and_type_the_program_declares(blue_run: ProgramRun) -> None:
    router = blue_run.resource("Service", "airflow-api")
    assert router.urn.endswith(f"${ROUTER_SERVICE_TYPE}::{ROUTER_SERVICE_RESOURCE}")
    assert router.type == ROUTER_SERVICE_TYPE


def test_should_treat_a_state_without_a_router_as_a_first_deployment(tmp_path: Path, blue_state: str) -> None:
    cli = fake_pulumi(tmp_path / "bin", _edit(blue_state, lambda d: d.pop("resources")))
    live = discover_live_color(STACK, tmp_path, env={CLI_ENV_VAR: str(cli)})
    assert live.color is None
    assert "first deployment" in live.source


def test_should_skip_a_replaced_router_copy_waiting_for_deletion(tmp_path: Path, blue_state: str) -> None:
    def add_deleted_green_copy(deployment: dict[str, Any]) -> None:
        copy = json.loads(json.dumps(_router(deployment)))
        copy["outputs"]["spec"]["selector"]["pipeline-platform.io/color"] = "green"
        copy["delete"] = True
        deployment["resources"].append(copy)

    cli = fake_pulumi(tmp_path / "bin", _edit(blue_state, add_deleted_green_copy))
    assert discover_live_color(STACK, tmp_path, env={CLI_ENV_VAR: str(cli)}).color is Color.BLUE


def _interrupted(deployment: dict[str, Any]) -> None:
    deployment["pending_operations"] = [{"resource": _router(deployment), "type": "updating"}]


def _selector_removed(deployment: dict[str, Any]) -> None:
    router = _router(deployment)
    for part in ("inputs", "outputs"):
        del router[part]["spec"]["selector"]["pipeline-platform.io/color"]


def _selects_red(deployment: dict[str, Any]) -> None:
    _router(deployment)["outputs"]["spec"]["selector"]["pipeline-platform.io/color"] = "red"


@pytest.mark.parametrize(
    ("change", "stdout", "exit_code", "stderr", "expected"),
    [
        (None, "", 255, "error: no stack named 'prod' found", "exited with 255: error: no stack named 'prod' found"),
        (None, "not json", 0, "", "did not print JSON"),
        (None, "[]", 0, "", "the exported state has no 'deployment' object"),
        (_interrupted, None, 0, "", "an earlier update of the router Service was interrupted"),
        (_selector_removed, None, 0, "", "the router Service in the state selects no pipeline-platform.io/color"),
        (_selects_red, None, 0, "", "the router Service's selector pipeline-platform.io/color is 'red'"),
    ],
)
def test_should_fail_closed_when_the_state_cannot_tell(
    tmp_path: Path, blue_state: str, change: Any, stdout: str | None, exit_code: int, stderr: str, expected: str
) -> None:
    printed = _edit(blue_state, change) if change else stdout
    assert printed is not None
    cli = fake_pulumi(tmp_path / "bin", printed, exit_code, stderr)
    with pytest.raises(LiveColorError) as raised:
        discover_live_color(STACK, tmp_path, env={"PATH": str(cli.parent)})
    assert expected in str(raised.value)
    assert "PIPELINE_LIVE_COLOR" in str(raised.value)


def test_should_say_how_to_proceed_when_no_pulumi_cli_is_on_path(tmp_path: Path) -> None:
    with pytest.raises(LiveColorError, match="Set PIPELINE_LIVE_COLOR=blue\\|green\\|none"):
        discover_live_color(STACK, tmp_path, env={"PATH": str(tmp_path / "empty")})


def _engine_bin() -> Path | None:
    script = ROOT / "scripts" / "build-engine.sh"
    if not script.is_file():
        return None
    done = subprocess.run(["bash", str(script), "--print-bin"], capture_output=True, text=True, check=False)
    folder = Path(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 and done.stdout.strip() else None
    return folder if folder and (folder / "pulumi").is_file() else None


ENGINE_BIN = _engine_bin()


@pytest.mark.skipif(ENGINE_BIN is None, reason="the Pulumi CLI is not built (scripts/build-engine.sh)")
def test_should_read_a_real_pulumi_state_with_encrypted_secrets_without_the_passphrase(
    tmp_path: Path, green_flip_run: ProgramRun
) -> None:
    assert ENGINE_BIN is not None
    env = {
        "PATH": f"{ENGINE_BIN}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }
    (tmp_path / "state").mkdir()
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: pipeline-platform\nruntime: python\n")
    stack = "organization/pipeline-platform/prod"

    def pulumi(*args: str, passphrase: bool) -> str:
        extra = {"PULUMI_CONFIG_PASSPHRASE": "correct horse battery staple"} if passphrase else {}
        done = subprocess.run(
            ["pulumi", *args], cwd=project, env={**env, **extra}, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    # Set-up (with the passphrase): a stack whose state holds the flipped platform, secrets encrypted by Pulumi.
    pulumi("stack", "init", stack, "--secrets-provider", "passphrase", passphrase=True)
    created = json.loads(pulumi("stack", "export", "--stack", stack, passphrase=True))
    document = json.loads(checkpoint_document(green_flip_run))
    document["deployment"]["manifest"] = created["deployment"]["manifest"]
    document["deployment"]["secrets_providers"] = created["deployment"]["secrets_providers"]
    for resource in document["deployment"]["resources"]:
        resource.pop("provider", None)
        if resource["type"] == "kubernetes:core/v1:Secret":
            plaintext = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "plaintext": '"x"'}
            resource["inputs"] = resource["outputs"] = {**resource["inputs"], "stringData": plaintext}
    (tmp_path / "state.json").write_text(json.dumps(document))
    pulumi("stack", "import", "--force", "--stack", stack, "--file", str(tmp_path / "state.json"), passphrase=True)
    stored = next((tmp_path / "state").rglob("prod.json")).read_text()
    assert '"ciphertext"' in stored
    # What the program does (no passphrase in its environment): the real CLI, the real state.
    live = discover_live_color(stack, project, env=env)
    assert live.color is Color.GREEN
