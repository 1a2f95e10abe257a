"""The platform the program declares: pools, colour isolation, router, schedulers, images, outputs.

Every test runs the real program (infra/__main__.py) under Pulumi's mock runtime and reads the declared
Kubernetes objects.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from infra_fixtures import SECRETS, base_config, run_stack

from infra.labels import COLOR_LABEL, POOL_LABEL
from infra.offline.mock_runtime import ProgramRun


def container(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]["containers"][0]


def env_value(obj: dict[str, Any], name: str) -> str:
    return next(item["value"] for item in container(obj)["env"] if item["name"] == name)


@pytest.mark.parametrize(
    ("color", "pool", "replicas"),
    [("blue", "default", 2), ("blue", "etl", 3), ("green", "default", 2), ("green", "etl", 3)],
)
def test_should_give_each_pool_its_configured_replicas_in_both_colours_when_kept_warm(
    blue_run: ProgramRun, color: str, pool: str, replicas: int
) -> None:
    deployment = blue_run.find("Deployment", f"airflow-{color}-worker-{pool}")
    assert deployment["spec"]["replicas"] == replicas


def test_should_follow_a_scaled_pool_replica_count() -> None:
    config = base_config()
    config["workerPools"][1]["replicas"] = 8
    run = run_stack(config)
    assert run.find("Deployment", "airflow-blue-worker-etl")["spec"]["replicas"] == 8
    assert run.outputs["workerReplicas"]["blue"] == {"default": 2, "etl": 8}


def test_should_scale_the_idle_colour_down_to_one_api_server_and_no_workers_when_configured() -> None:
    run = run_stack(base_config(afterFlip="scaleDown"))
    assert run.find("Deployment", "airflow-green-worker-default")["spec"]["replicas"] == 0
    assert run.find("Deployment", "airflow-green-worker-etl")["spec"]["replicas"] == 0
    assert run.find("Deployment", "airflow-green-api-server")["spec"]["replicas"] == 1
    assert run.find("Deployment", "airflow-blue-worker-etl")["spec"]["replicas"] == 3


def test_should_consume_only_the_pool_queues(blue_run: ProgramRun) -> None:
    args = container(blue_run.find("Deployment", "airflow-blue-worker-etl"))["args"]
    assert args[:2] == ["bash", "-c"]
    assert "--queues etl,backfill " in args[2]
    assert "--concurrency 8" in container(blue_run.find("Deployment", "airflow-blue-worker-default"))["args"][2]


@pytest.mark.parametrize(("color", "database"), [("blue", 0), ("green", 1)])
def test_should_give_each_colour_its_own_broker_database(blue_run: ProgramRun, color: str, database: int) -> None:
    secret = blue_run.find("Secret", f"airflow-{color}-airflow")
    password = quote(SECRETS["redisPassword"], safe="")
    assert secret["stringData"]["AIRFLOW__CELERY__BROKER_URL"] == (
        f"redis://:{password}@airflow-redis.airflow-test.svc.cluster.local:6379/{database}"
    )
    for pool in ("default", "etl"):
        worker = blue_run.find("Deployment", f"airflow-{color}-worker-{pool}")
        assert container(worker)["envFrom"] == [{"secretRef": {"name": f"airflow-{color}-airflow"}}]


def test_should_point_each_colour_workers_at_their_own_api_server(blue_run: ProgramRun) -> None:
    for color in ("blue", "green"):
        worker = blue_run.find("Deployment", f"airflow-{color}-worker-default")
        assert env_value(worker, "AIRFLOW__CORE__EXECUTION_API_SERVER_URL") == (
            f"http://airflow-{color}-api.airflow-test.svc.cluster.local:8080/execution/"
        )


def test_should_select_workers_by_fixed_colour_and_pool_labels(
    blue_run: ProgramRun, green_flip_run: ProgramRun
) -> None:
    before = blue_run.find("Deployment", "airflow-green-worker-etl")["spec"]["selector"]
    after = green_flip_run.find("Deployment", "airflow-green-worker-etl")["spec"]["selector"]
    assert (
        before
        == after
        == {
            "matchLabels": {
                "app.kubernetes.io/name": "airflow",
                "app.kubernetes.io/component": "worker",
                COLOR_LABEL: "green",
                POOL_LABEL: "etl",
            }
        }
    )


@pytest.mark.parametrize(("active", "idle"), [("blue", "green"), ("green", "blue")])
def test_should_route_the_active_service_to_the_active_colour_and_preview_to_the_idle_one(
    blue_run: ProgramRun, green_flip_run: ProgramRun, active: str, idle: str
) -> None:
    run = blue_run if active == "blue" else green_flip_run
    assert run.find("Service", "airflow-api")["spec"]["selector"][COLOR_LABEL] == active
    assert run.find("Service", "airflow-api-preview")["spec"]["selector"][COLOR_LABEL] == idle
    assert run.outputs["activeColor"] == active


@pytest.mark.parametrize("component", ["scheduler", "dag-processor", "triggerer"])
def test_should_run_one_deployment_per_scheduling_process_following_the_active_colour(
    blue_run: ProgramRun, green_flip_run: ProgramRun, component: str
) -> None:
    for run, active in ((blue_run, "blue"), (green_flip_run, "green")):
        deployment = run.find("Deployment", f"airflow-{component}")
        assert deployment["spec"]["replicas"] == 1
        template = deployment["spec"]["template"]
        assert template["metadata"]["labels"][COLOR_LABEL] == active
        assert container(deployment)["envFrom"] == [{"secretRef": {"name": f"airflow-{active}-airflow"}}]
        assert container(deployment)["image"] == run.outputs["images"][active]
        assert env_value(deployment, "PIPELINE_PLATFORM_COLOR") == active
        # No per-colour copy that could run beside it.
        assert not [
            r
            for r in run.kubernetes_objects()
            if r.object_name.endswith(f"-{component}") and r.object_name != f"airflow-{component}"
        ]
    # The selector never names a colour: a flip changes the template only, never replaces the Deployment.
    assert (
        blue_run.find("Deployment", f"airflow-{component}")["spec"]["selector"]
        == green_flip_run.find("Deployment", f"airflow-{component}")["spec"]["selector"]
        == {"matchLabels": {"app.kubernetes.io/name": "airflow", "app.kubernetes.io/component": component}}
    )


@pytest.mark.parametrize("component", ["scheduler", "dag-processor", "triggerer"])
def test_should_stop_the_old_scheduling_pod_before_starting_the_new_one(blue_run: ProgramRun, component: str) -> None:
    deployment = blue_run.find("Deployment", f"airflow-{component}")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert blue_run.registration("Deployment", f"airflow-{component}").delete_before_replace is True


def test_should_use_webserver_and_no_dag_processor_for_airflow_2() -> None:
    config = base_config()
    config["releases"]["blue"]["airflowVersion"] = "2.10.5"
    config["releases"]["blue"]["image"]["tag"] = "2.10.5-python3.12"
    run = run_stack(config)
    webserver = run.find("Deployment", "airflow-blue-webserver")
    assert container(webserver)["args"] == ["airflow", "webserver", "--port", "8080"]
    assert container(webserver)["readinessProbe"]["httpGet"]["path"] == "/health"
    assert run.find("Service", "airflow-api")["spec"]["selector"]["app.kubernetes.io/component"] == "webserver"
    assert not [r for r in run.kubernetes_objects() if r.object_name == "airflow-blue-dag-processor"]
    assert run.find("Deployment", "airflow-dag-processor")["spec"]["replicas"] == 0
    assert container(run.find("Deployment", "airflow-scheduler"))["image"] == "apache/airflow:2.10.5-python3.12"


def test_should_shut_workers_down_warm(blue_run: ProgramRun) -> None:
    worker = blue_run.find("Deployment", "airflow-blue-worker-etl")
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 3600 + 60
    assert env_value(worker, "DUMB_INIT_SETSID") == "0"
    assert container(worker)["args"][2].startswith("exec airflow celery worker")


def test_should_check_worker_liveness_with_a_celery_ping(blue_run: ProgramRun) -> None:
    probe = container(blue_run.find("Deployment", "airflow-blue-worker-default"))["livenessProbe"]
    assert "inspect ping" in probe["exec"]["command"][2]
    assert "celery@$(hostname)" in probe["exec"]["command"][2]


def test_should_protect_each_pool_with_a_disruption_budget(blue_run: ProgramRun) -> None:
    for color in ("blue", "green"):
        for pool in ("default", "etl"):
            budget = blue_run.find("PodDisruptionBudget", f"airflow-{color}-worker-{pool}")
            deployment = blue_run.find("Deployment", f"airflow-{color}-worker-{pool}")
            assert budget["spec"]["maxUnavailable"] == 1
            assert budget["spec"]["selector"] == deployment["spec"]["selector"]


def test_should_leave_replicas_to_an_hpa_and_target_the_pool_deployment() -> None:
    config = base_config()
    config["workerPools"][0]["autoscaling"] = {"kind": "hpa", "minReplicas": 2, "maxReplicas": 6}
    run = run_stack(config)
    assert "replicas" not in run.find("Deployment", "airflow-blue-worker-default")["spec"]
    hpa = run.find("HorizontalPodAutoscaler", "airflow-blue-worker-default")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "airflow-blue-worker-default"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert run.outputs["workerReplicas"]["blue"]["default"] is None


def test_should_drop_the_idle_autoscaler_when_the_idle_colour_is_scaled_down() -> None:
    config = base_config(afterFlip="scaleDown")
    config["workerPools"][0]["autoscaling"] = {"kind": "hpa", "minReplicas": 2, "maxReplicas": 6}
    run = run_stack(config)
    assert run.find("HorizontalPodAutoscaler", "airflow-blue-worker-default")
    with pytest.raises(KeyError):
        run.find("HorizontalPodAutoscaler", "airflow-green-worker-default")
    assert run.find("Deployment", "airflow-green-worker-default")["spec"]["replicas"] == 0


def test_should_persist_redis_with_appendonly_when_enabled() -> None:
    run = run_stack(base_config(redis={"persistence": {"enabled": True, "size": "20Gi", "storageClass": "gp3"}}))
    claim = run.find("PersistentVolumeClaim", "airflow-redis-data")
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["spec"]["storageClassName"] == "gp3"
    redis = run.find("Deployment", "airflow-redis")
    assert "--appendonly yes" in container(redis)["args"][0]
    assert redis["spec"]["template"]["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "airflow-redis-data"}}
    ]


def test_should_keep_redis_ephemeral_without_persistence(blue_run: ProgramRun) -> None:
    redis = blue_run.find("Deployment", "airflow-redis")
    assert redis["spec"]["template"]["spec"]["volumes"] == [{"name": "data", "emptyDir": {}}]
    assert not [r for r in blue_run.kubernetes_objects() if r.kind == "PersistentVolumeClaim"]
    env = container(redis)["env"][0]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "airflow-redis-auth", "key": "password"}


def test_should_reference_built_images_by_digest_and_configured_images_as_written(blue_run: ProgramRun) -> None:
    green = container(blue_run.find("Deployment", "airflow-green-api-server"))["image"]
    blue = container(blue_run.find("Deployment", "airflow-blue-api-server"))["image"]
    assert green.startswith("registry.example.com/data/airflow@sha256:")
    assert len(green.rsplit(":", 1)[1]) == 64
    assert blue == "apache/airflow:3.0.2-python3.12"
    build = next(r for r in blue_run.resources if r.type == "docker:index/image:Image")
    assert build.inputs["build"]["args"] == {"AIRFLOW_VERSION": "3.0.2", "PYTHON_VERSION": "3.12"}
    assert build.inputs["build"]["dockerfile"].endswith("/Dockerfile")
    assert build.inputs["skipPush"] is False
    assert blue_run.outputs["images"] == {"blue": blue, "green": green}


def test_should_smoke_test_the_candidate_through_the_preview_service_during_a_flip(
    blue_run: ProgramRun, green_flip_run: ProgramRun
) -> None:
    flip_job = green_flip_run.find("Job", "airflow-smoke-test")
    assert env_value(flip_job, "BASE_URL") == "http://airflow-api-preview.airflow-test.svc.cluster.local:8080"
    assert env_value(flip_job, "CANDIDATE_COLOR") == "green"
    first = blue_run.find("Job", "airflow-smoke-test")
    assert env_value(first, "BASE_URL") == "http://airflow-blue-api.airflow-test.svc.cluster.local:8080"


def test_should_migrate_the_metadata_database_per_release(blue_run: ProgramRun) -> None:
    for color in ("blue", "green"):
        job = blue_run.find("Job", f"airflow-{color}-migrate")
        assert container(job)["args"] == ["airflow", "db", "migrate"]
        assert container(job)["envFrom"] == [{"secretRef": {"name": f"airflow-{color}-airflow"}}]


def test_should_record_every_colour_schema_versions_on_the_router(blue_run: ProgramRun) -> None:
    annotations = blue_run.find("Service", "airflow-api")["metadata"]["annotations"]
    assert annotations["pipeline-platform.io/schemas-blue"] == '{"users":2}'
    assert annotations["pipeline-platform.io/schemas-green"] == '{"users":3}'
    assert blue_run.outputs["schemaVersions"] == {"blue": {"users": 2}, "green": {"users": 3}}


def test_should_export_services_and_the_redis_endpoint(blue_run: ProgramRun) -> None:
    assert blue_run.outputs["services"] == {
        "active": "airflow-api",
        "preview": "airflow-api-preview",
        "blue": "airflow-blue-api",
        "green": "airflow-green-api",
    }
    assert blue_run.outputs["redisEndpoint"] == "airflow-redis.airflow-test.svc.cluster.local:6379"


def test_should_never_put_a_secret_in_outputs_or_non_secret_objects(blue_run: ProgramRun) -> None:
    secret_values = set(SECRETS.values()) | {quote(SECRETS["redisPassword"], safe="")}
    assert not blue_run.secret_outputs
    outputs_text = repr(blue_run.outputs)
    for value in secret_values:
        assert value not in outputs_text
    for resource in blue_run.kubernetes_objects():
        if resource.kind == "Secret":
            continue
        text = repr(resource.inputs)
        leaked = [value for value in secret_values if value in text]
        assert not leaked, f"{resource.kind}/{resource.object_name} holds a secret value"


def test_should_keep_secrets_in_kubernetes_secrets(blue_run: ProgramRun) -> None:
    data = blue_run.find("Secret", "airflow-blue-airflow")["stringData"]
    assert data["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == SECRETS["metadataDbConnection"]
    assert data["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + SECRETS["metadataDbConnection"]
    assert data["AIRFLOW__CORE__FERNET_KEY"] == SECRETS["fernetKey"]
    assert data["AIRFLOW__API__SECRET_KEY"] == SECRETS["apiSecretKey"]
    assert blue_run.find("Secret", "airflow-redis-auth")["stringData"] == {"password": SECRETS["redisPassword"]}


def _pod_specs(run: ProgramRun) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{r.kind}/{r.object_name}", r.inputs["spec"]["template"]["spec"])
        for r in run.kubernetes_objects()
        if r.kind in {"Deployment", "Job"}
    ]


def test_should_run_every_pod_restricted(blue_run: ProgramRun) -> None:
    specs = _pod_specs(blue_run)
    assert len(specs) >= 12
    for where, spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for each in spec["containers"]:
            context = each["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert set(each["resources"]) == {"requests", "limits"}, where
            assert set(each["resources"]["limits"]) == {"cpu", "memory"}, where


def test_should_label_every_object_with_the_recommended_labels(blue_run: ProgramRun) -> None:
    for resource in blue_run.kubernetes_objects():
        labels = resource.inputs["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "pipeline-platform", resource.object_name
        assert labels["app.kubernetes.io/managed-by"] == "pulumi", resource.object_name
        if resource.kind != "Namespace":
            assert {"app.kubernetes.io/name", "app.kubernetes.io/component", "app.kubernetes.io/instance"} <= set(
                labels
            ), resource.object_name


def test_should_enforce_the_restricted_pod_security_standard_on_the_namespace(blue_run: ProgramRun) -> None:
    labels = blue_run.find("Namespace", "airflow-test")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(
        r.inputs["metadata"]["namespace"] == "airflow-test"
        for r in blue_run.kubernetes_objects()
        if r.kind != "Namespace"
    )
