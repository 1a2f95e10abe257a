"""The flip gate on every path: in the program (preview and up), and in the router's resource hook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
from infra_fixtures import base_config, checkpoint_document, fake_pulumi, flip_config, run_stack

from infra.config import Color
from infra.flip_guard import FlipGuardError, check_router_update, make_flip_guard
from infra.gate import FlipRefused, check_flip, load_registry
from infra.labels import schemas_annotation
from infra.live_color import CLI_ENV_VAR
from infra.offline.mock_runtime import ProgramRun
from infra.router import router_annotations


def test_should_allow_a_compatible_flip(green_flip_run: ProgramRun) -> None:
    assert green_flip_run.outputs["activeColor"] == "green"


def test_should_refuse_an_incompatible_flip_and_list_every_incompatibility(registry_dir: Path) -> None:
    # Blue on v2 everywhere is live; moving to green, which is back on v1, breaks orders and events.
    config = flip_config(
        registry_dir, "green", blue={"orders": 2, "events": 2, "users": 3}, green={"orders": 1, "events": 1, "users": 2}
    )
    with pytest.raises(FlipRefused) as raised:
        run_stack(config, live="blue")
    refused = raised.value
    assert (refused.live, refused.candidate) == (Color.BLUE, Color.GREEN)
    found = {(i.subject, i.live_version, i.candidate_version, i.kind, i.location) for i in refused.incompatibilities}
    assert found == {
        ("events", 2, 1, "TYPE_MISMATCH", "/fields/0/type"),
        ("orders", 2, 1, "READER_FIELD_MISSING_DEFAULT_VALUE", "/fields/1"),
    }
    message = str(refused)
    assert message.startswith("refusing to move traffic from blue (live) to green: 2 schema incompatibilities:")
    assert "  - orders v2 -> v1 (BACKWARD): READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1:" in message
    assert "  - events v2 -> v1 (FORWARD): TYPE_MISMATCH at /fields/0/type:" in message
    assert "pulumi config set activeColor blue" in message


def test_should_refuse_before_declaring_any_resource(registry_dir: Path) -> None:
    from infra.offline import mock_runtime

    declared: list[Any] = []
    original = mock_runtime.PlatformMocks.new_resource

    def spy(self: mock_runtime.PlatformMocks, args: pulumi.runtime.MockResourceArgs) -> Any:
        declared.append(args.name)
        return original(self, args)

    config = flip_config(registry_dir, "green", blue={"orders": 2}, green={"orders": 1})
    mock_runtime.PlatformMocks.new_resource = spy  # type: ignore[method-assign]
    try:
        with pytest.raises(FlipRefused):
            run_stack(config, live="blue")
    finally:
        mock_runtime.PlatformMocks.new_resource = original  # type: ignore[method-assign]
    assert declared == []


def test_should_refuse_when_the_live_colour_comes_from_the_router_in_the_state(
    registry_dir: Path, tmp_path: Path, blue_run: ProgramRun
) -> None:
    # As under `pulumi up`: no PIPELINE_LIVE_COLOR, the program reads the router Service from the state.
    cli = fake_pulumi(tmp_path / "bin", checkpoint_document(blue_run))
    config = flip_config(registry_dir, "green", blue={"orders": 2}, green={"orders": 1})
    with pytest.raises(FlipRefused, match="from blue \\(live\\) to green"):
        run_stack(config, live=None, env={CLI_ENV_VAR: str(cli)})
    assert (tmp_path / "bin" / "args.txt").read_text().split() == [
        "stack",
        "export",
        "--stack",
        "organization/pipeline-platform/test",
    ]


def test_should_gate_a_rollback_in_its_own_direction(registry_dir: Path) -> None:
    # Green (orders v2) is live; rolling back to blue (orders v1) is refused...
    with pytest.raises(FlipRefused) as raised:
        run_stack(flip_config(registry_dir, "blue", blue={"orders": 1}, green={"orders": 2}), live="green")
    assert [(i.live_version, i.candidate_version) for i in raised.value.incompatibilities] == [(2, 1)]
    # ...while the same pair of releases may move forward from blue to green.
    run = run_stack(flip_config(registry_dir, "green", blue={"orders": 1}, green={"orders": 2}), live="blue")
    assert run.outputs["activeColor"] == "green"


@pytest.mark.parametrize("live", ["none", "green"])
def test_should_not_gate_a_first_deployment_or_an_update_without_a_move(registry_dir: Path, live: str) -> None:
    run = run_stack(flip_config(registry_dir, "green", blue={"orders": 2}, green={"orders": 1}), live=live)
    assert run.outputs["activeColor"] == "green"


def test_should_compare_only_subjects_both_releases_use(registry_dir: Path) -> None:
    registry = load_registry(registry_dir)
    assert check_flip(registry, {"orders": 2}, {"events": 1}) == []
    assert check_flip(registry, {"orders": 2, "users": 1}, {"orders": 2, "users": 3}) == []


def _router_inputs(active: str, blue: dict[str, int], green: dict[str, int]) -> dict[str, Any]:
    """Router Service inputs as the engine hands them to a hook."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "airflow-api",
            "namespace": "airflow",
            "annotations": router_annotations(Color(active), {Color.BLUE: blue, Color.GREEN: green}),
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {
                "app.kubernetes.io/name": "airflow",
                "app.kubernetes.io/component": "api-server",
                "pipeline-platform.io/color": active,
            },
        },
    }


def _hook_args(old: dict[str, Any], new: dict[str, Any]) -> pulumi.ResourceHookArgs:
    return pulumi.ResourceHookArgs(
        urn="urn:pulumi:prod::pipeline-platform::pipeline-platform:index:Router$kubernetes:core/v1:Service::router-active",
        id="airflow/airflow-api",
        name="router-active",
        type="kubernetes:core/v1:Service",
        old_inputs=old,
        new_inputs=new,
        old_outputs=old,
    )


def test_should_refuse_an_incompatible_flip_in_the_router_hook(registry_dir: Path) -> None:
    old = _router_inputs("blue", blue={"orders": 2}, green={"orders": 1})
    new = _router_inputs("green", blue={"orders": 2}, green={"orders": 1})
    with pytest.raises(FlipRefused) as raised:
        make_flip_guard(registry_dir)(_hook_args(old, new))
    assert [(i.subject, i.live_version, i.candidate_version) for i in raised.value.incompatibilities] == [
        ("orders", 2, 1)
    ]


def test_should_judge_the_live_release_by_what_was_deployed_not_by_the_new_config(registry_dir: Path) -> None:
    # The new config claims blue is on orders v1 (so the program's gate sees v1 -> v1), but the deployed
    # annotations say blue ran v2: the hook compares v2 -> v1 and refuses.
    old = _router_inputs("blue", blue={"orders": 2}, green={"orders": 1})
    new = _router_inputs("green", blue={"orders": 1}, green={"orders": 1})
    with pytest.raises(FlipRefused):
        check_router_update(registry_dir, old, new)


def test_should_let_the_router_hook_pass_a_compatible_flip_and_non_flips(registry_dir: Path) -> None:
    compatible_old = _router_inputs("blue", blue={"orders": 1}, green={"orders": 2})
    compatible_new = _router_inputs("green", blue={"orders": 1}, green={"orders": 2})
    make_flip_guard(registry_dir)(_hook_args(compatible_old, compatible_new))
    # Same colour selected: an annotation-only change is no flip, whatever the versions.
    same_old = _router_inputs("blue", blue={"orders": 2}, green={"orders": 2})
    same_new = _router_inputs("blue", blue={"orders": 2}, green={"orders": 1})
    check_router_update(registry_dir, same_old, same_new)


def test_should_refuse_a_flip_the_hook_cannot_verify(registry_dir: Path) -> None:
    old = _router_inputs("blue", blue={"orders": 2}, green={"orders": 1})
    del old["metadata"]["annotations"]["pipeline-platform.io/schemas-blue"]
    new = _router_inputs("green", blue={"orders": 2}, green={"orders": 1})
    with pytest.raises(FlipGuardError, match="schemas-blue"):
        check_router_update(registry_dir, old, new)


def test_should_bind_the_hook_before_update_on_the_active_router_service(registry_dir: Path) -> None:
    # Hooks never run under mocks; check the declared binding and that it guards this registry.
    from infra.router import Router

    captured: dict[str, Any] = {}
    original = pulumi.ResourceOptions.__init__

    def capture(self: pulumi.ResourceOptions, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if kwargs.get("hooks") is not None:
            captured["hooks"] = kwargs["hooks"]

    pulumi.ResourceOptions.__init__ = capture  # type: ignore[method-assign]
    try:
        run_stack(base_config())
    finally:
        pulumi.ResourceOptions.__init__ = original  # type: ignore[method-assign]
    binding = captured["hooks"]
    assert [hook.name for hook in binding.before_update] == ["pipeline-platform-flip-guard"]
    assert binding.before_update[0].opts.on_dry_run is True
    assert Router.__doc__


def test_should_serialise_router_schema_annotations_stably() -> None:
    annotations = router_annotations(Color.GREEN, {Color.BLUE: {"b": 1, "a": 2}, Color.GREEN: {}})
    assert annotations == {
        "pipeline-platform.io/active-color": "green",
        "pipeline-platform.io/schemas-blue": json.dumps({"a": 2, "b": 1}, separators=(",", ":")),
        "pipeline-platform.io/schemas-green": "{}",
    }


def _scheduler_inputs(color: str, schemas: dict[str, int]) -> dict[str, Any]:
    """The scheduler Deployment's inputs as the engine hands them to a hook: the colour its pod template runs."""
    labels = {
        "app.kubernetes.io/name": "airflow",
        "app.kubernetes.io/component": "scheduler",
        "pipeline-platform.io/color": color,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "airflow-scheduler", "annotations": schemas_annotation(Color(color), schemas)},
        "spec": {
            "selector": {"matchLabels": {k: v for k, v in labels.items() if "color" not in k}},
            "template": {"metadata": {"labels": labels}},
        },
    }


def test_should_refuse_to_move_the_schedulers_to_an_incompatible_colour_in_the_hook(registry_dir: Path) -> None:
    # Found by the real engine: with the live colour unknown to the program, `pulumi up --skip-preview` moved the
    # scheduler to the candidate before the router's hook refused. The same hook now guards the schedulers.
    with pytest.raises(FlipRefused) as raised:
        check_router_update(
            registry_dir, _scheduler_inputs("blue", {"orders": 2}), _scheduler_inputs("green", {"orders": 1})
        )
    assert [(i.subject, i.live_version, i.candidate_version) for i in raised.value.incompatibilities] == [
        ("orders", 2, 1)
    ]
    check_router_update(
        registry_dir, _scheduler_inputs("blue", {"orders": 1}), _scheduler_inputs("green", {"orders": 2})
    )
    check_router_update(
        registry_dir, _scheduler_inputs("blue", {"orders": 2}), _scheduler_inputs("blue", {"orders": 1})
    )


def test_should_bind_the_flip_guard_to_every_object_that_follows_the_active_colour() -> None:
    run = run_stack(base_config())
    guarded = sorted(
        r.name for r in run.registrations.values() if "pipeline-platform-flip-guard" in r.before_update_hooks
    )
    assert guarded == ["router-active", "schedulers-dag-processor", "schedulers-scheduler", "schedulers-triggerer"]
    scheduler = run.resource("Deployment", "airflow-scheduler")
    assert json.loads(scheduler.inputs["metadata"]["annotations"]["pipeline-platform.io/schemas-blue"]) == dict(
        base_config()["releases"]["blue"]["schemas"]
    )
