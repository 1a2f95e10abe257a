"""The order of a flip and the settings it relies on, as the engine would receive them.

Each run is the real program under Pulumi's mock runtime. The order is read from what the SDK sends the
engine in each resource's registration (its dependencies and its parent, see
:meth:`infra.offline.mock_runtime.ProgramRun.waits_for`), the timeouts from its custom timeouts. Every row names one
dependency of the program: deleting that ``depends_on`` (or moving the resource) makes its row fail.
"""

from __future__ import annotations

from typing import Any

import pytest
from infra_fixtures import SECRETS, base_config, run_stack

from infra.errors import ConfigError
from infra.offline.mock_runtime import ProgramRun

Obj = tuple[str, str]
ROUTER: Obj = ("Service", "airflow-api")
PREVIEW: Obj = ("Service", "airflow-api-preview")
SMOKE: Obj = ("Job", "airflow-smoke-test")
CHECK: Obj = ("Job", "airflow-post-promotion-check")
DELAY: Obj = ("Job", "airflow-scale-down-delay")
SCHEDULING = [("Deployment", f"airflow-{c}") for c in ("scheduler", "triggerer", "dag-processor")]


def deployment(name: str) -> Obj:
    return ("Deployment", name)


def workers(color: str) -> list[Obj]:
    return [deployment(f"airflow-{color}-worker-{pool}") for pool in ("default", "etl")]


def release_workloads(color: str) -> list[Obj]:
    return [deployment(f"airflow-{color}-api-server"), *workers(color), deployment(f"airflow-{color}-worker-canary")]


def container(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]["containers"][0]


def env_entry(obj: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in container(obj)["env"] if item["name"] == name)


@pytest.fixture(scope="module")
def scale_down_flip_run() -> ProgramRun:
    """A flip from blue to green with ``afterFlip: scaleDown`` (blue shrinks after the promotion)."""
    return run_stack(base_config(activeColor="green", afterFlip="scaleDown", scaleDownDelaySeconds=600), live="blue")


# (what waits, for what): during a flip from blue (live) to green.
FLIP_ORDER: list[tuple[str, Obj, Obj]] = [
    *(("router after the candidate's rollout", ROUTER, obj) for obj in release_workloads("green")),
    ("router after the smoke test", ROUTER, SMOKE),
    *(("smoke test after the candidate's rollout", SMOKE, obj) for obj in release_workloads("green")),
    ("preview after the active Service", PREVIEW, ROUTER),
    *(("schedulers after the router", obj, ROUTER) for obj in SCHEDULING),
    *(("schedulers after the candidate's migration", obj, ("Job", "airflow-green-migrate")) for obj in SCHEDULING),
    ("post-promotion check after the router", CHECK, ROUTER),
    *(("post-promotion check after the schedulers moved", CHECK, obj) for obj in SCHEDULING),
    *(("old colour after the schedulers moved", old, new) for old in release_workloads("blue") for new in SCHEDULING),
    *(("old colour after the post-promotion check", old, CHECK) for old in release_workloads("blue")),
    *(
        ("migration before the release's workloads", obj, ("Job", f"airflow-{color}-migrate"))
        for color in ("blue", "green")
        for obj in release_workloads(color)
    ),
    *(
        (
            "migration after the release's Secret",
            ("Job", f"airflow-{color}-migrate"),
            ("Secret", f"airflow-{color}-airflow"),
        )
        for color in ("blue", "green")
    ),
]


@pytest.mark.parametrize(
    ("why", "dependent", "dependency"),
    FLIP_ORDER,
    ids=[f"{why}: {a[1]} <- {b[1]}" for why, a, b in FLIP_ORDER],
)
def test_should_order_the_flip(green_flip_run: ProgramRun, why: str, dependent: Obj, dependency: Obj) -> None:
    assert green_flip_run.object_waits_for(dependent, dependency), why


FLIP_NEVER: list[tuple[str, Obj, Obj]] = [
    ("the smoke test must not wait for the router it gates (deadlock)", SMOKE, ROUTER),
    *(("the schedulers move only after traffic: never before the smoke test", SMOKE, obj) for obj in SCHEDULING),
    *(("the router must not wait for the schedulers' move", ROUTER, obj) for obj in SCHEDULING),
    *(("the candidate does not wait for the old colour", obj, ROUTER) for obj in release_workloads("green")),
]


@pytest.mark.parametrize(
    ("why", "dependent", "dependency"),
    FLIP_NEVER,
    ids=[f"{why}: {a[1]} <- {b[1]}" for why, a, b in FLIP_NEVER],
)
def test_should_not_order_the_flip_the_other_way(
    green_flip_run: ProgramRun, why: str, dependent: Obj, dependency: Obj
) -> None:
    assert not green_flip_run.object_waits_for(dependent, dependency), why


@pytest.mark.parametrize("scheduling", SCHEDULING, ids=[s[1] for s in SCHEDULING])
def test_should_run_the_first_deployment_canary_after_the_schedulers_started(
    blue_run: ProgramRun, scheduling: Obj
) -> None:
    # No other colour's scheduler exists yet: the canary needs this one, which needs the migration.
    assert blue_run.object_waits_for(SMOKE, scheduling)
    assert blue_run.object_waits_for(scheduling, ("Job", "airflow-blue-migrate"))
    assert not blue_run.object_waits_for(scheduling, ROUTER)


@pytest.mark.parametrize("old", [*release_workloads("blue")], ids=[o[1] for o in release_workloads("blue")])
def test_should_keep_the_old_colour_warm_for_the_delay_before_scaling_it_down(
    scale_down_flip_run: ProgramRun, old: Obj
) -> None:
    assert scale_down_flip_run.object_waits_for(old, DELAY)
    assert scale_down_flip_run.object_waits_for(DELAY, CHECK)
    assert scale_down_flip_run.find(*old)["spec"]["replicas"] == (1 if old[1].endswith("api-server") else 0)


def test_should_wait_the_configured_delay_inside_the_update(scale_down_flip_run: ProgramRun) -> None:
    job = scale_down_flip_run.find(*DELAY)
    assert container(job)["command"] == ["sleep", "600"]
    assert job["spec"]["activeDeadlineSeconds"] > 600
    assert {"name": "SCALED_DOWN_COLOR", "value": "blue"} in container(job)["env"]


@pytest.mark.parametrize(
    "overrides", [{"afterFlip": "keepWarm"}, {"afterFlip": "scaleDown", "scaleDownDelaySeconds": 0}]
)
def test_should_declare_no_delay_when_nothing_is_scaled_down_or_no_delay_is_asked(overrides: dict[str, Any]) -> None:
    run = run_stack(base_config(activeColor="green", **overrides), live="blue")
    with pytest.raises(KeyError):
        run.find(*DELAY)


def test_should_check_the_promoted_colour_through_the_active_service(green_flip_run: ProgramRun) -> None:
    check = green_flip_run.find(*CHECK)
    assert env_entry(check, "BASE_URL")["value"] == "http://airflow-api.airflow-test.svc.cluster.local:8080"
    assert env_entry(check, "HEALTHY")["value"] == "metadatabase,scheduler,triggerer,dag_processor"
    assert env_entry(check, "MODE")["value"] == "health"
    assert container(check)["image"] == green_flip_run.outputs["images"]["green"]


# --- the canary reaches the candidate's own worker -------------------------------------------------------


@pytest.mark.parametrize(
    ("run_name", "canary", "broker_secret", "replicas"),
    [
        ("blue_run", "airflow-blue-worker-canary", "airflow-blue-airflow", 1),
        ("blue_run", "airflow-green-worker-canary", "airflow-blue-airflow", 0),
        # During a flip the live (blue) scheduler queues the canary: green's canary worker reads blue's broker.
        ("green_flip_run", "airflow-green-worker-canary", "airflow-blue-airflow", 1),
        ("green_flip_run", "airflow-blue-worker-canary", "airflow-blue-airflow", 0),
    ],
)
def test_should_consume_the_canary_queue_from_the_broker_of_the_scheduler_running_the_smoke_test(
    request: pytest.FixtureRequest, run_name: str, canary: str, broker_secret: str, replicas: int
) -> None:
    run: ProgramRun = request.getfixturevalue(run_name)
    worker = run.find("Deployment", canary)
    color = canary.split("-")[1]
    assert worker["spec"]["replicas"] == replicas
    assert f"--queues platform-canary-{color} " in container(worker)["args"][2]
    assert env_entry(worker, "AIRFLOW__CELERY__BROKER_URL") == {
        "name": "AIRFLOW__CELERY__BROKER_URL",
        "valueFrom": {"secretKeyRef": {"name": broker_secret, "key": "AIRFLOW__CELERY__BROKER_URL"}},
    }
    assert env_entry(worker, "PIPELINE_PLATFORM_COLOR")["value"] == color
    assert env_entry(worker, "AIRFLOW__CORE__EXECUTION_API_SERVER_URL")["value"] == (
        f"http://airflow-{color}-api.airflow-test.svc.cluster.local:8080/execution/"
    )


def test_should_read_its_own_broker_once_the_flip_is_recorded() -> None:
    after = run_stack(base_config(activeColor="green"), live="green")
    worker = after.find("Deployment", "airflow-green-worker-canary")
    assert (
        env_entry(worker, "AIRFLOW__CELERY__BROKER_URL")["valueFrom"]["secretKeyRef"]["name"] == "airflow-green-airflow"
    )


def test_should_trigger_the_candidate_canary_dag_logged_in_as_the_admin_user(green_flip_run: ProgramRun) -> None:
    job = green_flip_run.find(*SMOKE)
    assert env_entry(job, "MODE")["value"] == "canary"
    assert env_entry(job, "DAG_ID")["value"] == "platform_canary_green"
    assert container(job)["image"] == green_flip_run.outputs["images"]["green"]
    assert container(job)["command"][:2] == ["python", "-c"]
    assert "def run_canary(" in container(job)["command"][2]
    for variable, key in (("ADMIN_USERNAME", "username"), ("ADMIN_PASSWORD", "password")):
        assert env_entry(job, variable)["valueFrom"] == {"secretKeyRef": {"name": "airflow-admin", "key": key}}
    # Only the admin credentials: the Job never gets the database or broker connections, nor the signing keys.
    assert "envFrom" not in container(job)
    assert not [e for e in container(job)["env"] if e["name"].startswith("AIRFLOW__")]


def test_should_sign_the_smoke_test_token_with_the_platform_secret_under_the_simple_auth_manager() -> None:
    run = run_stack(base_config(activeColor="green", auth={"manager": "simple"}), live="blue")
    job = run.find(*SMOKE)
    assert env_entry(job, "AIRFLOW__API_AUTH__JWT_SECRET")["valueFrom"] == {
        "secretKeyRef": {"name": "airflow-green-airflow", "key": "AIRFLOW__API_AUTH__JWT_SECRET"}
    }
    assert "ADMIN_PASSWORD" not in {e["name"] for e in container(job)["env"]}
    assert "envFrom" not in container(job)


# --- Airflow 3 specifics and the executor ------------------------------------------------------------------


def test_should_run_every_airflow_process_with_the_celery_executor(blue_run: ProgramRun) -> None:
    airflow = [
        r
        for r in blue_run.kubernetes_objects()
        if r.kind in {"Deployment", "Job"}
        and r.inputs["metadata"]["labels"]["app.kubernetes.io/name"] == "airflow"
        and "envFrom" in container(r.inputs)
    ]
    assert len(airflow) >= 12
    for resource in airflow:
        assert env_entry(resource.inputs, "AIRFLOW__CORE__EXECUTOR")["value"] == "CeleryExecutor", resource.object_name


@pytest.mark.parametrize(
    ("version", "health_path", "api"),
    [("3.0.2", "/api/v2/monitor/health", "api-server"), ("2.10.5", "/health", "webserver")],
)
def test_should_probe_the_health_path_of_the_airflow_version(version: str, health_path: str, api: str) -> None:
    config = base_config()
    config["releases"]["blue"]["airflowVersion"] = version
    config["releases"]["blue"]["image"]["tag"] = f"{version}-python3.12"
    run = run_stack(config)
    server = container(run.find("Deployment", f"airflow-blue-{api}"))
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert server[probe]["httpGet"]["path"] == health_path, probe
    assert env_entry(run.find(*SMOKE), "HEALTH_PATH")["value"] == health_path
    assert env_entry(run.find(*CHECK), "HEALTH_PATH")["value"] == health_path


@pytest.mark.parametrize("color", ["blue", "green"])
def test_should_give_airflow_3_the_jwt_secret_in_the_colour_secret(blue_run: ProgramRun, color: str) -> None:
    data = blue_run.find("Secret", f"airflow-{color}-airflow")["stringData"]
    assert data["AIRFLOW__API_AUTH__JWT_SECRET"] == SECRETS["apiSecretKey"]
    assert data["AIRFLOW__API__SECRET_KEY"] == SECRETS["apiSecretKey"]


# --- timeouts that match the objects' own deadlines -------------------------------------------------------


def _deadline(resource_inputs: dict[str, Any]) -> int:
    spec = resource_inputs["spec"]
    return int(spec.get("activeDeadlineSeconds") or spec["progressDeadlineSeconds"])


@pytest.mark.parametrize("run_name", ["blue_run", "green_flip_run"])
def test_should_wait_for_every_job_and_deployment_longer_than_its_own_deadline(
    request: pytest.FixtureRequest, run_name: str
) -> None:
    run: ProgramRun = request.getfixturevalue(run_name)
    awaited = [r for r in run.kubernetes_objects() if r.kind in {"Deployment", "Job"}]
    assert len(awaited) >= 15
    for resource in awaited:
        timeouts = run.registrations[resource.urn].custom_timeouts
        assert set(timeouts) == {"create", "update"}, resource.object_name
        assert timeouts["create"] == timeouts["update"]
        assert int(timeouts["create"].removesuffix("s")) > _deadline(resource.inputs), resource.object_name


TIMEOUTS = {
    "migration": {"deadlineSeconds": 900, "pulumiTimeoutSeconds": 1000},
    "rollout": {"progressDeadlineSeconds": 300},
    "smokeTest": {"timeoutSeconds": 400, "pulumiTimeoutSeconds": 450},
    "postPromotion": {"timeoutSeconds": 200},
}


@pytest.mark.parametrize(
    ("kind", "name", "deadline", "pulumi_timeout"),
    [
        ("Job", "airflow-blue-migrate", 900, 1000),
        ("Job", "airflow-green-migrate", 900, 1000),
        ("Job", "airflow-smoke-test", 400, 450),
        ("Job", "airflow-post-promotion-check", 200, 320),
        ("Deployment", "airflow-blue-api-server", 300, 420),
        ("Deployment", "airflow-green-worker-etl", 300, 420),
        ("Deployment", "airflow-blue-worker-canary", 300, 420),
        ("Deployment", "airflow-scheduler", 300, 420),
        ("Deployment", "airflow-redis", 300, 420),
    ],
)
def test_should_take_deadlines_and_pulumi_timeouts_from_the_config(
    kind: str, name: str, deadline: int, pulumi_timeout: int
) -> None:
    run = run_stack(base_config(**TIMEOUTS))
    assert _deadline(run.find(kind, name)) == deadline
    assert run.registration(kind, name).custom_timeouts == {
        "create": f"{pulumi_timeout}s",
        "update": f"{pulumi_timeout}s",
    }


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "migration",
            {"deadlineSeconds": 900, "pulumiTimeoutSeconds": 900},
            "migration: pulumiTimeoutSeconds (900) must be longer than deadlineSeconds (900)",
        ),
        (
            "rollout",
            {"progressDeadlineSeconds": 600, "pulumiTimeoutSeconds": 300},
            "rollout: pulumiTimeoutSeconds (300) must be longer than progressDeadlineSeconds (600)",
        ),
        (
            "smokeTest",
            {"timeoutSeconds": 300, "pulumiTimeoutSeconds": 60},
            "smokeTest: pulumiTimeoutSeconds (60) must be longer than timeoutSeconds (300)",
        ),
    ],
)
def test_should_refuse_a_pulumi_timeout_shorter_than_the_deadline(key: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        run_stack(base_config(**{key: value}))
    assert f"  - {expected}" in str(raised.value)


def test_should_reserve_the_canary_pool_name() -> None:
    config = base_config()
    config["workerPools"][0]["name"] = "canary"
    with pytest.raises(ConfigError, match="pool name 'canary' is reserved"):
        run_stack(config)
