"""One colour's Airflow release: connections Secret, metadata migration, API server, worker pools, canary worker.

The scheduler, DAG processor and triggerer are not here: they must run in exactly one colour, so they are
one set of Deployments whose pod template follows the active colour (:mod:`infra.schedulers`).
"""

from __future__ import annotations

from urllib.parse import quote

import pulumi
import pulumi_kubernetes as k8s

from infra.airflow_flavor import API_PORT, AirflowFlavor
from infra.canary import canary_queue
from infra.config import RESERVED_POOL, AfterFlip, Color, Release, StackConfig
from infra.config import WorkerPool as WorkerPoolConfig
from infra.config_loader import StackSecrets
from infra.labels import selector_labels, standard_labels
from infra.metadata_migration import MetadataMigration
from infra.redis_broker import REDIS_PORT
from infra.security import AIRFLOW_UID, container_security_context, pod_security_context, resource_requirements
from infra.timeouts import wait_up_to
from infra.worker_pool import BrokerAccess, WorkerPool

BROKER_URL_KEY = "AIRFLOW__CELERY__BROKER_URL"
"""The key of a colour's connections Secret holding its broker URL (its own Redis database)."""


def release_env(
    config: StackConfig, color: Color, namespace: str, api_service: str
) -> list[k8s.core.v1.EnvVarArgsDict]:
    """Plain (non-secret) environment shared by every Airflow container of a colour."""
    release = config.releases[color]
    env: list[k8s.core.v1.EnvVarArgsDict] = [
        {"name": "AIRFLOW__CORE__EXECUTOR", "value": "CeleryExecutor"},
        {"name": "AIRFLOW__CORE__LOAD_EXAMPLES", "value": "False"},
        # Tasks without an explicit queue go to the first pool's first queue, which some pool consumes.
        {"name": "AIRFLOW__OPERATORS__DEFAULT_QUEUE", "value": config.worker_pools[0].queues[0]},
        {"name": "PIPELINE_PLATFORM_COLOR", "value": color.value},
    ]
    if release.airflow_major >= 3:
        # Airflow 3 workers run tasks through the Task Execution API; each colour talks to its own API server.
        env.append(
            {
                "name": "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                "value": f"http://{api_service}.{namespace}.svc.cluster.local:{API_PORT}/execution/",
            }
        )
    return env


def broker_url(password: str, host: str, database: int) -> str:
    """The colour's Celery broker URL: same Redis, the colour's own database number."""
    return f"redis://:{quote(password, safe='')}@{host}:{REDIS_PORT}/{database}"


class AirflowRelease(pulumi.ComponentResource):
    """A colour's Airflow: its Secret, migration Job, API server (Deployment + Service) and worker pools."""

    api_deployment: k8s.apps.v1.Deployment
    api_service_name: str
    env_secret_name: str
    env: list[k8s.core.v1.EnvVarArgsDict]
    migration: MetadataMigration
    pools: list[WorkerPool]
    canary: WorkerPool
    """The one-replica worker that consumes this colour's canary queue (see :mod:`infra.canary`)."""
    worker_replicas: dict[str, int | None]
    """Declared replicas per pool (None when an autoscaler owns the count)."""

    def __init__(
        self,
        name: str,
        config: StackConfig,
        color: Color,
        image: pulumi.Input[str],
        secrets: StackSecrets,
        broker: BrokerAccess,
        instance: str,
        canary_broker_secret: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``canary_broker_secret``: the connections Secret whose broker URL the canary worker consumes from,
        the one of the colour whose scheduler runs when the smoke test does."""
        super().__init__("pipeline-platform:index:AirflowRelease", name, None, opts)
        release: Release = config.releases[color]
        namespace = config.namespace
        flavor = AirflowFlavor(release.airflow_major)
        active = color is config.active_color
        # The idle colour stays at full size unless configured to scale down after a flip; even then one
        # API server keeps answering on the preview Service.
        full_size = active or config.after_flip is AfterFlip.KEEP_WARM
        prefix = f"{instance}-{color.value}"
        self.api_service_name = f"{prefix}-api"
        self.env_secret_name = f"{prefix}-airflow"
        self.env = release_env(config, color, namespace, self.api_service_name)

        secret_values: dict[str, pulumi.Input[str]] = {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": secrets.metadata_db_connection,
            "AIRFLOW__CELERY__RESULT_BACKEND": secrets.metadata_db_connection.apply(lambda url: f"db+{url}"),
            BROKER_URL_KEY: secrets.redis_password.apply(
                lambda password: broker_url(password, broker.host, broker.database)
            ),
            "AIRFLOW__CORE__FERNET_KEY": secrets.fernet_key,
        }
        for variable in flavor.secret_key_variables:
            secret_values[variable] = secrets.api_secret_key
        labels = standard_labels("airflow", "config", instance, color, version=release.airflow_version)
        env_secret = k8s.core.v1.Secret(
            f"{name}-env",
            metadata={"name": self.env_secret_name, "namespace": namespace, "labels": labels},
            type="Opaque",
            string_data={key: pulumi.Output.secret(value) for key, value in secret_values.items()},
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.migration = MetadataMigration(
            f"{name}-migrate",
            color=color,
            namespace=namespace,
            instance=instance,
            image=image,
            airflow_version=release.airflow_version,
            env=self.env,
            env_secret_name=self.env_secret_name,
            resources=config.airflow_resources.migration,
            settings=config.migration,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[env_secret]),
        )
        # Nothing of this release starts before its metadata schema is migrated.
        after_migration = pulumi.ResourceOptions(parent=self, depends_on=[self.migration.job])
        rollout = config.rollout

        api_labels = standard_labels("airflow", flavor.api_component, instance, color, version=release.airflow_version)
        api_selector = selector_labels("airflow", flavor.api_component, color)
        health: k8s.core.v1.HTTPGetActionArgsDict = {"path": flavor.health_path, "port": "http"}
        self.api_deployment = k8s.apps.v1.Deployment(
            f"{name}-api",
            metadata={"name": f"{prefix}-{flavor.api_component}", "namespace": namespace, "labels": api_labels},
            spec={
                "replicas": release.api_replicas if full_size else 1,
                "selector": {"matchLabels": api_selector},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "progressDeadlineSeconds": rollout.progress_deadline_seconds,
                "template": {
                    "metadata": {"labels": api_labels},
                    "spec": {
                        "securityContext": pod_security_context(AIRFLOW_UID),
                        "automountServiceAccountToken": False,
                        "containers": [
                            {
                                "name": flavor.api_component,
                                "image": image,
                                "args": flavor.api_command,
                                "env": self.env,
                                "envFrom": [{"secretRef": {"name": self.env_secret_name}}],
                                "ports": [{"name": "http", "containerPort": API_PORT}],
                                "startupProbe": {"httpGet": health, "periodSeconds": 10, "failureThreshold": 30},
                                "readinessProbe": {"httpGet": health, "periodSeconds": 10, "timeoutSeconds": 5},
                                "livenessProbe": {
                                    "httpGet": health,
                                    "periodSeconds": 20,
                                    "timeoutSeconds": 10,
                                    "failureThreshold": 5,
                                },
                                "resources": resource_requirements(config.airflow_resources.api_server),
                                "securityContext": container_security_context(read_only_root=False),
                            }
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions.merge(
                after_migration, pulumi.ResourceOptions(custom_timeouts=wait_up_to(rollout.pulumi_timeout))
            ),
        )
        k8s.core.v1.Service(
            f"{name}-api-service",
            metadata={"name": self.api_service_name, "namespace": namespace, "labels": api_labels},
            spec={
                "type": "ClusterIP",
                "selector": api_selector,
                "ports": [{"name": "http", "port": API_PORT, "targetPort": "http"}],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.pools = []
        self.worker_replicas = {}
        for pool in config.worker_pools:
            autoscale = pool.autoscaling is not None and full_size
            replicas = pool.replicas if full_size else 0
            self.worker_replicas[pool.name] = None if autoscale else replicas
            self.pools.append(
                WorkerPool(
                    f"{name}-pool-{pool.name}",
                    pool=pool,
                    color=color,
                    namespace=namespace,
                    instance=instance,
                    image=image,
                    airflow_version=release.airflow_version,
                    env=self.env,
                    env_secret_name=self.env_secret_name,
                    replicas=replicas,
                    autoscale=autoscale,
                    broker=broker,
                    rollout=rollout,
                    opts=after_migration,
                )
            )
        self.canary = WorkerPool(
            f"{name}-pool-{RESERVED_POOL}",
            pool=WorkerPoolConfig(
                name=RESERVED_POOL, queues=[canary_queue(color)], replicas=1, concurrency=1, longest_task_seconds=60
            ),
            color=color,
            namespace=namespace,
            instance=instance,
            image=image,
            airflow_version=release.airflow_version,
            # Set explicitly, this broker URL wins over the one envFrom brings from the colour's own Secret.
            env=[
                *self.env,
                {
                    "name": BROKER_URL_KEY,
                    "valueFrom": {"secretKeyRef": {"name": canary_broker_secret, "key": BROKER_URL_KEY}},
                },
            ],
            env_secret_name=self.env_secret_name,
            # Only the candidate (the active colour) is smoke-tested.
            replicas=1 if active else 0,
            autoscale=False,
            broker=broker,
            rollout=rollout,
            opts=after_migration,
        )
        self.register_outputs({"apiServiceName": self.api_service_name})
