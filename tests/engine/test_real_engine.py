"""The three commands users run, for real: ``pulumi up``, ``pulumi config set activeColor green``, ``pulumi up``.

One scenario, in order (each test builds on the stack the previous ones left): the engine, the Python language
host and the Kubernetes provider built from source, the provider rendering to a directory instead of a cluster.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_engine import SECRETS, Engine

pytestmark = pytest.mark.engine

COLOR = "pipeline-platform.io/color"
INCOMPATIBILITIES = ("field 'payload' is not written by the writer", "field 'kind' is not written by the writer")


def router_selector_color(engine: Engine) -> str:
    """The colour the rendered active router Service selects."""
    return str(engine.rendered_object("v1-service", "airflow-api")["spec"]["selector"][COLOR])


def state_router_color(state: dict[str, Any]) -> str:
    """The colour the active router Service selects in the stack's state (what the program reads as live)."""
    routers = [r for r in state["deployment"]["resources"] if r["urn"].endswith("::router-active")]
    assert len(routers) == 1, [r["urn"] for r in routers]
    return str(routers[0]["outputs"]["spec"]["selector"][COLOR])


def scheduler_color(engine: Engine) -> str:
    """The colour whose pod template the one scheduler Deployment runs."""
    deployment = engine.rendered_object("apps_v1-deployment", "airflow-scheduler")
    return str(deployment["spec"]["template"]["metadata"]["labels"][COLOR])


def changed(events: list[dict[str, Any]]) -> dict[str, str]:
    """Resource name -> operation, for every step that is not ``same`` (reads and the stack itself left out)."""
    return {
        event["urn"].rsplit("::", 1)[-1]: event["op"]
        for event in events
        if event["op"] not in ("same", "read") and "pulumi:pulumi:Stack" not in event["urn"]
    }


def test_should_deploy_blue_first_with_the_router_on_blue(engine: Engine) -> None:
    done, events = engine.up()
    assert set(changed(events).values()) == {"create"}
    assert router_selector_color(engine) == "blue"
    assert state_router_color(engine.export()) == "blue"
    assert scheduler_color(engine) == "blue"
    assert engine.outputs()["activeColor"] == "blue"
    assert "live colour: none" in done.stdout  # a first deployment: nothing to gate


def test_should_scale_one_pool_in_place_and_change_nothing_else(engine: Engine) -> None:
    engine.run("config", "set", "--path", "workerPools[0].replicas", "3")
    _, events = engine.up()
    assert changed(events) == {"blue-pool-default-deployment": "update", "green-pool-default-deployment": "update"}
    for color in ("blue", "green"):
        worker = engine.rendered_object("apps_v1-deployment", f"airflow-{color}-worker-default")
        assert worker["spec"]["replicas"] == 3
        heavy = engine.rendered_object("apps_v1-deployment", f"airflow-{color}-worker-heavy")
        assert heavy["spec"]["replicas"] == 1


def test_should_flip_to_green_when_the_schemas_are_compatible(engine: Engine) -> None:
    engine.run("config", "set", "activeColor", "green")
    done, events = engine.up()
    assert "live colour: blue" in done.stdout
    ops = changed(events)
    assert ops["router-active"] == "update"  # a selector change is an in-place update, never a replacement
    assert not [name for name, op in ops.items() if op in ("replace", "create-replacement", "delete-replaced")
                and name.startswith("router")]
    assert router_selector_color(engine) == "green"
    assert state_router_color(engine.export()) == "green"
    assert scheduler_color(engine) == "green"
    assert engine.outputs()["activeColor"] == "green"


def test_should_refuse_an_incompatible_flip_in_preview_and_up_and_change_nothing(engine: Engine) -> None:
    before_state, before_outputs = engine.export(), engine.outputs()
    engine.run("config", "set", "--path", "releases.blue.schemas.events", "2")
    engine.run("config", "set", "activeColor", "blue")
    for command in (("preview",), ("up", "--yes")):
        done = engine.run(*command, ok=False)
        assert done.returncode != 0
        assert "refusing to move traffic from green (live) to blue: 2 schema incompatibilities" in done.stdout
        assert all(text in done.stdout for text in INCOMPATIBILITIES)
    assert router_selector_color(engine) == "green"
    assert engine.outputs() == before_outputs
    assert engine.export()["deployment"]["resources"] == before_state["deployment"]["resources"]


@pytest.mark.parametrize("skip_preview", [False, True], ids=["up", "up-skip-preview"])
def test_should_refuse_the_flip_in_the_hook_when_the_program_cannot_know_the_live_colour(
    engine: Engine, skip_preview: bool
) -> None:
    # The operator override says nothing is live, so the program's own gate has nothing to compare: the engine's
    # flip-guard hook on the router Service, reading its real old and new inputs, must refuse.
    unknown_live = {"PIPELINE_LIVE_COLOR": "none"}
    preview = engine.run("preview", ok=False, extra_env=unknown_live)
    assert preview.returncode != 0 and 'before hook "pipeline-platform-flip-guard" failed' in preview.stdout
    done, _ = engine.up(ok=False, extra_env=unknown_live, skip_preview=skip_preview)
    assert done.returncode != 0
    # --json prints the engine's diagnostics as JSON strings (quotes escaped).
    assert 'before hook \\"pipeline-platform-flip-guard\\" failed' in done.stdout
    assert "refusing to move traffic from green (live) to blue: 2 schema incompatibilities" in done.stdout
    assert all(text in done.stdout for text in INCOMPATIBILITIES)
    assert router_selector_color(engine) == "green"
    assert state_router_color(engine.export()) == "green"
    # Nothing that follows the live colour moved either: the scheduler still runs green, the record says green.
    assert scheduler_color(engine) == "green"
    assert engine.outputs()["activeColor"] == "green"


def test_should_roll_back_to_blue_gated_in_its_own_direction(engine: Engine) -> None:
    engine.run("config", "set", "--path", "releases.blue.schemas.events", "3")
    done, events = engine.up()
    assert "live colour: green" in done.stdout and "active colour: blue" in done.stdout
    assert changed(events)["router-active"] == "update"
    assert router_selector_color(engine) == "blue"
    assert state_router_color(engine.export()) == "blue"
    assert scheduler_color(engine) == "blue"
    assert engine.outputs()["activeColor"] == "blue"


def test_should_keep_every_secret_out_of_state_outputs_and_cli_output(engine: Engine) -> None:
    exported = engine.run("stack", "export").stdout
    outputs = engine.run("stack", "output", "--json").stdout
    config = engine.run("config").stdout
    assert '"ciphertext"' in exported  # the secrets are there, encrypted
    for value in SECRETS.values():
        assert value not in exported and value not in outputs and value not in config
        assert not [text for text in engine.transcript if value in text]
