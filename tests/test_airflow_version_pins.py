"""The Airflow the tests load DAGs with is the Airflow the platform deploys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def deployed_airflow_pin() -> str:
    """The ``apache-airflow`` pin of the virtualenv that loads generated DAGs (scripts/airflow-venv.sh)."""
    found = re.findall(r'"apache-airflow==([0-9.]+)"', (ROOT / "scripts" / "airflow-venv.sh").read_text())
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("stack_file", ["Pulumi.dev.yaml", "Pulumi.prod.yaml"])
def test_should_test_dags_on_the_airflow_version_every_stack_deploys(stack_file: str) -> None:
    config = yaml.safe_load((ROOT / stack_file).read_text())["config"]
    releases = config["pipeline-platform:releases"]
    assert {color: release["airflowVersion"] for color, release in releases.items()} == {
        color: deployed_airflow_pin() for color in releases
    }


def test_should_build_images_on_the_deployed_airflow_pin_by_default() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    default = re.search(r"^ARG AIRFLOW_VERSION=([0-9.]+)$", dockerfile, re.M)
    assert default is not None and default.group(1) == deployed_airflow_pin()
