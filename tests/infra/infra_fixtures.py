"""Builders for infra tests: a valid stack config to override, and a way to run the real program on it."""

from __future__ import annotations

import base64
import copy
import json
import stat
from pathlib import Path
from typing import Any

from infra.config_loader import PROJECT
from infra.live_color import ENV_VAR
from infra.mock_runtime import ProgramRun, run_program

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "infra"
"""What Pulumi.yaml's ``main: infra/`` points at."""

SECRETS = {
    "redisPassword": "test-redis-pass/word+7f3a",
    "metadataDbConnection": "postgresql+psycopg2://airflow:test-db-password-91c2@metadata-db:5432/airflow",
    "fernetKey": base64.urlsafe_b64encode(b"test-fernet-key-0123456789abcdef").decode(),
    "apiSecretKey": "test-api-secret-key-5d0e",
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


def fake_pulumi(folder: Path, stdout: str, exit_code: int = 0, stderr: str = "") -> Path:
    """A stand-in ``pulumi`` executable (the external CLI) that records its arguments and prints ``stdout``."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "pulumi"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > "{folder}/args.txt"\n'
        f'pwd > "{folder}/cwd.txt"\n'
        f"printf '%s' {json.dumps(stdout)}\n"
        f"printf '%s' {json.dumps(stderr)} >&2\n"
        f"exit {exit_code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


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
