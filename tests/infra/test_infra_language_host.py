"""The program starts exactly as Pulumi's Python language host starts it.

A fresh, isolated interpreter (``-I``: no PYTHONPATH, no script folder on sys.path, so the project is
importable only because requirements.txt installs it with ``-e .``), the project root as working directory,
config passed the way the CLI passes it (PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS), and the ``main``
folder of Pulumi.yaml run with ``runpy.run_path(main, run_name="__main__")`` under the mock runtime.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import yaml
from infra_fixtures import ROOT, SECRETS, base_config, config_strings

LANGUAGE_HOST = """
import json, runpy, sys
import pulumi
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await
from infra.offline.mock_runtime import PlatformMocks

mocks = PlatformMocks()
pulumi.runtime.set_mocks(mocks, project="pipeline-platform", stack="dev", preview=False)
main = sys.argv[1]
_sync_await(run_pulumi_func(lambda: runpy.run_path(main, run_name="__main__")))
outputs = pulumi.runtime.get_root_resource().outputs
print(json.dumps({
    "kinds": sorted({r.inputs["kind"] for r in mocks.declared if "kind" in r.inputs}),
    "active": _sync_await(pulumi.Output.from_input(outputs["activeColor"]).future()),
    "root_on_path": any(p in ("", ".") or p.rstrip("/") == sys.argv[2] for p in sys.path),
}))
"""


def test_should_start_as_the_language_host_starts_it() -> None:
    main = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["main"]
    config = config_strings(base_config())
    config.update({f"pipeline-platform:{key}": value for key, value in SECRETS.items()})
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PULUMI_", "PIPELINE_"))}
    env.update(
        {
            "PULUMI_CONFIG": json.dumps(config),
            "PULUMI_CONFIG_SECRET_KEYS": json.dumps([f"pipeline-platform:{key}" for key in SECRETS]),
            "PIPELINE_LIVE_COLOR": "none",
        }
    )
    completed = subprocess.run(
        [sys.executable, "-I", "-c", LANGUAGE_HOST, main, str(ROOT)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["active"] == "blue"
    assert {"Deployment", "Service", "Job", "Secret", "NetworkPolicy", "PodDisruptionBudget"} <= set(report["kinds"])
    assert not report["root_on_path"]


def test_should_not_shadow_any_installed_module_from_the_main_folder() -> None:
    # run_path puts the main folder (infra/) first on sys.path while the program runs, so a module there
    # named like a standard-library or installed module (platform.py, secrets.py, redis.py) would replace
    # it for every later import.
    clashes = [
        path.name
        for path in (ROOT / "infra").glob("*.py")
        if not path.stem.startswith("__")
        and (path.stem in sys.stdlib_module_names or importlib.util.find_spec(path.stem) is not None)
    ]
    assert clashes == []
