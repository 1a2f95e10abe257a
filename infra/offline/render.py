"""Offline render: run the real program under Pulumi's mock runtime and write every Kubernetes object.

The command is ``pipeline-platform render`` (also ``python -m infra.render``), in :mod:`infra.cli`:

    python -m infra.render --stack dev --out rendered/dev [--live-color blue|green|none]

Reads ``Pulumi.yaml`` (project, ``main``, config defaults) and ``Pulumi.<stack>.yaml``; applies the flip gate
exactly as ``pulumi up`` would, with ``--live-color`` standing for the colour serving traffic (default
``none``: first deployment, nothing to gate); writes one YAML file per object with Secret values redacted,
and prints a summary.

Secrets in stack files are encrypted by Pulumi and cannot be decrypted here, so every secret that is
encrypted or unset is replaced by a clearly fake placeholder (listed in the summary).

Exit codes: 0 rendered, 1 refused by the gate (schemas, or Airflow versions on the shared database), 2 invalid
configuration (every problem listed).
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.config_loader import PROJECT, SECRET_KEYS
from infra.offline.mock_runtime import DeclaredResource, ProgramRun
from versioning.command_line import ExitCode

EXIT_RENDERED, EXIT_REFUSED, EXIT_INVALID = ExitCode.OK, ExitCode.NO, ExitCode.BAD_INPUT
# libyaml's C emitter when PyYAML was built with it: the same documents as SafeDumper (it folds long quoted
# strings at other points), about six times faster.
YAML_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
REDACTED = "<redacted>"
PLACEHOLDERS = {
    "redisPassword": "render-placeholder-redis-password",
    "metadataDbConnection": "postgresql+psycopg2://render-placeholder:render-placeholder@metadata-db:5432/airflow",
    # A syntactically valid Fernet key whose bytes spell out that it is fake.
    "fernetKey": base64.urlsafe_b64encode(b"RENDER-PLACEHOLDER-NOT-A-SECRET!").decode(),
    "apiSecretKey": "render-placeholder-api-secret-key",
    "adminPassword": "render-placeholder-admin-password",
}


class StackFileError(Exception):
    """Pulumi.yaml or the stack file is missing or unreadable."""


@dataclass(frozen=True)
class StackInput:
    """The config the render passes to the program, and which secrets are placeholders."""

    program: Path
    config: dict[str, str]
    secret_keys: list[str]
    placeholders: list[str]


def _config_string(value: Any) -> str:
    # The Pulumi CLI passes structured values as JSON and scalars as their YAML text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackFileError(f"{path} does not exist") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(loaded, dict):
        raise StackFileError(f"{path} must hold a YAML mapping")
    return loaded


def read_stack_input(project_root: Path, stack: str) -> StackInput:
    """Collect the config of ``stack`` as the Pulumi CLI would pass it, with secret placeholders."""
    project = _read_yaml(project_root / "Pulumi.yaml")
    if project.get("name") != PROJECT:
        raise StackFileError(
            f"{project_root / 'Pulumi.yaml'} declares project {project.get('name')!r}, not {PROJECT!r}"
        )
    program = project_root / str(project.get("main") or ".")
    entry = program / "__main__.py" if program.is_dir() else program
    if not entry.is_file():
        raise StackFileError(
            f"{project_root / 'Pulumi.yaml'}: main {project.get('main')!r} has no program ({entry} is missing)"
        )
    config: dict[str, str] = {}
    for key, declaration in (project.get("config") or {}).items():
        if isinstance(declaration, dict) and "default" in declaration:
            full_key = key if ":" in key else f"{PROJECT}:{key}"
            config[full_key] = _config_string(declaration["default"])
    stack_file = project_root / f"Pulumi.{stack}.yaml"
    stack_values = _read_yaml(stack_file).get("config") or {}
    if not isinstance(stack_values, dict):
        raise StackFileError(f"{stack_file}: 'config' must be a mapping of keys to values")
    encrypted: set[str] = set()
    for key, value in stack_values.items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            encrypted.add(full_key)
            continue
        config[full_key] = _config_string(value)
    secret_keys, placeholders = [], []
    for secret in SECRET_KEYS:
        full_key = f"{PROJECT}:{secret.key}"
        if full_key in encrypted or full_key not in config:
            config[full_key] = PLACEHOLDERS[secret.key]
            secret_keys.append(full_key)
            placeholders.append(secret.key)
    return StackInput(program, config, secret_keys, placeholders)


def manifest(resource: DeclaredResource) -> dict[str, Any]:
    """The Kubernetes object as YAML-ready data, Secret values redacted."""
    body = json.loads(json.dumps(resource.inputs, default=str))
    if body.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if isinstance(body.get(field), dict):
                body[field] = dict.fromkeys(body[field], REDACTED)
    ordered = {key: body[key] for key in ("apiVersion", "kind", "metadata") if key in body}
    ordered.update({key: value for key, value in sorted(body.items()) if key not in ordered})
    return {key: _sorted_keys(value) for key, value in ordered.items()}


def _sorted_keys(value: Any) -> Any:
    # Property maps arrive in no stable order; sorted keys make renders diffable. Lists keep their order.
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


def file_name(resource: DeclaredResource) -> str:
    """``<kind>-<name>.yaml``, lowercase: one file per object."""
    return f"{resource.kind.lower()}-{resource.object_name}.yaml"


def write_manifests(run: ProgramRun, out: Path) -> list[Path]:
    """Write every object into a temporary folder next to ``out``, then swap it into place."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    written = []
    try:
        for resource in run.kubernetes_objects():
            path = staging / file_name(resource)
            path.write_text(yaml.dump(manifest(resource), Dumper=YAML_DUMPER, sort_keys=False), encoding="utf-8")
            written.append(out / path.name)
        if out.exists():
            previous = out.with_name(f".{out.name}-previous")
            shutil.rmtree(previous, ignore_errors=True)
            out.rename(previous)
            staging.rename(out)
            shutil.rmtree(previous, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return written


def summary(run: ProgramRun, stack: str, out: Path, live: str, placeholders: list[str]) -> str:
    """What was rendered: objects per kind, the active colour, replicas per pool and colour."""
    objects = run.kubernetes_objects()
    kinds = Counter(resource.kind for resource in objects)
    outputs = run.outputs
    lines = [
        f"rendered {len(objects)} Kubernetes objects for stack {stack!r} into {out}",
        f"active colour: {outputs.get('activeColor')} (live colour: {live})",
        "objects per kind:",
        *(f"  {kind:<28}{count:>4}" for kind, count in sorted(kinds.items())),
        "worker replicas per pool (blue / green; 'auto' = autoscaled):",
    ]
    replicas = outputs.get("workerReplicas", {})
    pools = list(replicas.get("blue", {}))
    for pool in pools:
        shown = ["auto" if replicas[c].get(pool) is None else str(replicas[c][pool]) for c in ("blue", "green")]
        lines.append(f"  {pool:<28}{shown[0]:>4} / {shown[1]}")
    services = outputs.get("services", {})
    lines.append(f"services: active {services.get('active')}, preview {services.get('preview')}")
    if placeholders:
        lines.append(f"secrets replaced by render placeholders: {', '.join(placeholders)}")
    return "\n".join(lines)


def _find_project_root(start: Path) -> Path:
    for folder in (start, *start.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    return Path(__file__).resolve().parents[2]
