"""Builders for infra tests: a valid stack config to override, and a way to run the real program on it."""

from __future__ import annotations

import base64
import copy
import json
import shutil
import stat
from pathlib import Path
from typing import Any

from infra.config_loader import PROJECT
from infra.live_color import ENV_VAR
from infra.offline.mock_runtime import ProgramRun, run_program

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "infra"
"""What Pulumi.yaml's ``main: infra/`` points at."""

SECRETS = {
    "redisPassword": "test-redis-pass/word+7f3a",
    "metadataDbConnection": "postgresql+psycopg2://airflow:test-db-password-91c2@metadata-db:5432/airflow",
    "fernetKey": base64.urlsafe_b64encode(b"test-fernet-key-0123456789abcdef").decode(),
    "apiSecretKey": "test-api-secret-key-5d0e",
    "adminPassword": "test-admin-password-3b8e",
}


def base_config(**overrides: Any) -> dict[str, Any]:
    """A valid stack config (blue active, two pools, green built from the Dockerfile), with overrides."""
    config: dict[str, Any] = {
        "activeColor": "blue",
        "namespace": "airflow-test",
        "afterFlip": "keepWarm",
        "releases": {
            "blue": {
                "airflowVersion": "3.0.2",
                "image": {"repository": "apache/airflow", "tag": "3.0.2-python3.12"},
                "schemas": {"users": 2},
            },
            "green": {
                "airflowVersion": "3.0.2",
                "build": {"imageName": "registry.example.com/data/airflow:candidate"},
                "schemas": {"users": 3},
            },
        },
        "workerPools": [
            {"name": "default", "queues": ["default"], "replicas": 2, "concurrency": 8},
            {"name": "etl", "queues": ["etl", "backfill"], "replicas": 3, "longestTaskSeconds": 3600},
        ],
    }
    config.update(copy.deepcopy(overrides))
    return config


def config_strings(config: dict[str, Any]) -> dict[str, str]:
    """Config as the Pulumi CLI hands it to a program: full keys, structured values as JSON."""
    return {f"{PROJECT}:{key}": value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}


CAT = shutil.which("cat") or "/bin/cat"
"""By absolute path: tests run the stand-in CLI with a PATH holding only its own folder."""


def fake_pulumi(folder: Path, stdout: str, exit_code: int = 0, stderr: str = "") -> Path:
    """A stand-in ``pulumi`` executable (the external CLI) that records its arguments and prints ``stdout``."""
    folder.mkdir(parents=True, exist_ok=True)
    # Printed from files, byte for byte: a state document is full of `$` and quotes a shell would expand.
    (folder / "stdout.txt").write_text(stdout)
    (folder / "stderr.txt").write_text(stderr)
    script = folder / "pulumi"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > "{folder}/args.txt"\n'
        f'pwd > "{folder}/cwd.txt"\n'
        f'{CAT} "{folder}/stdout.txt"\n'
        f'{CAT} "{folder}/stderr.txt" >&2\n'
        f"exit {exit_code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def checkpoint_document(run: ProgramRun, stack_outputs: dict[str, Any] | None = None) -> str:
    """What ``pulumi stack export`` prints after ``run`` was applied (format version 3).

    Every resource the run registered, with the URN, parent, dependencies and the inputs the program gave
    (outputs = inputs, as a provider echoes them), the stack resource carrying ``stack_outputs`` (the
    run's own outputs unless given: Pulumi saves them even when an update fails), a passphrase secrets
    provider, and one secret value encrypted as Pulumi stores it.
    """
    declared = {resource.urn: resource for resource in run.resources}
    stack_urn = next(urn for urn, r in run.registrations.items() if r.type == "pulumi:pulumi:Stack")
    resources: list[dict[str, Any]] = [
        {
            "urn": stack_urn,
            "custom": False,
            "type": "pulumi:pulumi:Stack",
            "outputs": run.outputs if stack_outputs is None else stack_outputs,
        }
    ]
    for urn, registration in run.registrations.items():
        if urn == stack_urn:
            continue
        inputs = declared[urn].inputs if urn in declared else {}
        if registration.type == "kubernetes:core/v1:Secret":
            inputs = {
                **inputs,
                "stringData": {
                    "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                    "ciphertext": "v1:Zq3ZkP0n9f1Jg0oO:0aFJzLq3QJc0nV7Tn2Qz6w==",
                },
            }
        entry: dict[str, Any] = {
            "urn": urn,
            "custom": registration.type.startswith(("kubernetes:", "docker:")),
            "type": registration.type,
            "inputs": inputs,
            "outputs": inputs,
            "parent": registration.parent,
            "dependencies": sorted(registration.dependencies),
        }
        if entry["custom"]:
            entry["id"] = (
                "/".join(
                    part
                    for part in (
                        (inputs.get("metadata") or {}).get("namespace"),
                        (inputs.get("metadata") or {}).get("name"),
                    )
                    if part
                )
                or registration.name
            )
            entry["provider"] = (
                "urn:pulumi:test::pipeline-platform::pulumi:providers:kubernetes::default_4_34_2::04da6b54-80e4-46f7-96ec-b56ff0331ba9"
            )
        resources.append(entry)
    return json.dumps(
        {
            "version": 3,
            "deployment": {
                "manifest": {"time": "2026-11-30T07:00:00Z", "magic": "0" * 64, "version": "v3.274.1"},
                "secrets_providers": {
                    "type": "passphrase",
                    "state": {"salt": "v1:Ftr3A0xnUfQ=:v1:pGdBuBDc0kUbArVP:1rw3JEmslNJgWpEfEzI3f0E2G4gl0g=="},
                },
                "resources": resources,
            },
        },
        indent=4,
    )


def run_stack(
    config: dict[str, Any],
    live: str | None = "none",
    secrets: dict[str, str] | None = None,
    plain_secrets: tuple[str, ...] = (),
    stack: str = "test",
    env: dict[str, str] | None = None,
) -> ProgramRun:
    """Run infra/ under Pulumi's mocks with ``config`` and the secrets (``plain_secrets`` set unencrypted).

    ``live`` sets PIPELINE_LIVE_COLOR; None leaves it unset so the program asks the ``pulumi`` CLI.
    """
    values = config_strings(config)
    secret_keys = []
    for key, value in (SECRETS if secrets is None else secrets).items():
        values[f"{PROJECT}:{key}"] = value
        if key not in plain_secrets:
            secret_keys.append(f"{PROJECT}:{key}")
    environment = dict(env or {})
    if live is not None:
        environment[ENV_VAR] = live
    return run_program(PROGRAM, stack, values, secret_keys, env=environment)


def run_shipped_stack(stack: str, live: str = "none") -> ProgramRun:
    """The shipped ``Pulumi.<stack>.yaml`` run as the offline render runs it (secrets as placeholders)."""
    from infra.offline.render import read_stack_input

    stack_input = read_stack_input(ROOT, stack)
    return run_program(stack_input.program, stack, stack_input.config, stack_input.secret_keys, env={ENV_VAR: live})


def pod_templates(run: ProgramRun) -> list[tuple[str, dict[str, Any]]]:
    """``(kind/name, pod template)`` of every Deployment and Job."""
    return [
        (f"{r.kind}/{r.object_name}", r.inputs["spec"]["template"])
        for r in run.kubernetes_objects()
        if r.kind in {"Deployment", "Job"}
    ]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """A container's env as name -> value (or valueFrom)."""
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])}


GATE_ORDER_V1 = {
    "type": "record",
    "name": "Order",
    "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "int"}],
}
GATE_ORDER_V2 = {"type": "record", "name": "Order", "fields": [{"name": "id", "type": "string"}]}
GATE_EVENT_V1 = {"type": "record", "name": "Event", "fields": [{"name": "count", "type": "long"}]}
GATE_EVENT_V2 = {"type": "record", "name": "Event", "fields": [{"name": "count", "type": "int"}]}


def gate_registry(folder: Path) -> Path:
    """A registry with three subjects: users (the project's, BACKWARD), orders v2 drops a required field
    (BACKWARD: fine forward, a rollback to v1 cannot read v2 data), events v2 narrows long to int (FORWARD: v1
    readers promote v2's ints; going back to v1, v2 readers cannot take v1's longs)."""
    from versioning import Compatibility, Registry

    folder.mkdir()
    registry = Registry.load(folder)
    project = Registry.load(ROOT / "schemas")
    for version in project.subject("users").versions:
        registry.add_version("users", project.subject("users").schema(version), Compatibility.BACKWARD)
    registry.add_version("orders", GATE_ORDER_V1, Compatibility.BACKWARD)
    registry.add_version("orders", GATE_ORDER_V2)
    registry.add_version("events", GATE_EVENT_V1, Compatibility.FORWARD)
    registry.add_version("events", GATE_EVENT_V2)
    return folder


def flip_config(registry_dir: Path, active: str, blue: dict[str, int], green: dict[str, int]) -> dict[str, Any]:
    """The base config on ``registry_dir`` with ``active`` as activeColor and each colour's schema versions."""
    config = base_config(activeColor=active, schemaRegistry=str(registry_dir))
    config["releases"]["blue"]["schemas"] = blue
    config["releases"]["green"]["schemas"] = green
    return config
