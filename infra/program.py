"""The program's steps in order, as a function the entry point and the tests share."""

from __future__ import annotations

from pathlib import Path

import pulumi

from infra.config import StackConfig
from infra.config_loader import load_stack
from infra.errors import ConfigProblem
from infra.gate import (
    enforce_airflow_versions,
    enforce_flip,
    named_subjects,
    registry_problems,
    schema_reference_problems,
)
from infra.live_color import discover_live_color, qualified_stack_name
from infra.platform_stack import declare_platform
from versioning import Registry


def project_root_of(candidate: Path) -> Path:
    """The folder holding Pulumi.yaml: ``candidate`` if it does, else the working directory."""
    return candidate if (candidate / "Pulumi.yaml").is_file() else Path.cwd()


def run(project_root: Path) -> dict[str, object]:
    """Parse and check the config, gate the flip, declare every resource; return the stack outputs.

    Raises :class:`~infra.errors.ConfigError` (every config problem), :class:`~infra.gate.FlipRefused`
    (every schema incompatibility), :class:`~infra.gate.AirflowVersionRefused` (colours on different Airflow
    versions while one is live) or :class:`~infra.errors.LiveColorError` before any resource exists.
    """
    root = project_root_of(project_root)
    stack = pulumi.get_stack()
    loaded: list[Registry] = []

    def registry_checks(config: StackConfig) -> list[ConfigProblem]:
        registry, problems = registry_problems(root / config.schema_registry, named_subjects(config))
        if registry is None:
            return problems
        loaded.append(registry)
        return schema_reference_problems(config, registry)

    config, secrets = load_stack(stack, registry_checks)
    registry = loaded[0]
    live = discover_live_color(qualified_stack_name(pulumi.get_organization(), pulumi.get_project(), stack), root)
    enforce_flip(registry, config, live.color)
    enforce_airflow_versions(config, live.color)
    pulumi.log.info(
        f"live colour: {live.color.value if live.color else 'none'} ({live.source}); "
        f"active colour: {config.active_color.value}"
    )
    return declare_platform(config, secrets, live.color, root).outputs()
