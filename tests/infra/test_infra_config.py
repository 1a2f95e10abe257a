"""The stack config: every bad value reported at once, with its key, before any resource is declared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from infra_fixtures import ROOT, SECRETS, base_config, run_stack

from infra.config import AfterFlip, StackConfig
from infra.errors import ConfigError
from infra.offline.render import read_stack_input


def _with(path: str, value: Any) -> dict[str, Any]:
    """base_config with one nested value replaced; ``path`` like ``workerPools.1.replicas``."""
    config = base_config()
    node: Any = config
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return config


def _without(path: str) -> dict[str, Any]:
    config = base_config()
    node: Any = config
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    del node[parts[-1]]
    return config


BAD_CONFIGS = [
    (_with("workerPools.1.replicas", -1), "workerPools[1].replicas: must be >= 0 (got -1)"),
    (_with("workerPools.0.concurrency", 0), "workerPools[0].concurrency: must be >= 1 (got 0)"),
    (_with("workerPools.0.queues", []), "workerPools[0].queues: must have at least 1 item"),
    (_with("workerPools.0.name", "Default_Pool"), "workerPools[0].name: must be a DNS label"),
    (_with("workerPools.1.replicas", "three"), "workerPools[1].replicas: must be a whole number (got 'three')"),
    (_with("activeColor", "purple"), "activeColor: must be one of 'blue' or 'green' (got 'purple')"),
    (_with("afterFlip", "later"), "afterFlip: must be one of 'keepWarm' or 'scaleDown' (got 'later')"),
    (_without("activeColor"), "activeColor: is required"),
    (_without("releases.green"), "releases: declare a release for each colour; missing: green"),
    (
        _with("releases.blue.airflowVersion", "2.5.0"),
        "releases.blue.airflowVersion: Airflow 2.5.0 is not supported; use 2.7 or newer 2.x, or 3.x",
    ),
    (
        _with("releases.blue.build", {"imageName": "x/airflow:1"}),
        "releases.blue: set exactly one of 'image' (a prebuilt image) or 'build' (build from Dockerfile)",
    ),
    (_with("releases.green.schemas", {"users": 0}), "releases.green.schemas.users: must be >= 1 (got 0)"),
    (
        _with("workerPools.1.terminationGracePeriodSeconds", 60),
        "workerPools[1]: terminationGracePeriodSeconds (60) must be >= longestTaskSeconds (3600)",
    ),
    (
        _with(
            "workerPools.0.resources",
            {"requests": {"cpu": "lots", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        ),
        "workerPools[0].resources.requests.cpu: 'lots' is not a Kubernetes quantity",
    ),
    (
        _with("workerPools.0.autoscaling", {"kind": "hpa", "minReplicas": 5, "maxReplicas": 2}),
        "workerPools[0].autoscaling: minReplicas (5) must be <= maxReplicas (2)",
    ),
    (
        _with("workerPools.0.autoscaling", {"kind": "hpa", "minReplicas": 0, "maxReplicas": 2}),
        "workerPools[0].autoscaling: an hpa cannot scale to zero",
    ),
    (
        base_config(workerPools=[{"name": "a", "queues": ["q"], "replicas": 1}] * 2),
        "workerPools: pool name 'a' is used twice",
    ),
    (base_config(workerPool=[]), "workerPool: is not a known key (check the spelling); known keys here: activeColor"),
    (
        _with("workerPools.0.replica", 3),
        "workerPools[0].replica: is not a known key (check the spelling); known keys here: name, queues, replicas",
    ),
    (base_config(namespace="Airflow"), "namespace: must be a DNS label"),
    (_with("releases.green.schemas", {"orders": 1}), "releases.green.schemas.orders: unknown subject 'orders'"),
    (
        _with("releases.green.schemas", {"users": 9}),
        "releases.green.schemas.users: subject 'users' has no version 9; known versions: 1, 2, 3",
    ),
    (base_config(schemaRegistry="no-such-folder"), "schemaRegistry: "),
]


@pytest.mark.parametrize(
    ("config", "expected"), BAD_CONFIGS, ids=[expected.split(":")[0] for _, expected in BAD_CONFIGS]
)
def test_should_refuse_a_bad_config_with_a_message_naming_the_key(config: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        run_stack(config)
    lines = str(raised.value).splitlines()
    assert any(line.startswith(f"  - {expected}") for line in lines), str(raised.value)
    assert "Pulumi.test.yaml" in str(raised.value)


def test_should_list_every_problem_in_one_error_before_declaring_anything() -> None:
    config = base_config(activeColor="purple")
    config["workerPools"][0]["replicas"] = -1
    config["workerPools"][1]["concurrency"] = 0
    with pytest.raises(ConfigError) as raised:
        run_stack(config, secrets={k: v for k, v in SECRETS.items() if k != "fernetKey"})
    keys = [problem.key for problem in raised.value.problems]
    assert keys == ["activeColor", "workerPools[0].replicas", "workerPools[1].concurrency", "fernetKey"]
    assert "4 problems" in str(raised.value)


def test_should_report_schema_reference_and_secret_problems_together() -> None:
    config = base_config()
    config["releases"]["green"]["schemas"] = {"users": 9}
    with pytest.raises(ConfigError) as raised:
        run_stack(config, secrets={k: v for k, v in SECRETS.items() if k != "apiSecretKey"})
    assert [problem.key for problem in raised.value.problems] == ["apiSecretKey", "releases.green.schemas.users"]


@pytest.mark.parametrize(
    "secret", ["redisPassword", "metadataDbConnection", "fernetKey", "apiSecretKey", "adminPassword"]
)
def test_should_require_each_secret_to_be_a_pulumi_secret(secret: str) -> None:
    with pytest.raises(ConfigError) as raised:
        run_stack(base_config(), plain_secrets=(secret,))
    assert (
        f"{secret}: is stored in plain text; it must be a Pulumi secret: `pulumi config set --secret {secret}"
        in str(raised.value)
    )


def test_should_require_missing_secrets_with_the_command_that_sets_them() -> None:
    with pytest.raises(ConfigError) as raised:
        run_stack(base_config(), secrets={})
    assert [p.key for p in raised.value.problems] == [
        "redisPassword",
        "metadataDbConnection",
        "fernetKey",
        "apiSecretKey",
        "adminPassword",
    ]
    assert "set it with `pulumi config set --secret redisPassword" in str(raised.value)


@pytest.mark.parametrize(
    ("secret", "value", "expected"),
    [
        ("fernetKey", "not-a-key", "fernetKey: is not a Fernet key"),
        ("metadataDbConnection", "sqlite:///airflow.db", "metadataDbConnection: is not a PostgreSQL or MySQL"),
    ],
)
def test_should_check_secret_values_without_echoing_them(secret: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        run_stack(base_config(), secrets={**SECRETS, secret: value})
    assert expected in str(raised.value)
    assert value not in str(raised.value)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_should_accept_the_shipped_stack_files(stack: str) -> None:
    stack_input = read_stack_input(ROOT, stack)
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    model = StackConfig.model_validate({key.split(":", 1)[1]: value for key, value in raw.items()})
    assert model.active_color.value == "blue"
    assert stack_input.program == ROOT / "infra"


def test_should_keep_pulumi_yaml_defaults_equal_to_the_model_defaults() -> None:
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    fields = {field.alias: field for field in StackConfig.model_fields.values()}
    assert "default" not in declared["activeColor"]
    assert fields["activeColor"].is_required()
    for key, declaration in declared.items():
        if "default" in declaration:
            default = fields[key].default
            assert declaration["default"] == (default.value if isinstance(default, AfterFlip) else default), key


def test_should_describe_the_project_as_pulumi_runs_it() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "pipeline-platform"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    assert (ROOT / project["main"] / "__main__.py").is_file()
    assert Path(ROOT / "requirements.txt").read_text().count("-e .") == 1


@pytest.mark.parametrize(
    ("given", "rendered"),
    [(2, "2"), (0.5, "0.5"), ("250m", "250m"), (1.0, "1"), ("1.5", "1.5")],
)
def test_should_accept_cpu_as_a_number_or_a_string(given: Any, rendered: str) -> None:
    # `pulumi config set --path 'workerPools[0].resources.limits.cpu' 2` stores the number 2.
    config = _with("workerPools.0.resources", {"limits": {"cpu": given}})
    config["workerPools"][0]["resources"]["requests"] = {"cpu": "100m"}
    run = run_stack(config)
    worker = run.find("Deployment", "airflow-blue-worker-default")["spec"]["template"]["spec"]["containers"][0]
    assert worker["resources"]["limits"]["cpu"] == rendered


@pytest.mark.parametrize(
    ("key", "override", "expected"),
    [
        (
            "workerPools.0.resources",
            {"limits": {"memory": "3Gi"}},
            {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "3Gi"}},
        ),
        (
            "workerPools.0.resources",
            {"requests": {"cpu": 1}},
            {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
        ),
        (
            "airflowResources",
            {"scheduler": {"limits": {"cpu": 4}}},
            {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "4", "memory": "2Gi"}},
        ),
        (
            "redis",
            {"resources": {"requests": {"memory": "300Mi"}}},
            {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
        ),
    ],
)
def test_should_merge_a_partial_resources_override_over_the_defaults(
    key: str, override: dict[str, Any], expected: dict[str, Any]
) -> None:
    run = run_stack(_with(key, override) if "." in key else base_config(**{key: override}))
    name = {
        "workerPools.0.resources": "airflow-blue-worker-default",
        "airflowResources": "airflow-scheduler",
        "redis": "airflow-redis",
    }[key]
    assert run.find("Deployment", name)["spec"]["template"]["spec"]["containers"][0]["resources"] == expected


@pytest.mark.parametrize(
    ("key", "resources", "expected"),
    [
        (
            "workerPools.0.resources",
            {"requests": {"cpu": 4}, "limits": {"cpu": 2}},
            "workerPools[0].resources: requests.cpu (4) exceeds limits.cpu (2)",
        ),
        (
            "workerPools.1.resources",
            {"requests": {"memory": "3Gi"}},
            "workerPools[1].resources: requests.memory (3Gi) exceeds limits.memory (2Gi)",
        ),
        (
            "airflowResources",
            {"apiServer": {"requests": {"cpu": "1500m"}}},
            "airflowResources.apiServer: requests.cpu (1500m) exceeds limits.cpu (1)",
        ),
    ],
)
def test_should_refuse_a_request_above_its_limit_naming_the_key(
    key: str, resources: dict[str, Any], expected: str
) -> None:
    config = _with(key, resources) if "." in key else base_config(**{key: resources})
    with pytest.raises(ConfigError) as raised:
        run_stack(config)
    assert f"  - {expected}" in str(raised.value)
