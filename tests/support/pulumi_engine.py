"""Drive the real Pulumi engine (built by ``scripts/build-engine.sh``) on the real program, offline.

A scenario project is laid out in a temporary folder: this project's ``Pulumi.yaml``, ``infra/`` and ``schemas/``
plus one scenario subject, a stack of its own on the local file backend with the passphrase secrets provider,
and the Kubernetes provider rendering every object to a directory (``kubernetes:renderYamlToDirectory``) instead
of talking to a cluster. Diffs, replacements, resource hooks and state are the engine's own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
STACK = "scenario"
PASSPHRASE = "scenario passphrase, never printed"
# The Python SDK pulumi_kubernetes asks the engine for this plugin version; the provider the module proxy serves
# is older (see scripts/build-engine.sh), so the built binary is installed under the version the SDK asks for.
SDK_PLUGIN_VERSION = "4.34.2"
SECRETS = {
    "redisPassword": "redis-Secret-4f1c9a",
    "metadataDbConnection": "postgresql+psycopg2://airflow:Db-Secret-77e2b1@db.example.com:5432/airflow",
    "fernetKey": "c2NlbmFyaW8tZmVybmV0LWtleS0zMi1ieXRlcy0hISE=",
    "apiSecretKey": "api-Secret-0b93d8",
    "adminPassword": "admin-Secret-5d1e70",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def engine_bin() -> Path:
    """The bin folder of the built engine; skip (fail under CI) when it is not built."""
    done = subprocess.run(["bash", str(ROOT / "scripts" / "build-engine.sh"), "--print-bin"],
                          capture_output=True, text=True, check=False)
    folder = Path(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 and done.stdout.strip() else None
    names = ("pulumi", "pulumi-language-python", "pulumi-language-python-exec", "pulumi-resource-kubernetes")
    if folder is None or not all((folder / name).is_file() for name in names):
        go = shutil.which("go")
        reason = ("the Pulumi engine is not built: run `make engine` (Go and the Go module proxy needed)" if go
                  else "Go is not installed, so the Pulumi engine cannot be built here (`make engine`)")
        if in_ci():
            pytest.fail(f"{reason}; CI requires the real-engine scenario", pytrace=False)
        pytest.skip(reason)
    return folder


@dataclass
class Engine:
    """The Pulumi CLI run in the scenario project, with every command's output kept for the secrets check."""

    project: Path
    env: dict[str, str]
    rendered: Path
    transcript: list[str] = field(default_factory=list)

    def run(self, *args: str, ok: bool = True, extra_env: dict[str, str] | None = None,
            stdin: str | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
        """Run ``pulumi ARGS``; with ``ok`` the command must succeed."""
        done = subprocess.run(["pulumi", *args], cwd=self.project, env={**self.env, **(extra_env or {})},
                              input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
        self.transcript.extend([done.stdout, done.stderr])
        if ok:
            tail = f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            assert done.returncode == 0, f"pulumi {' '.join(args)} failed:\n{tail}"
        return done

    def up(self, *, ok: bool = True, extra_env: dict[str, str] | None = None,
           skip_preview: bool = False) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
        """``pulumi up --yes --json``: the result and the engine's step events (op, urn, diffs) in order."""
        args = ["up", "--yes", "--json", *(["--skip-preview"] if skip_preview else [])]
        done = self.run(*args, ok=ok, extra_env=extra_env)
        return done, step_events(done.stdout)

    def outputs(self) -> dict[str, Any]:
        return dict(json.loads(self.run("stack", "output", "--json").stdout))

    def export(self) -> dict[str, Any]:
        return dict(json.loads(self.run("stack", "export").stdout))

    def rendered_object(self, kind: str, name: str) -> dict[str, Any]:
        """The rendered manifest of ``kind`` (e.g. ``v1-service``) named ``name`` in the stack's namespace."""
        matches = sorted(self.rendered.rglob(f"{kind}-airflow-scenario-{name}.yaml"))
        assert len(matches) == 1, f"expected one rendered {kind} {name}, found {matches}"
        return dict(yaml.safe_load(matches[0].read_text()))


def step_events(stdout: str) -> list[dict[str, Any]]:
    """The ``resourcePreEvent`` metadata of a ``--json`` run (the engine prints one JSON document per event)."""
    decoder, position, events = json.JSONDecoder(), 0, []
    while position < len(stdout):
        while position < len(stdout) and stdout[position].isspace():
            position += 1
        if position >= len(stdout):
            break
        document, position = decoder.raw_decode(stdout, position)
        if isinstance(document, dict) and "resourcePreEvent" in document:
            events.append(document["resourcePreEvent"]["metadata"])
    return events


SCENARIO_STACK = {
    "config": {
        "pipeline-platform:activeColor": "blue",
        "pipeline-platform:namespace": "airflow-scenario",
        # keepWarm: both colours' pools stay at full size, so scaling a pool changes a Deployment in each colour.
        "pipeline-platform:afterFlip": "keepWarm",
        "pipeline-platform:releases": {
            "blue": {"airflowVersion": "3.0.2", "image": {"repository": "apache/airflow", "tag": "3.0.2-python3.12"},
                     "schemas": {"users": 2, "events": 3}},
            "green": {"airflowVersion": "3.0.2", "image": {"repository": "apache/airflow", "tag": "3.0.2-python3.12"},
                      "schemas": {"users": 3, "events": 3}},
        },
        "pipeline-platform:workerPools": [
            {"name": "default", "queues": ["default"], "replicas": 1, "concurrency": 4, "longestTaskSeconds": 300},
            {"name": "heavy", "queues": ["heavy"], "replicas": 1, "concurrency": 2, "longestTaskSeconds": 600},
        ],
    }
}


def write_events_subject(registry: Path) -> None:
    """A subject whose v3 drops two fields v1 and v2 require: moving from v3 back to v2 breaks BACKWARD twice."""
    def record(*fields: dict[str, Any]) -> dict[str, Any]:
        return {"type": "record", "name": "Event", "namespace": "scenario", "fields": list(fields)}

    ident, payload, kind = {"name": "id", "type": "long"}, {"name": "payload", "type": "string"}, \
        {"name": "kind", "type": "string"}
    source = {"name": "source", "type": "string", "default": ""}
    folder = registry / "events"
    folder.mkdir()
    for number, schema in enumerate([record(ident, payload, kind), record(ident, payload, kind, source),
                                     record(ident, source)], 1):
        (folder / f"v{number}.avsc").write_text(json.dumps(schema, indent=2))
    (folder / "subject.yaml").write_text(yaml.safe_dump({
        "compatibility": "BACKWARD",
        "steps": [{"from": 1, "to": 2, "upgrade": [{"add": "source"}]},
                  {"from": 2, "to": 3, "upgrade": [{"remove": "payload"}, {"remove": "kind"}]}],
    }, sort_keys=False))
