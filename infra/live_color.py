"""How the program learns which colour is live (serving traffic) before it declares anything.

The live colour is the colour the router Service actually selects, as last applied: never a copy of config.
Pulumi saves registered stack outputs even when an update fails, so an ``activeColor`` output would record a
flip that failed at the smoke test or was refused by the flip-guard hook while traffic stayed where it was.
The router Service's state, by contrast, changes only when the engine has really updated that Service.

In order:

1. ``PIPELINE_LIVE_COLOR`` in the environment: ``blue``, ``green``, or ``none`` (nothing deployed yet).
   The offline render sets it from ``--live-color``; operators can set it to override the lookup.
2. The router Service in the stack's last checkpoint: ``pulumi stack export --stack <org>/<project>/<stack>``
   (fully qualified, so the right organisation's stack is read whatever stack is selected), and in it the
   ``kubernetes:core/v1:Service`` resource named :data:`ROUTER_SERVICE_RESOURCE`; its outputs'
   ``spec.selector`` colour label is the live colour. ``stack export`` without ``--show-secrets`` returns the
   checkpoint as stored, secrets still encrypted, so it needs no secrets passphrase. During ``pulumi
   preview``/``up`` the CLI running the program is on PATH and logged in to the stack's backend; the program
   runs with the project root as working directory.
3. No router Service in the checkpoint: nothing was ever routed, so there is no live traffic to gate.

A failing lookup is an error, not a silent "first deployment": skipping the gate by accident must not be
possible. So is a router Service whose last operation was interrupted (a pending operation in the
checkpoint): what it selects is then unknown until ``pulumi refresh``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.config import Color
from infra.errors import LiveColorError
from infra.labels import COLOR_LABEL

ENV_VAR = "PIPELINE_LIVE_COLOR"
CLI_ENV_VAR = "PIPELINE_PULUMI_CLI"
"""Optional path of the ``pulumi`` executable to ask (default: ``pulumi`` on PATH)."""
ROUTER_SERVICE_TYPE = "kubernetes:core/v1:Service"
ROUTER_SERVICE_RESOURCE = "router-active"
"""Logical name of the active router Service (the ``Router`` component named ``router``, child ``-active``)."""
_OVERRIDE_HINT = f"Set {ENV_VAR}=blue|green|none to say which colour serves traffic."


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


def qualified_stack_name(organization: str | None, project: str, stack: str) -> str:
    """``organisation/project/stack``; a DIY (file, S3...) backend's organisation is always ``organization``."""
    if stack.count("/") == 2:
        return stack
    return f"{organization or 'organization'}/{project}/{stack.rsplit('/', 1)[-1]}"


def discover_live_color(
    stack: str, project_root: Path, env: Mapping[str, str] | None = None, timeout_seconds: float = 60.0
) -> LiveColor:
    """Find the live colour of ``stack`` (fully qualified; see the module docstring for the order)."""
    environment = os.environ if env is None else env
    if ENV_VAR in environment:
        return LiveColor(parse_color(environment[ENV_VAR], f"environment variable {ENV_VAR}"), ENV_VAR)
    cli = environment.get(CLI_ENV_VAR) or shutil.which("pulumi", path=environment.get("PATH"))
    if not cli:
        raise LiveColorError(
            "cannot learn the live colour: the `pulumi` CLI is not on PATH to read the router Service of "
            f"stack {stack!r} from its state. {_OVERRIDE_HINT}"
        )
    return read_router_color(cli, stack, project_root, environment, timeout_seconds)


def read_router_color(
    cli: str, stack: str, project_root: Path, env: Mapping[str, str], timeout_seconds: float
) -> LiveColor:
    """Ask ``cli stack export --stack STACK`` for the checkpoint and read the router Service's selector."""
    command = [cli, "stack", "export", "--stack", stack]
    shown = " ".join(["pulumi", *command[1:]])
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
            f"cannot learn the live colour: running {shown} failed ({error}). {_OVERRIDE_HINT}"
        ) from None
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()
        raise LiveColorError(
            f"cannot learn the live colour: {shown} exited with {completed.returncode}"
            f"{': ' + detail[-1] if detail else ''}. {_OVERRIDE_HINT}"
        )
    try:
        document = json.loads(completed.stdout)
    except json.JSONDecodeError:
        raise LiveColorError(
            f"cannot learn the live colour: {shown} did not print JSON (got {completed.stdout[:80]!r}). "
            f"{_OVERRIDE_HINT}"
        ) from None
    return router_color_in_checkpoint(document, f"the router Service in the state of stack {stack!r}")


def router_color_in_checkpoint(document: Any, source: str) -> LiveColor:
    """The colour the router Service selects in a ``pulumi stack export`` document (None: never routed)."""
    deployment = document.get("deployment") if isinstance(document, dict) else None
    if not isinstance(deployment, dict):
        raise LiveColorError(
            f"cannot learn the live colour: the exported state has no 'deployment' object. {_OVERRIDE_HINT}"
        )
    suffix = f"${ROUTER_SERVICE_TYPE}::{ROUTER_SERVICE_RESOURCE}"
    routers = [
        resource
        for resource in deployment.get("resources") or []
        if isinstance(resource, dict)
        and resource.get("type") == ROUTER_SERVICE_TYPE
        and str(resource.get("urn", "")).endswith(suffix)
        # A resource marked `delete` is a replaced copy waiting to be deleted, not what serves.
        and not resource.get("delete")
    ]
    interrupted = [
        operation
        for operation in deployment.get("pending_operations") or []
        if isinstance(operation, dict) and str((operation.get("resource") or {}).get("urn", "")).endswith(suffix)
    ]
    if interrupted:
        raise LiveColorError(
            f"cannot learn the live colour: an earlier update of the router Service was interrupted "
            f"({interrupted[0].get('type', 'pending')} operation in the state), so what it selects is unknown. "
            f"Run `pulumi refresh` to read it back from the cluster, or {_OVERRIDE_HINT[0].lower()}{_OVERRIDE_HINT[1:]}"
        )
    if not routers:
        return LiveColor(None, f"{source}: none yet (first deployment)")
    if len(routers) > 1:
        raise LiveColorError(
            f"cannot learn the live colour: the state holds {len(routers)} router Services. {_OVERRIDE_HINT}"
        )
    router = routers[0]
    for part in ("outputs", "inputs"):
        selector = ((router.get(part) or {}).get("spec") or {}).get("selector") or {}
        if COLOR_LABEL in selector:
            value = str(selector[COLOR_LABEL])
            try:
                return LiveColor(Color(value), source)
            except ValueError:
                raise LiveColorError(
                    f"cannot learn the live colour: the router Service's selector {COLOR_LABEL} is {value!r}, "
                    f"not 'blue' or 'green'. {_OVERRIDE_HINT}"
                ) from None
    raise LiveColorError(
        f"cannot learn the live colour: the router Service in the state selects no {COLOR_LABEL}. {_OVERRIDE_HINT}"
    )
