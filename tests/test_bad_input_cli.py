"""The three command lines (versioning, datapipe, pipeline-platform) as CI uses them: one set of exit codes,
--version, shell completion, JSON on stdout and diagnostics on stderr, SIGTERM and SIGINT leaving nothing
behind, existing outputs kept, a full disk named, hostile YAML refused. Console scripts run as installed."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
VERSION = version("pipeline-platform")
CLIS = ["versioning", "datapipe", "pipeline-platform"]
V1_ROW = {"id": "u1", "name": "Ana", "created_at": "2024-01-01T00:00:00Z"}


def cli(
    *args: str | Path, env: dict[str, str] | None = None, cwd: Path = ROOT, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run an installed console script (first argument) with the rest as its arguments."""
    command, *rest = (str(a) for a in args)
    return subprocess.run(
        [str(BIN / command), *rest],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return Path(shutil.copytree(ROOT / "schemas", tmp_path / "schemas"))


def test_should_share_one_exit_code_definition() -> None:
    import datapipe.cli
    import infra.cli
    import versioning.cli
    from versioning.command_line import ExitCode

    assert (versioning.cli.OK, versioning.cli.NO, versioning.cli.BAD_INPUT) == (0, 1, 2)
    assert tuple(ExitCode)[:3] == (datapipe.cli.EXIT_OK, datapipe.cli.EXIT_REFUSED, datapipe.cli.EXIT_BAD_INPUT)
    assert infra.cli.run is versioning.cli.run is datapipe.cli.run


def test_should_keep_the_cli_vocabularies_equal_to_the_libraries() -> None:
    from datapipe.cli import CLOUDS
    from datapipe.config import Cloud
    from versioning import Compatibility
    from versioning.cli import MODES

    assert [m.value.lower().replace("_", "-") for m in Compatibility] == MODES
    assert [c.value for c in Cloud] == CLOUDS


@pytest.mark.parametrize("command", CLIS)
def test_should_print_the_package_version(command: str) -> None:
    done = cli(command, "--version")
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, f"{command} {VERSION}", "")


@pytest.mark.parametrize(
    ("command", "typed", "expected"),
    [
        ("versioning", "val", "validate"),
        ("versioning", "migrate down", "downgrade"),
        ("datapipe", "gen", "generate"),
        ("pipeline-platform", "ga", "gate"),
        ("pipeline-platform", "render --live", "--live-color"),
    ],
)
def test_should_complete_in_bash(command: str, typed: str, expected: str) -> None:
    function = f"_{command.replace('-', '_')}_completion"
    variable = f"_{command.replace('-', '_').upper()}_COMPLETE"
    words = [command, *typed.split()]
    script = (
        f'eval "$({variable}=bash_source {command})"; COMP_WORDS=({" ".join(words)}); '
        f'COMP_CWORD={len(words) - 1}; {function} {command}; echo "${{COMPREPLY[@]}}"'
    )
    done = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout.split()


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_should_answer_in_json_on_stdout_with_nothing_on_stderr(tmp_path: Path, registry: Path) -> None:
    data = _jsonl(tmp_path / "in.jsonl", [V1_ROW, {"id": "u2"}])
    cases = {
        ("versioning", "check", "--registry", registry, "--format", "json"): (0, lambda d: d["ok"] is True),
        ("versioning", "subjects", "--registry", registry, "--json"): (0, lambda d: d[0]["name"] == "users"),
        ("versioning", "compat", registry / "users/v1.avsc", registry / "users/v3.avsc", "--format", "json"): (
            0,
            lambda d: d["compatible"] is True,
        ),
        ("versioning", "validate", "users", data, "--version", "1", "--registry", registry, "--format", "json"): (
            1,
            lambda d: (d["records"], d["invalid"], d["errors"][0]["where"]) == (2, 1, "line 2"),
        ),
        (
            "versioning",
            "upgrade",
            "users",
            data,
            tmp_path / "out.jsonl",
            "--to",
            "3",
            "--from",
            "1",
            "--rejects",
            tmp_path / "rejects.jsonl",
            "--registry",
            registry,
            "--format",
            "json",
        ): (1, lambda d: (d["written"], d["rejected"]) == (1, 1)),
        (
            "pipeline-platform",
            "gate",
            "--live",
            "users=2",
            "--candidate",
            "users=3",
            "--registry",
            registry,
            "--json",
        ): (
            0,
            lambda d: d["allowed"] is True,
        ),
        ("datapipe", "init", tmp_path / "project", "--format", "json"): (0, lambda d: d["created"].endswith(".yaml")),
    }
    for args, (code, check) in cases.items():
        done = cli(*args)
        assert (done.returncode, done.stderr) == (code, ""), (args, done.stderr)
        assert check(json.loads(done.stdout)), args


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT])
def test_should_leave_no_temporary_file_when_stopped(tmp_path: Path, registry: Path, sent: signal.Signals) -> None:
    data = _jsonl(tmp_path / "in.jsonl", [{**V1_ROW, "id": f"u{i}"} for i in range(200_000)])
    process = subprocess.Popen(
        [
            str(BIN / "versioning"),
            "upgrade",
            "users",
            data,
            tmp_path / "out.jsonl",
            "--to",
            "3",
            "--from",
            "1",
            "--registry",
            registry,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.jsonl.*.tmp")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.005)
    assert list(tmp_path.glob(".out.jsonl.*.tmp")), "the upgrade ended before it could be stopped"
    process.send_signal(sent)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "nothing partial was written" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "schemas"]


def test_should_name_the_output_when_the_disk_is_full(tmp_path: Path, registry: Path) -> None:
    data = _jsonl(tmp_path / "in.jsonl", [{**V1_ROW, "id": f"u{i}"} for i in range(20_000)])

    def small_files() -> None:  # the file size limit fails writes as a full disk does (EFBIG beside ENOSPC)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    out = tmp_path / "out.jsonl"
    done = cli(
        "versioning",
        "upgrade",
        "users",
        data,
        out,
        "--to",
        "3",
        "--from",
        "1",
        "--registry",
        registry,
        preexec_fn=small_files,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"error: {out}: cannot be written (File too large); free some space or write to another disk"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "schemas"]


@pytest.mark.parametrize(
    "args",
    [
        ["upgrade", "users", "IN", "OUT", "--to", "3", "--from", "1"],
        ["migrate", "sql", "users", "--from", "1", "--to", "2", "-o", "OUT"],
        ["export", "users", "--version", "2", "--out", "OUT"],
    ],
)
def test_should_keep_an_existing_output_unless_overwriting_is_asked(
    tmp_path: Path, registry: Path, args: list[str]
) -> None:
    data = _jsonl(tmp_path / "in.jsonl", [V1_ROW])
    out = tmp_path / "precious.jsonl"
    out.write_text("keep me\n")
    typed = [str(data) if a == "IN" else str(out) if a == "OUT" else a for a in args]
    done = cli("versioning", *typed, "--registry", registry)
    assert done.returncode == 2
    assert (
        done.stderr.strip() == f"error: {out}: exists already; choose another name, or pass --overwrite to replace it"
    )
    assert out.read_text() == "keep me\n"
    assert cli("versioning", *typed, "--registry", registry, "--overwrite").returncode == 0
    assert out.read_text() != "keep me\n"


def _alias_bomb() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("case", "damage", "words"),
    [
        ("not UTF-8", lambda text: text.replace(b"People", b"Peo\xffple"), "not valid YAML"),
        ("alias bomb", lambda text: text + _alias_bomb().encode() + b"x: *a8\n", "expands to more than 1000000 values"),
        ("deep nesting", lambda text: text + b"x: " + b"[" * 200 + b"]" * 200 + b"\n", "nested more than 100 levels"),
    ],
)
def test_should_refuse_a_hostile_subject_yaml_naming_it(registry: Path, case: str, damage: object, words: str) -> None:
    subject = registry / "users" / "subject.yaml"
    subject.write_bytes(damage(subject.read_bytes()))  # type: ignore[operator]
    started = time.monotonic()
    done = cli("versioning", "check", "--registry", registry)
    assert done.returncode == 1 and time.monotonic() - started < 30
    assert "users/subject.yaml" in done.stdout and words in done.stdout and "Traceback" not in done.stderr
    assert cli("versioning", "subjects", "--registry", registry).returncode == 2


def test_should_refuse_a_deeply_nested_schema_naming_it(tmp_path: Path, registry: Path) -> None:
    deep = '"string"'
    for _ in range(3000):
        deep = '{"type": "array", "items": ' + deep + "}"
    old = tmp_path / "deep.avsc"
    old.write_text('{"type": "record", "name": "R", "fields": [{"name": "a", "type": ' + deep + "}]}")
    done = cli("versioning", "compat", old, registry / "users" / "v1.avsc")
    assert done.returncode == 2
    assert f"{old}: " in done.stderr and "nested" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"project: caf\xe9\n", "config.yaml:1: not UTF-8 text (byte 0xe9)"),
        (_alias_bomb().encode() + b"project: *a8\n", "expands to more than 1000000 values"),
    ],
)
def test_should_refuse_a_hostile_datapipe_config_naming_it(tmp_path: Path, content: bytes, words: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_bytes(content)
    done = cli("datapipe", "generate", "dag", "t", "--config", config)
    assert done.returncode == 2
    assert str(config) in done.stderr and words in done.stderr and "Traceback" not in done.stderr


# Root reads and writes whatever the permissions say, and CI runs as root: there, the CLI runs without the
# capabilities that bypass file permissions (util-linux's setpriv), so permissions apply as they do for anyone else.
_NO_OVERRIDE = "-dac_override,-dac_read_search"
_AS_ANYONE = ["setpriv", f"--bounding-set={_NO_OVERRIDE}", f"--inh-caps={_NO_OVERRIDE}"] if os.geteuid() == 0 else []


def test_should_name_an_unreadable_input_and_a_read_only_folder(tmp_path: Path, registry: Path) -> None:
    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        command, *rest = (str(a) for a in args)
        return subprocess.run(
            [*_AS_ANYONE, str(BIN / command), *rest], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
        )

    data = _jsonl(tmp_path / "in.jsonl", [V1_ROW])
    data.chmod(0)
    done = run("versioning", "validate", "users", data, "--registry", registry)
    assert done.returncode == 2 and str(data) in done.stderr and "Traceback" not in done.stderr
    assert "not readable" in done.stderr or "permission denied" in done.stderr.lower()
    data.chmod(0o644)
    assert run("versioning", "validate", "users", data, "--version", "1", "--registry", registry).returncode == 0
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    done = run(
        "versioning", "upgrade", "users", data, folder / "out.jsonl", "--to", "3", "--from", "1", "--registry", registry
    )
    assert done.returncode == 2 and str(folder) in done.stderr and "Traceback" not in done.stderr
    assert list(folder.iterdir()) == []


def test_should_say_when_records_need_from(tmp_path: Path, registry: Path) -> None:
    done = cli(
        "versioning",
        "upgrade",
        "users",
        ROOT / "samples" / "users-v1.jsonl",
        tmp_path / "out.jsonl",
        "--to",
        "3",
        "--registry",
        registry,
    )
    assert done.returncode == 1
    assert "line 1: the record has no 'schema_version' field" in done.stdout
    assert "need --from N, the version they were written with" in done.stderr
    assert not (tmp_path / "out.jsonl").exists()
