"""The real-engine scenario's stack: a fresh project and stack per module (see ``pulumi_engine``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pulumi_engine import (
    PASSPHRASE,
    ROOT,
    SCENARIO_STACK,
    SDK_PLUGIN_VERSION,
    SECRETS,
    STACK,
    Engine,
    engine_bin,
    write_events_subject,
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A fresh scenario project and stack, secrets set, plugin installed; nothing deployed yet."""
    bin_dir = engine_bin()
    base = tmp_path_factory.mktemp("engine")
    project, state, rendered = base / "project", base / "state", base / "rendered"
    project.mkdir()
    state.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    shutil.copytree(ROOT / "infra", project / "infra", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "schemas", project / "schemas", ignore=shutil.ignore_patterns("__pycache__"))
    write_events_subject(project / "schemas")
    (project / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump(SCENARIO_STACK, sort_keys=False))
    venv_bin = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"
    env = {
        "PATH": f"{bin_dir}:{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(base),
        "PULUMI_HOME": str(base / "pulumi-home"),
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        # The plugin installed below, never a binary that happens to be on PATH.
        "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
        # The language host built here predates Pulumi.yaml's runtime options: it runs this interpreter.
        "PULUMI_PYTHON_CMD": str(venv_bin / "python"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    engine = Engine(project, env, rendered)
    engine.run("plugin", "install", "resource", "kubernetes", SDK_PLUGIN_VERSION,
               "--file", str(bin_dir / "pulumi-resource-kubernetes"))
    engine.run("stack", "init", STACK, "--secrets-provider", "passphrase")
    for key, value in SECRETS.items():
        # The value goes in on stdin, as docs/deploying.md shows: never on a command line (process lists).
        engine.run("config", "set", "--secret", key, stdin=value)
    engine.run("config", "set", "kubernetes:renderYamlToDirectory", str(rendered))
    yield engine
