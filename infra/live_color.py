"""How the program learns which colour is live (serving traffic) before it declares anything.

In order:

1. ``PIPELINE_LIVE_COLOR`` in the environment: ``blue``, ``green``, or ``none`` (nothing deployed yet).
   The offline render sets it from ``--live-color``; operators can set it to override the lookup.
2. The stack's own last deployed ``activeColor`` output, read with ``pulumi stack output --json``. During
   ``pulumi preview``/``pulumi up`` the CLI running the program is on PATH and already logged in to the
   stack's backend; the program runs with the project root as working directory.
3. No ``activeColor`` output: the stack was never deployed, there is no live traffic and nothing to gate.

A failing lookup is an error, not a silent "first deployment": skipping the gate by accident must not be
possible.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from infra.config import Color
from infra.errors import LiveColorError

ENV_VAR = "PIPELINE_LIVE_COLOR"
CLI_ENV_VAR = "PIPELINE_PULUMI_CLI"
"""Optional path of the ``pulumi`` executable to ask (default: ``pulumi`` on PATH)."""
OUTPUT_NAME = "activeColor"


@dataclass(frozen=True)
class LiveColor:
    """The live colour (None: nothing deployed) and where that answer came from."""

    color: Color | None
    source: str


def parse_color(value: str, where: str) -> Color | None:
    """``blue``/``green`` -> the colour, ``none`` -> None; anything else is an error naming ``where``."""
    text = value.strip().lower()
    if text == "none":
        return None
    try:
        return Color(text)
    except ValueError:
        raise LiveColorError(
            f"{where} is {value!r}; it must be 'blue', 'green' or 'none' (nothing deployed yet)"
        ) from None


def discover_live_color(
    stack: str, project_root: Path, env: Mapping[str, str] | None = None, timeout_seconds: float = 60.0
) -> LiveColor:
    """Find the live colour of ``stack`` (see the module docstring for the order)."""
    environment = os.environ if env is None else env
    if ENV_VAR in environment:
        return LiveColor(parse_color(environment[ENV_VAR], f"environment variable {ENV_VAR}"), ENV_VAR)
    cli = environment.get(CLI_ENV_VAR) or shutil.which("pulumi", path=environment.get("PATH"))
    if not cli:
        raise LiveColorError(
            "cannot learn the live colour: the `pulumi` CLI is not on PATH to read this stack's "
            f"'{OUTPUT_NAME}' output. Set {ENV_VAR}=blue|green|none to say which colour serves traffic."
        )
    return read_stack_output(cli, stack, project_root, environment, timeout_seconds)


def read_stack_output(
    cli: str, stack: str, project_root: Path, env: Mapping[str, str], timeout_seconds: float
) -> LiveColor:
    """Ask ``cli stack output --json --stack STACK`` for the last deployed ``activeColor``."""
    command = [cli, "stack", "output", "--json", "--stack", stack]
    source = f"`pulumi stack output` of stack {stack!r}"
    try:
        completed = subprocess.run(
            command,
            cwd=project_root,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout_seconds,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LiveColorError(
            f"cannot learn the live colour: running {' '.join(command)} failed ({error}). "
            f"Set {ENV_VAR}=blue|green|none to say which colour serves traffic."
        ) from None
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()
        raise LiveColorError(
            f"cannot learn the live colour: {' '.join(command)} exited with {completed.returncode}"
            f"{': ' + detail[-1] if detail else ''}. "
            f"Set {ENV_VAR}=blue|green|none to say which colour serves traffic."
        )
    try:
        outputs = json.loads(completed.stdout or "{}")
    except json.JSONDecodeError:
        raise LiveColorError(
            f"cannot learn the live colour: {' '.join(command)} did not print JSON "
            f"(got {completed.stdout[:80]!r}). Set {ENV_VAR}=blue|green|none."
        ) from None
    if not isinstance(outputs, dict) or OUTPUT_NAME not in outputs:
        return LiveColor(None, f"{source} (no {OUTPUT_NAME} output yet: first deployment)")
    value = outputs[OUTPUT_NAME]
    return LiveColor(parse_color(str(value), f"the stack output {OUTPUT_NAME}"), source)
