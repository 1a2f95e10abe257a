"""Every command-line example in the README runs as written, against the files in samples/.

Each line of a ``bash`` block that starts with one of the project's commands runs from a scratch copy of the
repository's registry, samples and stack files (so outputs never land in the checkout, and ``--overwrite`` is never
needed); its exit code is 0 unless its comment says ``exit N``. ``datapipe generate`` needs the source database its
config names, so only ``datapipe init`` and ``--help`` run here (tests/datapipe covers the rest).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COMMANDS = ("versioning", "datapipe", "pipeline-platform", "python", ".venv/bin/python")
NEEDS_A_DATABASE = re.compile(r"^datapipe (generate|extract) (?!--help)")


def readme_commands() -> list[tuple[str, int]]:
    """(command line, expected exit code) for each runnable line of the README's bash blocks."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            command, _, comment = line.partition("#")
            command = command.strip()
            if not command.startswith(COMMANDS) or NEEDS_A_DATABASE.match(command):
                continue
            expected = re.search(r"exit (\d+)", comment)
            found.append((command, int(expected.group(1)) if expected and "exit 0" not in comment else 0))
    return found


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "schemas", folder / "schemas")
    shutil.copytree(ROOT / "samples", folder / "samples")
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    project["main"] = str(ROOT / "infra")  # the program itself stays in the checkout
    (folder / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    shutil.copy(ROOT / "Pulumi.dev.yaml", folder / "Pulumi.dev.yaml")
    return folder


def test_should_find_the_readme_examples() -> None:
    commands = [c for c, _ in readme_commands()]
    assert any(c.startswith("versioning upgrade") and "--from 1" in c for c in commands)
    assert any(c.startswith("pipeline-platform gate") for c in commands)
    assert sum(code != 0 for _, code in readme_commands()) >= 3


@pytest.mark.parametrize(("command", "expected"), readme_commands(), ids=[c for c, _ in readme_commands()])
def test_should_run_the_readme_example_as_written(workspace: Path, command: str, expected: int) -> None:
    words = shlex.split(command)
    if words[0] in ("python", ".venv/bin/python"):
        words[0] = sys.executable
    elif not words[0].startswith("/"):
        words[0] = str(BIN / words[0])
    done = subprocess.run(words, cwd=workspace, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == expected, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
