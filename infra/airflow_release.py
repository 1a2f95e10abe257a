"""One colour's Airflow release: connections Secret, metadata migration, API server, worker pools, canary worker.

The scheduler, DAG processor and triggerer are not here: they must run in exactly one colour, so they are
one set of Deployments whose pod template follows the active colour (:mod:`infra.schedulers`).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.airflow_flavor import API_PORT
from infra.canary import canary_queue
from infra.color_context import ColorContext, broker_url, keda_connection
from infra.config import RESERVED_POOL, AfterFlip, Component
from infra.config import WorkerPool as WorkerPoolConfig
from infra.config_loader import StackSecrets
from infra.labels import selector_labels, standard_labels
from infra.metadata_migration import MetadataMigration
from infra.pgbouncer import DIRECT_CONNECTION_KEY, pgbouncer_host, pooled_url
from infra.pod_settings import env_from, extra_env, pod_metadata, pod_spec
from infra.security import AIRFLOW_UID, container_security_context, pod_security_context, resource_requirements
from infra.timeouts import wait_up_to
from infra.worker_pool import BROKER_URL_KEY, KEDA_CONNECTION_KEY, BrokerAccess, WorkerPool


class AirflowRelease(pulumi.ComponentResource):
    """A colour's Airflow: its Secret, migration Job, API server (Deployment, Service, PDB) and worker pools."""

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
        context: ColorContext,
        secrets: StackSecrets,
        broker: BrokerAccess,
        canary_broker_secret: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``canary_broker_secret``: the connections Secret whose broker URL the canary worker consumes from,
        the one of the colour whose scheduler runs when the smoke test does."""
        super().__init__("pipeline-platform:index:AirflowRelease", name, None, opts)
        self._name, self._context = name, context
        config = context.config
        self.active = context.color is config.active_color
        # The idle colour stays at full size unless configured to scale down after a flip; even then one
        # API server keeps answering on the preview Service.
        self.full_size = self.active or config.after_flip is AfterFlip.KEEP_WARM
        self.api_service_name = context.api_service_name
        self.env_secret_name = context.env_secret_name
        self.env = context.env

        env_secret = self._env_secret(secrets, broker)
        self.migration = MetadataMigration(
            f"{name}-migrate", context=context, opts=pulumi.ResourceOptions(parent=self, depends_on=[env_secret])
        )
        # Nothing of this release starts before its metadata schema is migrated.
        after_migration = pulumi.ResourceOptions(parent=self, depends_on=[self.migration.job])
        self.api_deployment = self._api_deployment(after_migration)
        self._api_service()
        self._api_disruption_budget()
        self.pools, self.worker_replicas = [], {}
        for pool in config.worker_pools:
            self.pools.append(self._pool(pool, broker, after_migration))
        self.canary = self._canary(broker, canary_broker_secret, after_migration)
        self.register_outputs({"apiServiceName": self.api_service_name})

    @property
    def _api_labels(self) -> dict[str, str]:
        c = self._context
        return standard_labels("airflow", c.flavor.api_component, c.instance, c.color, version=c.airflow_version)

    def _env_secret(self, secrets: StackSecrets, broker: BrokerAccess) -> k8s.core.v1.Secret:
        """The colour's connections: database, result backend, its own broker database, keys."""
        c = self._context
        direct = secrets.metadata_db_connection
        # With PgBouncer, Airflow's processes connect through it; the Jobs that migrate keep the direct URL.
        airflow_url = direct
        if c.config.pgbouncer.enabled:
            host = pgbouncer_host(c.config, c.instance)
            airflow_url = direct.apply(lambda url: pooled_url(url, host))
        values: dict[str, pulumi.Input[str]] = {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": airflow_url.apply(lambda url: f"db+{url}"),
            BROKER_URL_KEY: secrets.redis_password.apply(
                lambda password: broker_url(password, broker.host, broker.database)
            ),
            "AIRFLOW__CORE__FERNET_KEY": secrets.fernet_key,
            # Read by KEDA's TriggerAuthentication only (Airflow ignores it).
            KEDA_CONNECTION_KEY: secrets.metadata_db_connection.apply(keda_connection),
        }
        if c.config.pgbouncer.enabled:
            values[DIRECT_CONNECTION_KEY] = direct
        for variable in c.flavor.secret_key_variables:
            values[variable] = secrets.api_secret_key
        labels = standard_labels("airflow", "config", c.instance, c.color, version=c.airflow_version)
        return k8s.core.v1.Secret(
            f"{self._name}-env",
            metadata={"name": self.env_secret_name, "namespace": c.namespace, "labels": labels},
            type="Opaque",
            string_data={key: pulumi.Output.secret(value) for key, value in values.items()},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _api_deployment(self, opts: pulumi.ResourceOptions) -> k8s.apps.v1.Deployment:
        c = self._context
        config, flavor = c.config, c.flavor
        settings = config.components.api_server
        health: k8s.core.v1.HTTPGetActionArgsDict = {"path": flavor.health_path, "port": "http"}
        container: k8s.core.v1.ContainerArgsDict = {
            "name": flavor.api_component,
            "image": c.image,
            "args": flavor.api_command,
            "env": [*self.env, *extra_env(settings)],
            "envFrom": env_from(settings, self.env_secret_name),
            "ports": [{"name": "http", "containerPort": API_PORT}],
            "startupProbe": {"httpGet": health, "periodSeconds": 10, "failureThreshold": 30},
            "readinessProbe": {"httpGet": health, "periodSeconds": 10, "timeoutSeconds": 5},
            "livenessProbe": {"httpGet": health, "periodSeconds": 20, "timeoutSeconds": 10, "failureThreshold": 5},
            "resources": resource_requirements(config.airflow_resources.api_server),
            "securityContext": container_security_context(read_only_root=False),
        }
        return k8s.apps.v1.Deployment(
            f"{self._name}-api",
            metadata={
                "name": f"{c.prefix}-{flavor.api_component}",
                "namespace": c.namespace,
                "labels": self._api_labels,
            },
            spec={
                "replicas": c.release.api_replicas if self.full_size else 1,
                "selector": {"matchLabels": selector_labels("airflow", flavor.api_component, c.color)},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "progressDeadlineSeconds": c.rollout.progress_deadline_seconds,
                "template": {
                    "metadata": pod_metadata(self._api_labels, settings),
                    "spec": pod_spec(
                        config,
                        Component.API_SERVER,
                        c.instance,
                        [container],
                        securityContext=pod_security_context(AIRFLOW_UID),
                    ),
                },
            },
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(custom_timeouts=wait_up_to(c.rollout.pulumi_timeout))
            ),
        )

    def _api_service(self) -> k8s.core.v1.Service:
        c = self._context
        return k8s.core.v1.Service(
            f"{self._name}-api-service",
            metadata={"name": self.api_service_name, "namespace": c.namespace, "labels": self._api_labels},
            spec={
                "type": "ClusterIP",
                "selector": selector_labels("airflow", c.flavor.api_component, c.color),
                "ports": [{"name": "http", "port": API_PORT, "targetPort": "http"}],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _api_disruption_budget(self) -> k8s.policy.v1.PodDisruptionBudget:
        """A drain takes at most ``maxUnavailable`` API servers of the colour at once."""
        c = self._context
        return k8s.policy.v1.PodDisruptionBudget(
            f"{self._name}-api-pdb",
            metadata={
                "name": f"{c.prefix}-{c.flavor.api_component}",
                "namespace": c.namespace,
                "labels": self._api_labels,
            },
            spec={
                "maxUnavailable": c.config.components.api_server.disruption_budget.max_unavailable,
                "selector": {"matchLabels": selector_labels("airflow", c.flavor.api_component, c.color)},
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _pool(self, pool: WorkerPoolConfig, broker: BrokerAccess, opts: pulumi.ResourceOptions) -> WorkerPool:
        # KEDA counts task instances in the shared metadata database, which both colours' tasks are in: only
        # the active colour autoscales on it. An HPA (CPU) measures its own pods, so a warm idle colour keeps it.
        scaler = pool.autoscaling if self.full_size else None
        if scaler is not None and scaler.kind == "keda" and not self.active:
            scaler = None
        replicas = pool.replicas if self.full_size else 0
        self.worker_replicas[pool.name] = None if scaler is not None else replicas
        return WorkerPool(
            f"{self._name}-pool-{pool.name}",
            context=self._context,
            pool=pool,
            replicas=replicas,
            autoscaling=scaler,
            broker=broker,
            keda_connection_secret=self.env_secret_name,
            opts=opts,
        )

    def _canary(self, broker: BrokerAccess, canary_broker_secret: str, opts: pulumi.ResourceOptions) -> WorkerPool:
        return WorkerPool(
            f"{self._name}-pool-{RESERVED_POOL}",
            context=self._context,
            pool=WorkerPoolConfig(
                name=RESERVED_POOL,
                queues=[canary_queue(self._context.color)],
                replicas=1,
                concurrency=1,
                longest_task_seconds=60,
            ),
            # Only the candidate (the active colour) is smoke-tested.
            replicas=1 if self.active else 0,
            autoscaling=None,
            broker=broker,
            keda_connection_secret=self.env_secret_name,
            # Set explicitly, this broker URL wins over the one envFrom brings from the colour's own Secret.
            broker_url_from=canary_broker_secret,
            opts=opts,
        )
