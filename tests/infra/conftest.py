"""Fixtures of the infra tests: program runs shared by the tests that only read them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test modules import infra_fixtures too; pytest adds this folder to sys.path only after this conftest.
sys.path.insert(0, str(Path(__file__).parent))

from infra_fixtures import base_config, gate_registry, run_stack

from infra.offline.mock_runtime import ProgramRun


@pytest.fixture(scope="module")
def blue_run() -> ProgramRun:
    """The base config, blue active, first deployment."""
    return run_stack(base_config())


@pytest.fixture(scope="module")
def green_flip_run() -> ProgramRun:
    """The base config flipped to green while blue is live (users v2 -> v3: compatible)."""
    return run_stack(base_config(activeColor="green"), live="blue")


@pytest.fixture
def registry_dir(tmp_path: Path) -> Path:
    """The gate tests' registry (:func:`infra_fixtures.gate_registry`): users, orders and events."""
    return gate_registry(tmp_path / "registry")
