"""``pipeline-platform gate`` and ``render``: the program's own gate alone (same messages and exit codes as the
program under Pulumi's mocks), flips rendered without editing the stack file, and bad input refused cleanly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from infra_fixtures import ROOT, flip_config, run_stack

from infra.cli import main
from infra.gate import FlipRefused

LIVE = {"orders": 2, "events": 2, "users": 3}
BACK = {"orders": 1, "events": 1, "users": 2}


def _project(tmp_path: Path, config: dict[str, Any], stack: str = "ci") -> Path:
    """A project folder with the real Pulumi.yaml (main pointing at this repository's program) and a stack file."""
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    project["main"] = str(ROOT / "infra")
    folder = tmp_path / "project"
    folder.mkdir(exist_ok=True)
    (folder / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    values = {f"pipeline-platform:{k}": v for k, v in config.items()}  # secrets: the render's placeholders
    (folder / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": values}))
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _program_refusal(registry_dir: Path, blue: dict[str, int], green: dict[str, int]) -> str:
    with pytest.raises(FlipRefused) as refused:
        run_stack(flip_config(registry_dir, "green", blue=blue, green=green), live="blue")
    return str(refused.value)


def test_should_refuse_from_flags_with_the_programs_own_message(
    registry_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "gate",
        "--live",
        "orders=2,events=2",
        "--live",
        "users=3",
        "--candidate",
        "orders=1,events=1,users=2",
        "--registry",
        registry_dir,
    )
    assert (code, err) == (1, "")
    assert out.strip() == _program_refusal(registry_dir, LIVE, BACK)


def test_should_refuse_from_a_stack_with_the_programs_own_message(
    tmp_path: Path, registry_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, flip_config(registry_dir, "blue", blue=LIVE, green=BACK))
    stack_file = (project / "Pulumi.ci.yaml").read_bytes()
    code, out, _ = run(
        capsys, "gate", "--stack", "ci", "--live-color", "blue", "--active-color", "green", "--project-dir", project
    )
    assert code == 1
    assert out.strip() == _program_refusal(registry_dir, LIVE, BACK)
    assert (project / "Pulumi.ci.yaml").read_bytes() == stack_file


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--live", "users=2", "--candidate", "users=3"], "allowed: 1 shared subject(s) compatible"),
        (["--live", "orders=1", "--candidate", "orders=2,events=1"], "allowed: 1 shared subject(s) compatible"),
        (["--live", "events=2", "--candidate", "orders=1"], "allowed: 0 shared subject(s) compatible"),
    ],
)
def test_should_allow_compatible_flips_from_flags(
    registry_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    code, out, _ = run(capsys, "gate", *args, "--registry", registry_dir)
    assert (code, out.strip()) == (0, expected)


@pytest.mark.parametrize(
    ("live", "active", "expected"),
    [
        ("none", "green", "allowed: nothing is live: first deployment, nothing to gate"),
        ("green", "green", "allowed: green is already active: no flip"),
    ],
)
def test_should_not_gate_what_the_program_does_not_gate(
    tmp_path: Path, registry_dir: Path, capsys: pytest.CaptureFixture[str], live: str, active: str, expected: str
) -> None:
    project = _project(tmp_path, flip_config(registry_dir, "blue", blue=LIVE, green=BACK))
    code, out, _ = run(
        capsys, "gate", "--stack", "ci", "--live-color", live, "--active-color", active, "--project-dir", project
    )
    assert (code, out.strip()) == (0, expected)


def test_should_answer_in_json(registry_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "gate", "--live", "orders=2", "--candidate", "orders=1", "--registry", registry_dir, "--format", "json"
    )
    answer = json.loads(out)
    assert code == 1 and answer["allowed"] is False
    assert [(i["subject"], i["kind"], i["location"]) for i in answer["incompatibilities"]] == [
        ("orders", "READER_FIELD_MISSING_DEFAULT_VALUE", "/fields/1")
    ]
    assert answer["message"].startswith("refusing to move traffic from blue (live) to green: 1 schema")


BROKEN_STEP = {"from": 1, "to": 2, "upgrade": [{"call": {"upgrade": "steps:missing"}}]}


def _broken_registry(registry_dir: Path) -> None:
    subject = registry_dir / "orders" / "subject.yaml"
    document = yaml.safe_load(subject.read_text())
    document["steps"] = [BROKEN_STEP]
    subject.write_text(yaml.safe_dump(document))


BAD_GATE = [
    ("unknown subject", ["--live", "nope=1", "--candidate", "nope=2"], "--live nope: unknown subject 'nope'"),
    (
        "unknown version",
        ["--live", "users=9", "--candidate", "users=1"],
        "--live users=9: subject 'users' has no version 9",
    ),
    ("not SUBJECT=VERSION", ["--live", "users", "--candidate", "users=1"], "'users' is not SUBJECT=VERSION"),
    ("no versions at all", [], "give --stack STACK --live-color COLOUR, or --live SUBJECT=V --candidate SUBJECT=V"),
    ("colour without stack", ["--live-color", "blue"], "--live-color and --active-color read a stack"),
    ("both ways", ["--stack", "ci", "--live", "users=1"], "give either --stack or --live/--candidate"),
    ("a missing stack file", ["--stack", "nope", "--live-color", "blue"], "Pulumi.nope.yaml does not exist"),
]


@pytest.mark.parametrize(("case", "args", "words"), BAD_GATE, ids=[b[0] for b in BAD_GATE])
def test_should_refuse_bad_gate_input_with_exit_2(
    tmp_path: Path, registry_dir: Path, capsys: pytest.CaptureFixture[str], case: str, args: list[str], words: str
) -> None:
    project = _project(tmp_path, flip_config(registry_dir, "blue", blue=LIVE, green=BACK))
    code, out, err = run(capsys, "gate", *args, "--registry", registry_dir, "--project-dir", project)
    assert (code, out) == (2, "")
    assert words in err and "Traceback" not in err


def test_should_name_the_file_and_step_of_a_broken_call_step(
    tmp_path: Path, registry_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _broken_registry(registry_dir)
    for args in (
        ["--live", "orders=2", "--candidate", "orders=1", "--registry", registry_dir],
        [
            "--stack",
            "ci",
            "--live-color",
            "blue",
            "--active-color",
            "green",
            "--project-dir",
            _project(tmp_path, flip_config(registry_dir, "blue", blue=LIVE, green=BACK)),
        ],
    ):
        code, _, err = run(capsys, "gate", *args)
        assert code == 2
        assert "orders/subject.yaml:steps[0].upgrade: call upgrade: cannot import the module of 'steps:missing'" in err


def _bomb() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


BAD_STACK_FILES = [
    ("not UTF-8", lambda text: text.encode() + b"description: caf\xe9\n", "line 1: not UTF-8 text (byte 0xe9)"),
    ("alias bomb", lambda text: (text + _bomb()).encode(), "expands to more than 1000000 values"),
    ("deep nesting", lambda text: (text + "deep: " + "[" * 150 + "]" * 150 + "\n").encode(), "nested more than 100"),
    ("not YAML", lambda text: b"config: [unclosed\n", "is not valid YAML"),
    ("not a mapping", lambda text: b"- a list\n", "must hold a YAML mapping"),
]


@pytest.mark.parametrize("command", ["gate", "render"])
@pytest.mark.parametrize(("case", "damage", "words"), BAD_STACK_FILES, ids=[b[0] for b in BAD_STACK_FILES])
def test_should_name_a_hostile_stack_file(
    tmp_path: Path,
    registry_dir: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    case: str,
    damage: Any,
    words: str,
) -> None:
    project = _project(tmp_path, flip_config(registry_dir, "blue", blue=LIVE, green=BACK))
    stack_file = project / "Pulumi.ci.yaml"
    stack_file.write_bytes(damage("" if case == "not UTF-8" else stack_file.read_text()))
    if case == "not UTF-8":
        stack_file.write_bytes(b"description: caf\xe9\n")
    tail = ["--live-color", "blue"] if command == "gate" else ["--out", tmp_path / "out"]
    code, _, err = run(capsys, command, "--stack", "ci", "--project-dir", project, *tail)
    assert code == 2
    assert err.startswith(f"error: {stack_file}") and words in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_should_render_a_flip_without_editing_the_stack_file(
    tmp_path: Path, registry_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, flip_config(registry_dir, "blue", blue={"users": 2}, green={"users": 3}))
    before = (project / "Pulumi.ci.yaml").read_bytes()
    code, out, err = run(
        capsys,
        "render",
        "--stack",
        "ci",
        "--project-dir",
        project,
        "--out",
        tmp_path / "out",
        "--live-color",
        "blue",
        "--active-color",
        "green",
        "--format",
        "json",
    )
    assert code == 0, err
    answer = json.loads(out)
    assert (answer["active_color"], answer["live_color"]) == ("green", "blue")
    router = yaml.safe_load((tmp_path / "out" / "service-airflow-api.yaml").read_text())
    assert router["spec"]["selector"]["pipeline-platform.io/color"] == "green"
    assert (project / "Pulumi.ci.yaml").read_bytes() == before


@pytest.mark.parametrize("how", [["--active-color", "green"], ["--set", "activeColor=green"]])
def test_should_refuse_to_render_an_incompatible_flip(
    tmp_path: Path, registry_dir: Path, capsys: pytest.CaptureFixture[str], how: list[str]
) -> None:
    project = _project(tmp_path, flip_config(registry_dir, "blue", blue=LIVE, green=BACK))
    code, out, err = run(
        capsys,
        "render",
        "--stack",
        "ci",
        "--project-dir",
        project,
        "--out",
        tmp_path / "out",
        "--live-color",
        "blue",
        *how,
    )
    assert (code, out) == (1, "")
    assert err.strip() == "error: " + _program_refusal(registry_dir, LIVE, BACK)
    assert not (tmp_path / "out").exists()


def test_should_refuse_an_out_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "manifests"
    target.write_text("precious")
    code, _, err = run(capsys, "render", "--stack", "dev", "--project-dir", ROOT, "--out", target)
    assert code == 2 and "exists and is a file" in err
    assert target.read_text() == "precious"


@pytest.mark.parametrize("pair", ["activeColor", "=green"])
def test_should_refuse_a_malformed_set(tmp_path: Path, capsys: pytest.CaptureFixture[str], pair: str) -> None:
    code, _, err = run(
        capsys, "render", "--stack", "dev", "--project-dir", ROOT, "--out", tmp_path / "o", "--set", pair
    )
    assert code == 2 and "is not KEY=VALUE" in err
