"""A Celery worker pool of one colour: Deployment, PodDisruptionBudget, and optional HPA or KEDA scaler."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.airflow_flavor import CELERY_APP, LOG_SERVER_PORT
from infra.color_context import ColorContext
from infra.config import Autoscaling, Component
from infra.config import WorkerPool as WorkerPoolConfig
from infra.labels import selector_labels, standard_labels
from infra.pod_settings import SAFE_TO_EVICT, env_from, extra_env, pod_metadata, pod_spec
from infra.security import AIRFLOW_UID, container_security_context, pod_security_context, resource_requirements
from infra.timeouts import wait_up_to

BROKER_URL_KEY = "AIRFLOW__CELERY__BROKER_URL"
"""The key of a colour's connections Secret holding its broker URL (its own Redis database)."""
KEDA_CONNECTION_KEY = "KEDA_DB_CONN"
"""The key of a colour's connections Secret holding the metadata database URL in the form KEDA reads."""


@dataclass(frozen=True)
class BrokerAccess:
    """Where a colour's Celery broker is: the host, the colour's database, the password Secret."""

    host: str
    port: int
    database: int
    password_secret_name: str


def worker_command(pool: WorkerPoolConfig) -> str:
    """The shell command of a worker container.

    ``exec`` makes Celery the process that receives SIGTERM (with ``DUMB_INIT_SETSID=0`` the image's
    dumb-init forwards the signal to it alone), so a stopping worker finishes its running tasks: warm shutdown.
    """
    queues = ",".join(pool.queues)
    return f"exec airflow celery worker --queues {shlex.quote(queues)} --concurrency {pool.concurrency}"


def liveness_command() -> str:
    """Celery ping of this very worker: fails when the worker stopped consuming, not merely when busy."""
    return f'celery --app {CELERY_APP} inspect ping -d "celery@$(hostname)" --timeout 10'


def keda_query(queues: Sequence[str], tasks_per_replica: int) -> str:
    """The replicas a pool needs: its running and queued task instances, ``tasks_per_replica`` per worker.

    The Airflow Helm chart's query. Running tasks count, so a pool never scales to zero (nor below what its
    running tasks occupy) while one of its tasks runs; all of the pool's queues are summed in one trigger.
    """
    listed = ", ".join("'" + queue.replace("'", "''") + "'" for queue in queues)
    return (
        f"SELECT ceil(COUNT(*)::decimal / {tasks_per_replica}) FROM task_instance "
        f"WHERE (state='running' OR state='queued') AND queue IN ({listed})"
    )


class WorkerPool(pulumi.ComponentResource):
    """One pool's workers in one colour; the Deployment's selector (colour + pool) never changes."""

    deployment: k8s.apps.v1.Deployment
    deployment_name: str

    def __init__(
        self,
        name: str,
        context: ColorContext,
        pool: WorkerPoolConfig,
        replicas: int,
        autoscaling: Autoscaling | None,
        broker: BrokerAccess,
        keda_connection_secret: str,
        broker_url_from: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``autoscaling``: the scaler to declare (None: ``replicas`` fixed). ``broker_url_from``: a connections
        Secret whose broker URL replaces the colour's own (the canary worker's)."""
        super().__init__("pipeline-platform:index:WorkerPool", name, None, opts)
        self._name, self._context, self._pool = name, context, pool
        self.deployment_name = f"{context.prefix}-worker-{pool.name}"
        self._labels = standard_labels(
            "airflow", "worker", context.instance, context.color, pool.name, context.airflow_version
        )
        self._selector = selector_labels("airflow", "worker", context.color, pool.name)
        self.deployment = self._deployment(replicas, autoscaling, broker_url_from)
        self._disruption_budget()
        if autoscaling is not None and autoscaling.kind == "hpa":
            self._hpa(autoscaling)
        elif autoscaling is not None:
            self._keda(autoscaling, keda_connection_secret)
        self.register_outputs({"deploymentName": self.deployment_name})

    def _metadata(self) -> k8s.meta.v1.ObjectMetaArgsDict:
        return {"name": self.deployment_name, "namespace": self._context.namespace, "labels": self._labels}

    def _deployment(
        self, replicas: int, autoscaling: Autoscaling | None, broker_url_from: str | None
    ) -> k8s.apps.v1.Deployment:
        c, pool = self._context, self._pool
        settings = c.config.pool_settings(pool)
        env: list[k8s.core.v1.EnvVarArgsDict] = [*c.env, {"name": "DUMB_INIT_SETSID", "value": "0"}]
        if broker_url_from is not None:
            env.append(
                {
                    "name": BROKER_URL_KEY,
                    "valueFrom": {"secretKeyRef": {"name": broker_url_from, "key": BROKER_URL_KEY}},
                }
            )
        container: k8s.core.v1.ContainerArgsDict = {
            "name": "worker",
            "image": c.image,
            "args": ["bash", "-c", worker_command(pool)],
            "env": [*env, *extra_env(settings)],
            "envFrom": env_from(settings, c.env_secret_name),
            # The API server reads a running task's log from here (the worker's pod IP is its hostname).
            "ports": [{"name": "worker-logs", "containerPort": LOG_SERVER_PORT}],
            "livenessProbe": {
                "exec": {"command": ["sh", "-c", liveness_command()]},
                "initialDelaySeconds": 30,
                "periodSeconds": 60,
                "timeoutSeconds": 20,
                "failureThreshold": 5,
            },
            "resources": resource_requirements(pool.resources),
            "securityContext": container_security_context(read_only_root=False),
        }
        annotations = {} if c.config.safe_to_evict(pool) else {SAFE_TO_EVICT: "false"}
        spec: k8s.apps.v1.DeploymentSpecArgsDict = {
            "selector": {"matchLabels": self._selector},
            # Start the replacement before stopping the old worker; old ones drain during their grace period.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "progressDeadlineSeconds": c.rollout.progress_deadline_seconds,
            "template": {
                "metadata": pod_metadata(self._labels, settings, annotations),
                "spec": pod_spec(
                    c.config,
                    Component.WORKERS,
                    c.instance,
                    [container],
                    settings=settings,
                    securityContext=pod_security_context(AIRFLOW_UID),
                    terminationGracePeriodSeconds=pool.grace_period_seconds,
                ),
            },
        }
        # An autoscaler owns the replica count; declaring it here too would make every `pulumi up` fight it.
        if autoscaling is None:
            spec["replicas"] = replicas
        return k8s.apps.v1.Deployment(
            f"{self._name}-deployment",
            metadata=self._metadata(),
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, custom_timeouts=wait_up_to(c.rollout.pulumi_timeout)),
        )

    def _disruption_budget(self) -> k8s.policy.v1.PodDisruptionBudget:
        return k8s.policy.v1.PodDisruptionBudget(
            f"{self._name}-pdb",
            metadata=self._metadata(),
            spec={
                "maxUnavailable": self._pool.disruption_budget.max_unavailable,
                "selector": {"matchLabels": self._selector},
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _hpa(self, scaler: Autoscaling) -> k8s.autoscaling.v2.HorizontalPodAutoscaler:
        return k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{self._name}-hpa",
            metadata=self._metadata(),
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": self.deployment_name},
                "minReplicas": scaler.min_replicas,
                "maxReplicas": scaler.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": scaler.target_cpu_percent},
                        },
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.deployment]),
        )

    def _keda(self, scaler: Autoscaling, connection_secret: str) -> k8s.apiextensions.CustomResource:
        """A ScaledObject on the pool's running + queued task instances, read from the metadata database."""
        c, pool = self._context, self._pool
        auth = k8s.apiextensions.CustomResource(
            f"{self._name}-keda-auth",
            api_version="keda.sh/v1alpha1",
            kind="TriggerAuthentication",
            metadata={"name": f"{self.deployment_name}-db", "namespace": c.namespace, "labels": self._labels},
            spec={
                "secretTargetRef": [{"parameter": "connection", "name": connection_secret, "key": KEDA_CONNECTION_KEY}]
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        return k8s.apiextensions.CustomResource(
            f"{self._name}-keda",
            api_version="keda.sh/v1alpha1",
            kind="ScaledObject",
            metadata=self._metadata(),
            spec={
                "scaleTargetRef": {"name": self.deployment_name},
                "minReplicaCount": scaler.min_replicas,
                "maxReplicaCount": scaler.max_replicas,
                "triggers": [
                    {
                        "type": "postgresql",
                        "metadata": {
                            "query": keda_query(pool.queues, scaler.tasks_per_replica or pool.concurrency),
                            # The query returns replicas already: one unit per replica.
                            "targetQueryValue": "1",
                        },
                        "authenticationRef": {"name": f"{self.deployment_name}-db"},
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.deployment, auth]),
        )
