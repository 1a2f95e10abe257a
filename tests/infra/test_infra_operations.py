"""Operating what the platform deploys, as Airflow Helm-chart users expect: login, Airflow settings, Redis,
cluster conventions (ServiceAccounts, placement, pull secrets, disruption budgets, NetworkPolicies), task logs,
the autoscaling signal and the Ingress.

Each behaviour is read from the objects the real program declares, for the shipped dev and prod stacks
(``Pulumi.dev.yaml``, ``Pulumi.prod.yaml``) and for small variations of the test config.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from infra_fixtures import ROOT, SECRETS, base_config, env_of, pod_templates, run_shipped_stack, run_stack

from infra.admin_user import PASSWORD_HASH_ANNOTATION
from infra.airflow_settings import OWNED_OPTIONS
from infra.color_context import HOSTNAME_CALLABLE
from infra.config import AuthManager
from infra.errors import ConfigError
from infra.offline.mock_runtime import ProgramRun
from infra.pod_settings import SAFE_TO_EVICT

AIRFLOW_PYTHON = ROOT / ".venv-airflow" / "bin" / "python"
needs_airflow = pytest.mark.skipif(not AIRFLOW_PYTHON.exists(), reason="the Airflow virtualenv is not set up")
FAB = AuthManager.FAB.class_path
SIMPLE = AuthManager.SIMPLE.class_path
STACKS = ["dev", "prod"]


@pytest.fixture(scope="module")
def shipped() -> dict[str, ProgramRun]:
    """The shipped dev and prod stacks, first deployment (blue active)."""
    return {stack: run_shipped_stack(stack) for stack in STACKS}


def container(template_or_object: dict[str, Any]) -> dict[str, Any]:
    spec = template_or_object["spec"]
    return (spec["template"]["spec"] if "template" in spec else spec)["containers"][0]


def airflow_containers(run: ProgramRun) -> list[tuple[str, dict[str, Any]]]:
    """Every container running Airflow with a colour's connections (API, schedulers, workers, migration...)."""
    found = []
    for where, template in pod_templates(run):
        for each in template["spec"]["containers"]:
            if any(
                "secretRef" in source and source["secretRef"]["name"].endswith("-airflow")
                for source in each.get("envFrom", [])
            ):
                found.append((where, each))
    return found


def refused(config: dict[str, Any], secrets: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        run_stack(config, secrets=secrets)
    return str(raised.value)


# --- 1. Login ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_should_log_every_airflow_process_in_through_fab_in_both_colours(
    shipped: dict[str, ProgramRun], stack: str
) -> None:
    containers = airflow_containers(shipped[stack])
    assert len(containers) >= 12
    for where, each in containers:
        assert env_of(each)["AIRFLOW__CORE__AUTH_MANAGER"] == FAB, where


@pytest.mark.parametrize("stack", STACKS)
def test_should_create_the_admin_user_from_the_secret_after_the_migration_and_before_the_smoke_test(
    shipped: dict[str, ProgramRun], stack: str
) -> None:
    run = shipped[stack]
    job = run.find("Job", "airflow-admin-user")
    env = env_of(container(job))
    assert env["ADMIN_PASSWORD"] == {"secretKeyRef": {"name": "airflow-admin", "key": "password"}}
    assert env["ADMIN_USERNAME"] == "admin"
    assert "def ensure_admin(" in container(job)["command"][2]
    assert run.find("Secret", "airflow-admin")["stringData"]["username"] == "admin"
    assert run.object_waits_for(("Job", "airflow-admin-user"), ("Job", "airflow-blue-migrate"))
    assert run.object_waits_for(("Job", "airflow-smoke-test"), ("Job", "airflow-admin-user"))


def test_should_keep_the_admin_password_out_of_every_non_secret_object(blue_run: ProgramRun) -> None:
    for resource in blue_run.kubernetes_objects():
        if resource.kind != "Secret":
            assert SECRETS["adminPassword"] not in repr(resource.inputs), resource.object_name
    assert blue_run.find("Secret", "airflow-admin")["stringData"]["password"] == SECRETS["adminPassword"]


@pytest.mark.parametrize(("password", "same"), [(SECRETS["adminPassword"], True), ("a-rotated-admin-password", False)])
def test_should_rerun_the_admin_job_exactly_when_the_password_changes(
    blue_run: ProgramRun, password: str, same: bool
) -> None:
    run = run_stack(base_config(), secrets={**SECRETS, "adminPassword": password})
    before = blue_run.find("Job", "airflow-admin-user")["spec"]["template"]["metadata"]["annotations"]
    after = run.find("Job", "airflow-admin-user")["spec"]["template"]["metadata"]["annotations"]
    assert (before[PASSWORD_HASH_ANNOTATION] == after[PASSWORD_HASH_ANNOTATION]) is same
    assert password not in after[PASSWORD_HASH_ANNOTATION]


def test_should_use_the_development_auth_manager_only_when_configured_and_then_need_no_admin() -> None:
    run = run_stack(
        base_config(auth={"manager": "simple"}), secrets={k: v for k, v in SECRETS.items() if k != "adminPassword"}
    )
    for where, each in airflow_containers(run):
        assert env_of(each)["AIRFLOW__CORE__AUTH_MANAGER"] == SIMPLE, where
    with pytest.raises(KeyError):
        run.find("Job", "airflow-admin-user")


@pytest.mark.parametrize(
    ("config", "secrets", "expected"),
    [
        (base_config(), {k: v for k, v in SECRETS.items() if k != "adminPassword"}, "adminPassword: is required"),
        (base_config(), {**SECRETS, "adminPassword": "short"}, "adminPassword: is shorter than 12 characters"),
        (
            base_config(
                auth={"manager": "simple"},
                releases={
                    **base_config()["releases"],
                    "blue": {**base_config()["releases"]["blue"], "airflowVersion": "2.10.5"},
                    "green": {**base_config()["releases"]["green"], "airflowVersion": "2.10.5"},
                },
            ),
            None,
            "  - auth.manager: simple is Airflow 3's development manager; releases blue, green run Airflow 2",
        ),
        (base_config(auth={"manager": "ldap"}), None, "auth.manager: must be one of 'fab' or 'simple'"),
    ],
)
def test_should_refuse_a_login_setup_that_cannot_work(
    config: dict[str, Any], secrets: dict[str, str] | None, expected: str
) -> None:
    assert expected in refused(config, secrets)


# --- 2. Airflow settings -------------------------------------------------------------------------------------


def test_should_render_stack_options_on_every_airflow_container_and_colour_options_on_that_colour() -> None:
    config = base_config(airflowConfig={"core": {"parallelism": 64}, "api": {"expose_config": False}})
    config["releases"]["green"]["airflowConfig"] = {"core": {"parallelism": 8}, "logging": {"logging_level": "DEBUG"}}
    run = run_stack(config)
    for where, each in airflow_containers(run):
        env = env_of(each)
        green = "green" in where or env["PIPELINE_PLATFORM_COLOR"] == "green"
        assert env["AIRFLOW__CORE__PARALLELISM"] == ("8" if green else "64"), where
        assert env["AIRFLOW__API__EXPOSE_CONFIG"] == "False", where
        assert ("AIRFLOW__LOGGING__LOGGING_LEVEL" in env) is green, where


def test_should_let_options_override_platform_defaults_that_are_not_owned() -> None:
    run = run_stack(base_config(airflowConfig={"core": {"load_examples": True}, "operators": {"default_queue": "etl"}}))
    env = env_of(container(run.find("Deployment", "airflow-scheduler")))
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "True"
    assert env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] == "etl"


@pytest.mark.parametrize(
    ("section", "key"), [*OWNED_OPTIONS, ("database", "sql_alchemy_conn_cmd"), ("core", "fernet_key_secret")]
)
def test_should_refuse_an_option_the_platform_owns_and_say_why(section: str, key: str) -> None:
    message = refused(base_config(airflowConfig={section: {key: "x"}}))
    assert f"airflowConfig: {section}.{key} is set by the platform and cannot be configured: " in message


def test_should_refuse_owned_options_per_colour_and_in_extra_environment() -> None:
    config = base_config(
        components={
            "workers": {"env": {"AIRFLOW__CORE__PARALLELISM": "4"}},
            "scheduler": {"secretEnv": {"AIRFLOW__CORE__EXECUTOR": {"secret": "mine", "key": "executor"}}},
        }
    )
    config["releases"]["green"]["airflowConfig"] = {"celery": {"broker_url": "redis://elsewhere"}}
    message = refused(config)
    assert "releases.green.airflowConfig: celery.broker_url is set by the platform" in message
    assert (
        "components.workers.env: AIRFLOW__CORE__PARALLELISM: set Airflow options under airflowConfig "
        "(airflowConfig.core.parallelism)" in message
    )
    assert "components.scheduler.secretEnv: AIRFLOW__CORE__EXECUTOR is set by the platform" in message


def test_should_refuse_base_url_while_the_ingress_sets_it() -> None:
    message = refused(
        base_config(
            ingress={"enabled": True, "host": "airflow.example.com"}, airflowConfig={"api": {"base_url": "http://x/"}}
        )
    )
    assert "airflowConfig: base_url is set by the platform while ingress.enabled is true" in message


@pytest.mark.parametrize(
    ("component", "objects"),
    [
        ("apiServer", [("Deployment", "airflow-blue-api-server"), ("Deployment", "airflow-green-api-server")]),
        ("scheduler", [("Deployment", "airflow-scheduler")]),
        ("triggerer", [("Deployment", "airflow-triggerer")]),
        ("dagProcessor", [("Deployment", "airflow-dag-processor")]),
        ("workers", [("Deployment", "airflow-blue-worker-default"), ("Deployment", "airflow-green-worker-etl")]),
        ("migration", [("Job", "airflow-blue-migrate"), ("Job", "airflow-admin-user")]),
        ("probes", [("Job", "airflow-smoke-test"), ("Job", "airflow-post-promotion-check")]),
        ("redis", [("Deployment", "airflow-redis")]),
    ],
)
def test_should_add_extra_env_and_secrets_to_the_component_only(component: str, objects: list[tuple[str, str]]) -> None:
    settings = {
        "env": {"TEAM": "data"},
        "secretEnv": {"AIRFLOW_CONN_WAREHOUSE": {"secret": "warehouse", "key": "uri"}},
        "envFromSecrets": ["smtp-credentials"],
    }
    run = run_stack(base_config(components={component: settings}))
    for kind, name in objects:
        each = container(run.find(kind, name))
        env = env_of(each)
        assert env["TEAM"] == "data", name
        assert env["AIRFLOW_CONN_WAREHOUSE"] == {"secretKeyRef": {"name": "warehouse", "key": "uri"}}, name
        assert {"secretRef": {"name": "smtp-credentials"}} in each.get("envFrom", []), name
    labels = {
        run.find(kind, name)["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        for kind, name in objects
    }
    others = [t for _, t in pod_templates(run) if t["metadata"]["labels"]["app.kubernetes.io/component"] not in labels]
    assert others and all("TEAM" not in env_of(c) for t in others for c in t["spec"]["containers"])


# --- 3. Task logs --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_should_let_the_api_server_read_a_running_task_log_from_the_worker(
    shipped: dict[str, ProgramRun], stack: str
) -> None:
    run = shipped[stack]
    worker = container(run.find("Deployment", "airflow-blue-worker-default"))
    # The task's hostname is the worker's pod IP, which needs no DNS, and the log server listens on 8793.
    assert env_of(worker)["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == HOSTNAME_CALLABLE
    assert env_of(worker)["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "8793"
    assert {"name": "worker-logs", "containerPort": 8793} in worker["ports"]
    policy = run.find("NetworkPolicy", "airflow-worker")["spec"]
    assert policy["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8793}]
    assert policy["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]["values"] == [
        "api-server",
        "webserver",
    ]
    api_egress = run.find("NetworkPolicy", "airflow-api-server")["spec"]["egress"]
    assert {"to": [{"podSelector": _airflow("worker")}], "ports": [{"protocol": "TCP", "port": 8793}]} in api_egress


def test_should_ship_task_logs_to_gcs_in_prod_from_workers_and_read_them_from_the_api_server(
    shipped: dict[str, ProgramRun],
) -> None:
    run = shipped["prod"]
    for name in ("airflow-blue-worker-etl-heavy", "airflow-green-api-server"):
        env = env_of(container(run.find("Deployment", name)))
        assert env["AIRFLOW__LOGGING__REMOTE_LOGGING"] == "True"
        assert env["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"] == "gs://example-data-platform-airflow-logs/prod"
        assert env["AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"] == "google-cloud-platform://"
    accounts = {c: run.find("ServiceAccount", f"airflow-{c}") for c in ("workers", "api-server")}
    for account in accounts.values():
        assert account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].startswith("airflow-logs@")


REMOTE_LOG_CHECK = """
import json
from airflow.logging_config import configure_logging
import airflow.logging_config as logging_config
from airflow.sdk.bases.hook import BaseHook
configure_logging()
remote = logging_config.REMOTE_TASK_LOG
connection = BaseHook.get_connection(logging_config.DEFAULT_REMOTE_CONN_ID)
print(json.dumps({"io": type(remote).__name__, "base": remote.remote_base, "conn": connection.conn_type}))
"""


@needs_airflow
@pytest.mark.parametrize("name", ["airflow-blue-worker-etl-heavy", "airflow-green-api-server"])
def test_should_make_airflow_write_and_read_task_logs_in_gcs_with_the_prod_settings(
    shipped: dict[str, ProgramRun], name: str, tmp_path: Path
) -> None:
    """Airflow itself, given the container's plain environment, picks its GCS remote log handler and connection."""
    env = {k: v for k, v in env_of(container(shipped["prod"].find("Deployment", name))).items() if isinstance(v, str)}
    env = {k: v for k, v in env.items() if k.startswith(("AIRFLOW__LOGGING__", "AIRFLOW_CONN_"))}
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", REMOTE_LOG_CHECK],
        env={"PATH": os.environ["PATH"], "AIRFLOW_HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "io": "GCSRemoteLogIO",
        "base": "gs://example-data-platform-airflow-logs/prod",
        "conn": "google_cloud_platform",
    }


# --- 4. Scaling ----------------------------------------------------------------------------------------------


def test_should_scale_a_keda_pool_on_its_running_and_queued_task_instances(shipped: dict[str, ProgramRun]) -> None:
    run = shipped["prod"]
    scaled = run.find("ScaledObject", "airflow-blue-worker-etl-heavy")["spec"]
    assert scaled["minReplicaCount"] == 0 and scaled["maxReplicaCount"] == 8
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "postgresql"
    assert trigger["metadata"] == {
        "query": "SELECT ceil(COUNT(*)::decimal / 4) FROM task_instance "
        "WHERE (state='running' OR state='queued') AND queue IN ('etl', 'backfill', 'versioning')",
        "targetQueryValue": "1",
    }
    auth = run.find("TriggerAuthentication", "airflow-blue-worker-etl-heavy-db")["spec"]
    assert auth == {
        "secretTargetRef": [{"parameter": "connection", "name": "airflow-blue-airflow", "key": "KEDA_DB_CONN"}]
    }


def test_should_give_keda_the_database_url_without_the_sqlalchemy_driver() -> None:
    config = base_config()
    config["workerPools"][1]["autoscaling"] = {"kind": "keda", "minReplicas": 0, "maxReplicas": 5}
    run = run_stack(config)
    url = run.find("Secret", "airflow-blue-airflow")["stringData"]["KEDA_DB_CONN"]
    assert url == SECRETS["metadataDbConnection"].replace("postgresql+psycopg2://", "postgresql://")
    assert "tasks_per_replica" not in repr(run.find("ScaledObject", "airflow-blue-worker-etl"))
    assert "/ 8)" in run.find("ScaledObject", "airflow-blue-worker-etl")["spec"]["triggers"][0]["metadata"]["query"]


def test_should_autoscale_on_task_counts_only_in_the_active_colour(shipped: dict[str, ProgramRun]) -> None:
    run = shipped["prod"]
    with pytest.raises(KeyError):
        run.find("ScaledObject", "airflow-green-worker-etl-heavy")
    assert run.find("Deployment", "airflow-green-worker-etl-heavy")["spec"]["replicas"] == 2
    # An HPA measures its own pods' CPU: it stays on the warm idle colour.
    assert run.find("HorizontalPodAutoscaler", "airflow-green-worker-default")["spec"]["minReplicas"] == 4


def test_should_refuse_keda_with_a_mysql_metadata_database() -> None:
    config = base_config()
    config["workerPools"][1]["autoscaling"] = {"kind": "keda", "minReplicas": 0, "maxReplicas": 5}
    message = refused(config, {**SECRETS, "metadataDbConnection": "mysql+mysqldb://a:b@db/airflow"})
    assert "workerPools[1].autoscaling: kind keda counts running and queued task instances" in message


# --- 5. Redis ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_should_keep_the_redis_password_off_every_command_line(shipped: dict[str, ProgramRun], stack: str) -> None:
    redis = container(shipped[stack].find("Deployment", "airflow-redis"))
    for probe in ("readinessProbe", "livenessProbe"):
        command = " ".join(redis[probe]["exec"]["command"])
        assert "-a " not in command and "PASSWORD" not in command and "redis-cli ping" in command
    assert env_of(redis)["REDISCLI_AUTH"] == {"secretKeyRef": {"name": "airflow-redis-auth", "key": "password"}}
    # The server reads `requirepass` from a config on standard input (a here-document), not an argument.
    script = redis["args"][0]
    assert "--requirepass" not in script
    assert script.startswith("exec redis-server ") and ' - <<EOF\nrequirepass "$REDIS_PASSWORD"\nEOF' in script


@pytest.mark.parametrize(("stack", "max_unavailable"), [("dev", 0), ("prod", 0)])
def test_should_protect_redis_with_a_disruption_budget(
    shipped: dict[str, ProgramRun], stack: str, max_unavailable: int
) -> None:
    budget = shipped[stack].find("PodDisruptionBudget", "airflow-redis")["spec"]
    assert budget == {
        "maxUnavailable": max_unavailable,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "redis", "app.kubernetes.io/component": "broker"}},
    }


@pytest.mark.parametrize("bad", ['pass"word', "back\\slash", " padded"])
def test_should_refuse_a_redis_password_redis_cannot_read_from_its_config(bad: str) -> None:
    message = refused(base_config(), {**SECRETS, "redisPassword": bad})
    assert "redisPassword: must not contain double quotes, backslashes" in message
    assert bad not in message


# --- 6. Cluster conventions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "pull_secrets"), [("dev", None), ("prod", [{"name": "registry-credentials"}])])
def test_should_pull_every_image_with_the_configured_secrets(
    shipped: dict[str, ProgramRun], stack: str, pull_secrets: list[dict[str, str]] | None
) -> None:
    for where, template in pod_templates(shipped[stack]):
        assert template["spec"].get("imagePullSecrets") == pull_secrets, where


@pytest.mark.parametrize("stack", STACKS)
def test_should_run_each_component_as_its_own_service_account_without_a_token(
    shipped: dict[str, ProgramRun], stack: str
) -> None:
    run = shipped[stack]
    expected = {
        "Deployment/airflow-blue-api-server": "airflow-api-server",
        "Deployment/airflow-scheduler": "airflow-scheduler",
        "Deployment/airflow-triggerer": "airflow-triggerer",
        "Deployment/airflow-dag-processor": "airflow-dag-processor",
        "Deployment/airflow-green-worker-default": "airflow-workers",
        "Deployment/airflow-blue-worker-canary": "airflow-workers",
        "Job/airflow-blue-migrate": "airflow-migration",
        "Job/airflow-admin-user": "airflow-migration",
        "Job/airflow-smoke-test": "airflow-probes",
        "Deployment/airflow-redis": "airflow-redis",
    }
    templates = dict(pod_templates(run))
    for where, account in expected.items():
        assert templates[where]["spec"]["serviceAccountName"] == account, where
        assert run.find("ServiceAccount", account)["automountServiceAccountToken"] is False
    for where, template in templates.items():
        assert template["spec"]["automountServiceAccountToken"] is False, where


def test_should_use_an_existing_service_account_and_mount_its_token_when_asked() -> None:
    run = run_stack(
        base_config(
            components={
                "scheduler": {"serviceAccount": {"create": False, "name": "platform-scheduler", "automountToken": True}}
            }
        )
    )
    spec = run.find("Deployment", "airflow-scheduler")["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "platform-scheduler" and spec["automountServiceAccountToken"] is True
    with pytest.raises(KeyError):
        run.find("ServiceAccount", "airflow-scheduler")


PLACEMENT = {
    "nodeSelector": {"pool": "airflow"},
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "arch", "operator": "In", "values": ["amd64"]}]}]
            }
        }
    },
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "airflow", "effect": "NoSchedule"}],
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/component": "scheduler"}},
        }
    ],
    "podAnnotations": {"example.com/team": "data"},
}


@pytest.mark.parametrize(
    ("component", "where"),
    [
        ("apiServer", "Deployment/airflow-green-api-server"),
        ("scheduler", "Deployment/airflow-scheduler"),
        ("triggerer", "Deployment/airflow-triggerer"),
        ("dagProcessor", "Deployment/airflow-dag-processor"),
        ("workers", "Deployment/airflow-blue-worker-etl"),
        ("migration", "Job/airflow-green-migrate"),
        ("probes", "Job/airflow-post-promotion-check"),
        ("redis", "Deployment/airflow-redis"),
    ],
)
def test_should_place_each_component_as_configured(component: str, where: str) -> None:
    run = run_stack(base_config(components={component: PLACEMENT}))
    templates = dict(pod_templates(run))
    spec = templates[where]["spec"]
    assert spec["nodeSelector"] == PLACEMENT["nodeSelector"]
    assert spec["affinity"] == PLACEMENT["affinity"]
    assert spec["tolerations"] == PLACEMENT["tolerations"]
    assert spec["topologySpreadConstraints"] == PLACEMENT["topologySpreadConstraints"]
    assert templates[where]["metadata"]["annotations"]["example.com/team"] == "data"
    assert sum("nodeSelector" in t["spec"] for t in templates.values()) < len(templates)


def test_should_let_a_pool_replace_the_workers_placement_key_by_key(shipped: dict[str, ProgramRun]) -> None:
    run = shipped["prod"]
    heavy = run.find("Deployment", "airflow-blue-worker-etl-heavy")["spec"]["template"]["spec"]
    default = run.find("Deployment", "airflow-blue-worker-default")["spec"]["template"]["spec"]
    assert heavy["nodeSelector"] == {"cloud.google.com/gke-nodepool": "airflow-heavy"}
    assert heavy["tolerations"][0]["value"] == "airflow-heavy"
    assert default["nodeSelector"] == {"cloud.google.com/gke-nodepool": "airflow-workers"}
    assert "tolerations" not in default
    # Keys the pool does not set come from components.workers.
    assert env_of(heavy["containers"][0])["AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"] == "google-cloud-platform://"


@pytest.mark.parametrize(
    ("stack", "pool", "evictable"),
    [
        ("dev", "default", True),  # 300 s tasks: within the autoscaler's 600 s grace
        ("prod", "default", False),  # 1800 s
        ("prod", "etl-heavy", False),  # 7200 s
        ("prod", "reporting", False),  # 900 s
        ("prod", "canary", True),  # 60 s
    ],
)
def test_should_forbid_autoscaler_eviction_of_pools_whose_tasks_outlive_its_grace(
    shipped: dict[str, ProgramRun], stack: str, pool: str, evictable: bool
) -> None:
    template = shipped[stack].find("Deployment", f"airflow-blue-worker-{pool}")["spec"]["template"]
    annotations = template["metadata"].get("annotations", {})
    assert (annotations.get(SAFE_TO_EVICT) != "false") is evictable


@pytest.mark.parametrize(("explicit", "annotated"), [(True, False), (False, True)])
def test_should_follow_an_explicit_safe_to_evict(explicit: bool, annotated: bool) -> None:
    config = base_config()
    config["workerPools"][1]["safeToEvict"] = explicit  # longestTaskSeconds 3600
    template = run_stack(config).find("Deployment", "airflow-blue-worker-etl")["spec"]["template"]
    assert (SAFE_TO_EVICT in template["metadata"].get("annotations", {})) is annotated


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("color", ["blue", "green"])
def test_should_protect_each_colour_api_server_with_a_disruption_budget(
    shipped: dict[str, ProgramRun], stack: str, color: str
) -> None:
    budget = shipped[stack].find("PodDisruptionBudget", f"airflow-{color}-api-server")["spec"]
    assert budget["maxUnavailable"] == 1
    assert budget["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "airflow",
        "app.kubernetes.io/component": "api-server",
        "pipeline-platform.io/color": color,
    }


def _airflow(*components: str) -> dict[str, Any]:
    selector: dict[str, Any] = {
        "matchLabels": {"app.kubernetes.io/name": "airflow", "app.kubernetes.io/part-of": "pipeline-platform"}
    }
    if components:
        selector["matchExpressions"] = [
            {"key": "app.kubernetes.io/component", "operator": "In", "values": list(components)}
        ]
    return selector


REDIS = {"matchLabels": {"app.kubernetes.io/name": "redis", "app.kubernetes.io/component": "broker"}}
API = {"to": [{"podSelector": _airflow("api-server", "webserver")}], "ports": [{"protocol": "TCP", "port": 8080}]}
TO_REDIS = {"to": [{"podSelector": REDIS}], "ports": [{"protocol": "TCP", "port": 6379}]}
HTTPS = {"ports": [{"protocol": "TCP", "port": 443}]}


def _database(cidr: str) -> dict[str, Any]:
    return {"to": [{"ipBlock": {"cidr": cidr}}], "ports": [{"protocol": "TCP", "port": 5432}]}


@pytest.mark.parametrize(("stack", "cidr"), [("dev", "0.0.0.0/0"), ("prod", "10.20.0.0/24")])
@pytest.mark.parametrize(
    ("policy", "egress"),
    [
        ("scheduler", ["db", TO_REDIS]),
        ("triggerer", ["db", API]),
        ("dag-processor", ["db", API]),
        ("worker", ["db", TO_REDIS, API, HTTPS]),
        ("migration", ["db"]),
        ("probes", [API]),
    ],
)
def test_should_allow_each_component_exactly_the_egress_it_needs(
    shipped: dict[str, ProgramRun], stack: str, cidr: str, policy: str, egress: list[Any]
) -> None:
    spec = shipped[stack].find("NetworkPolicy", f"airflow-{policy}")["spec"]
    assert spec["policyTypes"][-1] == "Egress"
    assert spec["egress"] == [_database(cidr) if rule == "db" else rule for rule in egress]


@pytest.mark.parametrize("stack", STACKS)
def test_should_deny_everything_by_default_and_allow_dns_to_every_pod(
    shipped: dict[str, ProgramRun], stack: str
) -> None:
    run = shipped[stack]
    deny = run.find("NetworkPolicy", "airflow-default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}
    dns = run.find("NetworkPolicy", "airflow-dns")["spec"]
    assert dns["podSelector"] == {} and dns["policyTypes"] == ["Egress"]
    assert dns["egress"][0]["to"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}
    ]
    assert {p["protocol"] for p in dns["egress"][0]["ports"]} == {"UDP", "TCP"}


@pytest.mark.parametrize("stack", STACKS)
def test_should_admit_only_the_scheduler_and_workers_to_redis(shipped: dict[str, ProgramRun], stack: str) -> None:
    spec = shipped[stack].find("NetworkPolicy", "airflow-redis")["spec"]
    assert spec["podSelector"] == REDIS
    assert spec["ingress"] == [
        {"from": [{"podSelector": _airflow("scheduler", "worker")}], "ports": [{"protocol": "TCP", "port": 6379}]}
    ]
    assert spec["egress"] == []


@pytest.mark.parametrize("stack", STACKS)
def test_should_admit_platform_pods_and_the_configured_peers_to_the_api_servers(
    shipped: dict[str, ProgramRun], stack: str
) -> None:
    spec = shipped[stack].find("NetworkPolicy", "airflow-api-server")["spec"]
    assert spec["ingress"] == [
        {"from": [{"podSelector": _airflow()}, {"namespaceSelector": {}}], "ports": [{"protocol": "TCP", "port": 8080}]}
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_should_cover_every_pod_with_an_egress_rule_for_what_it_talks_to(
    shipped: dict[str, ProgramRun], stack: str
) -> None:
    """Every pod's component is selected by some component policy (besides default deny and DNS)."""
    run = shipped[stack]
    covered: set[str] = set()
    for resource in run.kubernetes_objects():
        if resource.kind == "NetworkPolicy" and resource.object_name not in {"airflow-default-deny", "airflow-dns"}:
            selector = resource.inputs["spec"]["podSelector"]
            for expression in selector.get("matchExpressions", []):
                covered.update(expression["values"])
            if "matchExpressions" not in selector and selector["matchLabels"].get("app.kubernetes.io/name") == "redis":
                covered.add("broker")
    components = {t["metadata"]["labels"]["app.kubernetes.io/component"] for _, t in pod_templates(run)}
    # The scale-down delay only sleeps: default deny is all it needs.
    assert components - covered <= {"scale-down-delay"}


def test_should_declare_no_network_policy_when_disabled() -> None:
    run = run_stack(base_config(networkPolicies={"enabled": False}))
    assert not [r for r in run.kubernetes_objects() if r.kind == "NetworkPolicy"]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            base_config(networkPolicies={"metadataDb": {"cidrs": ["10.0.0.300/8"]}}),
            "networkPolicies.metadataDb.cidrs: '10.0.0.300/8' is not a CIDR block",
        ),
        (base_config(imagePullSecrets=["Bad_Name"]), "imagePullSecrets[0]: must be a DNS label"),
        (
            base_config(components={"scheduler": {"serviceAccount": {"create": False}}}),
            "components.scheduler.serviceAccount: with create: false, set name",
        ),
        (
            base_config(components={"workers": {"env": {"PIPELINE_PLATFORM_COLOR": "red"}}}),
            "components.workers.env: PIPELINE_PLATFORM_COLOR is set by the platform",
        ),
        (base_config(ingress={"enabled": True}), "ingress: an enabled ingress needs host"),
    ],
)
def test_should_refuse_bad_cluster_settings_naming_the_key(config: dict[str, Any], expected: str) -> None:
    assert expected in refused(config)


# --- 7. Ingress ----------------------------------------------------------------------------------------------


def test_should_declare_no_ingress_by_default(shipped: dict[str, ProgramRun]) -> None:
    assert not [r for r in shipped["dev"].kubernetes_objects() if r.kind == "Ingress"]
    assert "AIRFLOW__API__BASE_URL" not in env_of(
        container(shipped["dev"].find("Deployment", "airflow-blue-api-server"))
    )


@pytest.mark.parametrize(
    ("name", "host", "service", "tls"),
    [
        ("airflow-api", "airflow.example.com", "airflow-api", "airflow-example-com-tls"),
        (
            "airflow-api-preview",
            "airflow-preview.example.com",
            "airflow-api-preview",
            "airflow-preview-example-com-tls",
        ),
    ],
)
def test_should_route_the_ingress_hosts_to_the_router_services(
    shipped: dict[str, ProgramRun], name: str, host: str, service: str, tls: str
) -> None:
    spec = shipped["prod"].find("Ingress", name)["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": [host], "secretName": tls}]
    (rule,) = spec["rules"]
    assert rule["host"] == host
    assert rule["http"]["paths"] == [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": service, "port": {"number": 8080}}}}
    ]


@pytest.mark.parametrize(
    ("ingress", "base_url"),
    [
        ({"enabled": True, "host": "airflow.example.com", "tlsSecret": "tls"}, "https://airflow.example.com/"),
        ({"enabled": True, "host": "data.example.com", "path": "/airflow"}, "http://data.example.com/airflow/"),
    ],
)
def test_should_set_base_url_from_the_ingress_on_both_colours(ingress: dict[str, Any], base_url: str) -> None:
    run = run_stack(base_config(ingress=ingress))
    for where, each in airflow_containers(run):
        assert env_of(each)["AIRFLOW__API__BASE_URL"] == base_url, where


# --- Every pod stays restricted --------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_should_keep_every_pod_of_the_shipped_stacks_under_the_restricted_pod_security_standard(
    shipped: dict[str, ProgramRun], stack: str
) -> None:
    templates = pod_templates(shipped[stack])
    assert len(templates) >= 15
    for where, template in templates:
        spec = template["spec"]
        assert not {"hostNetwork", "hostPID", "hostIPC"} & set(spec), where
        assert all(set(volume) & {"emptyDir", "persistentVolumeClaim"} for volume in spec.get("volumes", [])), where
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] > 0, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for each in spec["containers"]:
            context = each["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["privileged"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert "hostPort" not in repr(each.get("ports", [])), where


# --- 7. StatsD exporter (optional) ---------------------------------------------------------------------------

STATSD = {"matchLabels": {"app.kubernetes.io/name": "statsd", "app.kubernetes.io/component": "metrics"}}
STATSD_ENV = {
    "AIRFLOW__METRICS__STATSD_ON": "True",
    "AIRFLOW__METRICS__STATSD_HOST": "airflow-statsd.airflow-test.svc.cluster.local",
    "AIRFLOW__METRICS__STATSD_PORT": "9125",
    "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
}


@pytest.fixture(scope="module")
def statsd_run() -> ProgramRun:
    return run_stack(base_config(statsd={"enabled": True, "scrapeFrom": [{"namespaceSelector": {}}]}))


@pytest.mark.parametrize("stack", STACKS)
def test_should_declare_no_statsd_exporter_and_no_metrics_settings_by_default(
    shipped: dict[str, ProgramRun], stack: str
) -> None:
    run = shipped[stack]
    assert not [r for r in run.kubernetes_objects() if "statsd" in r.object_name]
    for where, each in airflow_containers(run):
        assert not [name for name in env_of(each) if name.startswith("AIRFLOW__METRICS__")], where


def test_should_point_every_airflow_container_of_both_colours_at_the_exporter(statsd_run: ProgramRun) -> None:
    containers = airflow_containers(statsd_run)
    assert {env_of(each)["PIPELINE_PLATFORM_COLOR"] for _, each in containers} == {"blue", "green"}
    for where, each in containers:
        env = env_of(each)
        assert {name: env.get(name) for name in STATSD_ENV} == STATSD_ENV, where


def test_should_run_the_exporter_pinned_non_root_read_only_and_annotated_for_prometheus(statsd_run: ProgramRun) -> None:
    deployment = statsd_run.find("Deployment", "airflow-statsd")
    template = deployment["spec"]["template"]
    exporter = container(deployment)
    assert exporter["image"] == "prom/statsd-exporter:v0.28.0"
    assert template["spec"]["securityContext"]["runAsUser"] == 65534
    assert exporter["securityContext"]["readOnlyRootFilesystem"] is True
    assert template["spec"]["serviceAccountName"] == "airflow-statsd"
    assert template["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9102",
        "prometheus.io/path": "/metrics",
    }
    assert deployment["spec"]["selector"] == STATSD
    service = statsd_run.find("Service", "airflow-statsd")["spec"]
    assert service["selector"] == STATSD["matchLabels"]
    assert {(p["port"], p["protocol"]) for p in service["ports"]} == {(9125, "UDP"), (9125, "TCP"), (9102, "TCP")}


def test_should_let_airflow_pods_send_metrics_and_only_the_configured_peers_scrape_them(statsd_run: ProgramRun) -> None:
    clients = statsd_run.find("NetworkPolicy", "airflow-statsd-clients")["spec"]
    assert clients["podSelector"] == _airflow()
    assert clients["egress"] == [{"to": [{"podSelector": STATSD}], "ports": [{"protocol": "UDP", "port": 9125}]}]
    exporter = statsd_run.find("NetworkPolicy", "airflow-statsd")["spec"]
    assert exporter["podSelector"] == STATSD
    assert exporter["ingress"] == [
        {"from": [{"podSelector": _airflow()}], "ports": [{"protocol": "UDP", "port": 9125}]},
        {"from": [{"namespaceSelector": {}}], "ports": [{"protocol": "TCP", "port": 9102}]},
    ]
    assert exporter["egress"] == []


def test_should_let_prometheus_in_the_monitoring_namespace_scrape_by_default() -> None:
    run = run_stack(base_config(statsd={"enabled": True}))
    ingress = run.find("NetworkPolicy", "airflow-statsd")["spec"]["ingress"]
    assert ingress[1]["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]


def test_should_refuse_statsd_options_the_platform_sets_while_the_exporter_is_enabled() -> None:
    message = refused(
        base_config(statsd={"enabled": True}, airflowConfig={"metrics": {"statsd_host": "x", "statsd_prefix": "y"}})
    )
    assert "airflowConfig: metrics.statsd_host, metrics.statsd_prefix are set by the platform while statsd" in message
    run = run_stack(base_config(airflowConfig={"metrics": {"statsd_on": True, "statsd_host": "elsewhere"}}))
    scheduler = env_of(container(run.find("Deployment", "airflow-scheduler")))
    assert scheduler["AIRFLOW__METRICS__STATSD_HOST"] == "elsewhere"


# --- 7. PgBouncer (optional) ---------------------------------------------------------------------------------

PGBOUNCER = {"matchLabels": {"app.kubernetes.io/name": "pgbouncer", "app.kubernetes.io/component": "database-pool"}}
POOLED = "postgresql+psycopg2://airflow:test-db-password-91c2@airflow-pgbouncer.airflow-test.svc.cluster.local:6432/airflow-metadata"


@pytest.fixture(scope="module")
def pgbouncer_run() -> ProgramRun:
    return run_stack(base_config(pgbouncer={"enabled": True, "maxClientConn": 500, "defaultPoolSize": 25}))


@pytest.mark.parametrize("stack", STACKS)
def test_should_declare_no_pgbouncer_and_connect_directly_by_default(
    shipped: dict[str, ProgramRun], stack: str
) -> None:
    run = shipped[stack]
    assert not [r for r in run.kubernetes_objects() if "pgbouncer" in r.object_name]
    secret = run.find("Secret", "airflow-blue-airflow")["stringData"]
    assert "@metadata-db:5432/airflow" in secret["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "METADATA_DB_DIRECT_CONN" not in secret


@pytest.mark.parametrize("color", ["blue", "green"])
def test_should_connect_airflow_through_pgbouncer_and_migrations_directly(
    pgbouncer_run: ProgramRun, color: str
) -> None:
    secret = pgbouncer_run.find("Secret", f"airflow-{color}-airflow")["stringData"]
    assert secret["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == POOLED
    assert secret["AIRFLOW__CELERY__RESULT_BACKEND"] == f"db+{POOLED}"
    assert secret["METADATA_DB_DIRECT_CONN"] == SECRETS["metadataDbConnection"]
    # KEDA connects from its own namespace, straight to the database.
    assert "@metadata-db:5432/airflow" in secret["KEDA_DB_CONN"]
    direct = {"secretKeyRef": {"name": f"airflow-{color}-airflow", "key": "METADATA_DB_DIRECT_CONN"}}
    assert (
        env_of(container(pgbouncer_run.find("Job", f"airflow-{color}-migrate")))["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        == direct
    )
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env_of(
        container(pgbouncer_run.find("Deployment", f"airflow-{color}-api-server"))
    )


def test_should_render_the_pgbouncer_config_from_the_connection_secret_as_a_secret(pgbouncer_run: ProgramRun) -> None:
    config = pgbouncer_run.resource("Secret", "airflow-pgbouncer-config")
    assert "stringData" in config.secret_paths
    ini = config.inputs["stringData"]["pgbouncer.ini"]
    assert "airflow-metadata = host='metadata-db' port=5432 dbname='airflow'" in ini
    assert "max_client_conn = 500\n" in ini and "default_pool_size = 25\n" in ini
    assert "pool_mode = transaction\n" in ini and "listen_port = 6432\n" in ini
    assert config.inputs["stringData"]["users.txt"] == '"airflow" "test-db-password-91c2"\n'
    for resource in pgbouncer_run.kubernetes_objects():
        if resource.kind != "Secret":
            assert SECRETS["metadataDbConnection"].split(":")[2].split("@")[0] not in repr(resource.inputs), (
                resource.object_name
            )


def test_should_run_pgbouncer_pinned_non_root_read_only_with_its_config_mounted(pgbouncer_run: ProgramRun) -> None:
    deployment = pgbouncer_run.find("Deployment", "airflow-pgbouncer")
    spec = deployment["spec"]["template"]["spec"]
    bouncer = container(deployment)
    assert bouncer["image"] == "apache/airflow:airflow-pgbouncer-2025.03.05-1.23.1"
    assert bouncer["command"] == ["pgbouncer", "/etc/pgbouncer/pgbouncer.ini"]
    assert spec["securityContext"]["runAsUser"] == 65534 and bouncer["securityContext"]["readOnlyRootFilesystem"]
    assert spec["volumes"] == [
        {"name": "config", "secret": {"secretName": "airflow-pgbouncer-config", "defaultMode": 0o440}}
    ]
    assert bouncer["volumeMounts"] == [{"name": "config", "mountPath": "/etc/pgbouncer", "readOnly": True}]
    assert deployment["spec"]["selector"] == PGBOUNCER
    assert pgbouncer_run.find("Service", "airflow-pgbouncer")["spec"]["ports"][0]["port"] == 6432
    assert pgbouncer_run.object_waits_for(
        ("Deployment", "airflow-blue-api-server"), ("Deployment", "airflow-pgbouncer")
    )


TO_PGBOUNCER = {"to": [{"podSelector": PGBOUNCER}], "ports": [{"protocol": "TCP", "port": 6432}]}


@pytest.mark.parametrize(
    ("policy", "egress"),
    [
        ("scheduler", [TO_PGBOUNCER, TO_REDIS]),
        ("worker", [TO_PGBOUNCER, TO_REDIS, API, HTTPS]),
        ("api-server", ["logs", TO_PGBOUNCER, HTTPS]),
        ("migration", [_database("0.0.0.0/0")]),
        ("pgbouncer", [_database("0.0.0.0/0")]),
    ],
)
def test_should_route_database_traffic_through_pgbouncer_in_the_network_policies(
    pgbouncer_run: ProgramRun, policy: str, egress: list[Any]
) -> None:
    logs = {"to": [{"podSelector": _airflow("worker")}], "ports": [{"protocol": "TCP", "port": 8793}]}
    spec = pgbouncer_run.find("NetworkPolicy", f"airflow-{policy}")["spec"]
    assert spec["egress"] == [logs if rule == "logs" else rule for rule in egress]


def test_should_admit_only_airflow_database_clients_to_pgbouncer(pgbouncer_run: ProgramRun) -> None:
    spec = pgbouncer_run.find("NetworkPolicy", "airflow-pgbouncer")["spec"]
    assert spec["podSelector"] == PGBOUNCER
    clients = ["api-server", "webserver", "scheduler", "triggerer", "dag-processor", "worker"]
    assert spec["ingress"] == [
        {"from": [{"podSelector": _airflow(*clients)}], "ports": [{"protocol": "TCP", "port": 6432}]}
    ]


def test_should_refuse_pgbouncer_with_a_mysql_metadata_database() -> None:
    secrets = {**SECRETS, "metadataDbConnection": "mysql+mysqldb://airflow:my-secret-pw@db/airflow"}
    message = refused(base_config(pgbouncer={"enabled": True}), secrets)
    assert "pgbouncer.enabled: PgBouncer pools PostgreSQL connections, but metadataDbConnection is MySQL" in message
    assert "my-secret-pw" not in message
    assert run_stack(base_config(), secrets=secrets).find("Secret", "airflow-blue-airflow")


@pytest.mark.parametrize(
    ("url", "pooled", "server", "users"),
    [
        (
            "postgresql+psycopg2://air%40flow:p%3Aw%22d%2F@db.example.com:6543/meta?sslmode=require&application_name=af",
            "postgresql+psycopg2://air%40flow:p%3Aw%22d%2F@pgb:6432/airflow-metadata?application_name=af",
            ("host='db.example.com' port=6543 dbname='meta'", "server_tls_sslmode = require"),
            '"air@flow" "p:w""d/"\n',
        ),
        (
            "postgresql://airflow:pw@db/airflow",
            "postgresql://airflow:pw@pgb:6432/airflow-metadata",
            ("host='db' port=5432 dbname='airflow'", "server_tls_sslmode = prefer"),
            '"airflow" "pw"\n',
        ),
    ],
)
def test_should_translate_the_connection_url_for_pgbouncer_and_airflow(
    url: str, pooled: str, server: tuple[str, str], users: str
) -> None:
    from sqlalchemy.engine import make_url

    from infra.config import StackConfig
    from infra.pgbouncer import pgbouncer_ini, pooled_url, users_txt

    assert pooled_url(url, "pgb") == pooled
    # SQLAlchemy reads back the same credentials from the pooled URL as from the original one.
    original, through = make_url(url), make_url(pooled_url(url, "pgb"))
    assert (through.username, through.password) == (original.username, original.password)
    ini = pgbouncer_ini(url, StackConfig.model_validate(base_config(pgbouncer={"enabled": True})))
    assert all(part in ini for part in server)
    assert users_txt(url) == users
