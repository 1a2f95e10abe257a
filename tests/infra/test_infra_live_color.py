"""How the program learns the live colour: environment, the stack's last activeColor output, or none.

The stack-output path runs a stand-in ``pulumi`` executable written by the test (the external CLI, not
our code), so the real subprocess call and the real parsing are exercised.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from infra_fixtures import fake_pulumi

from infra.config import Color
from infra.errors import LiveColorError
from infra.live_color import CLI_ENV_VAR, ENV_VAR, discover_live_color


@pytest.mark.parametrize(("value", "expected"), [("blue", Color.BLUE), ("GREEN", Color.GREEN), ("none", None)])
def test_should_take_the_live_colour_from_the_environment_first(
    tmp_path: Path, value: str, expected: Color | None
) -> None:
    cli = fake_pulumi(tmp_path / "bin", json.dumps({"activeColor": "green"}))
    live = discover_live_color("prod", tmp_path, env={ENV_VAR: value, "PATH": str(cli.parent)})
    assert live.color is expected
    assert live.source == ENV_VAR
    assert not (tmp_path / "bin" / "args.txt").exists()


def test_should_reject_a_bad_environment_value(tmp_path: Path) -> None:
    with pytest.raises(LiveColorError, match="PIPELINE_LIVE_COLOR is 'purple'; it must be 'blue', 'green' or 'none'"):
        discover_live_color("prod", tmp_path, env={ENV_VAR: "purple"})


def test_should_read_the_last_deployed_active_colour_from_the_stack_outputs(tmp_path: Path) -> None:
    cli = fake_pulumi(tmp_path / "bin", json.dumps({"activeColor": "green", "images": {"blue": "x"}}))
    live = discover_live_color("prod", tmp_path, env={"PATH": str(cli.parent)})
    assert live.color is Color.GREEN
    assert (tmp_path / "bin" / "args.txt").read_text().split() == ["stack", "output", "--json", "--stack", "prod"]
    assert Path((tmp_path / "bin" / "cwd.txt").read_text().strip()) == tmp_path


def test_should_treat_a_stack_without_an_active_colour_output_as_a_first_deployment(tmp_path: Path) -> None:
    cli = fake_pulumi(tmp_path / "bin", "{}")
    live = discover_live_color("dev", tmp_path, env={CLI_ENV_VAR: str(cli)})
    assert live.color is None
    assert "first deployment" in live.source


@pytest.mark.parametrize(
    ("stdout", "exit_code", "stderr", "expected"),
    [
        ("", 255, "error: no stack named 'prod' found", "exited with 255: error: no stack named 'prod' found"),
        ("not json", 0, "", "did not print JSON"),
        (json.dumps({"activeColor": "red"}), 0, "", "the stack output activeColor is 'red'"),
    ],
)
def test_should_fail_closed_when_the_stack_output_cannot_be_read(
    tmp_path: Path, stdout: str, exit_code: int, stderr: str, expected: str
) -> None:
    cli = fake_pulumi(tmp_path / "bin", stdout, exit_code, stderr)
    with pytest.raises(LiveColorError) as raised:
        discover_live_color("prod", tmp_path, env={"PATH": str(cli.parent)})
    assert expected in str(raised.value)


def test_should_say_how_to_proceed_when_no_pulumi_cli_is_on_path(tmp_path: Path) -> None:
    with pytest.raises(LiveColorError, match="Set PIPELINE_LIVE_COLOR=blue\\|green\\|none"):
        discover_live_color("prod", tmp_path, env={"PATH": str(tmp_path / "empty")})
