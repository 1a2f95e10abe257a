"""A Celery worker pool of one colour: Deployment, PodDisruptionBudget, and optional HPA or KEDA scaler."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.airflow_flavor import CELERY_APP
from infra.config import Color, Rollout
from infra.config import WorkerPool as WorkerPoolConfig
from infra.labels import selector_labels, standard_labels
from infra.security import AIRFLOW_UID, container_security_context, pod_security_context, resource_requirements
from infra.timeouts import wait_up_to


@dataclass(frozen=True)
class BrokerAccess:
    """Where KEDA reads a colour's queue lengths: the broker host, the colour's database, the password."""

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


class WorkerPool(pulumi.ComponentResource):
    """One pool's workers in one colour; the Deployment's selector (colour + pool) never changes."""

    deployment: k8s.apps.v1.Deployment
    deployment_name: str

    def __init__(
        self,
        name: str,
        pool: WorkerPoolConfig,
        color: Color,
        namespace: str,
        instance: str,
        image: pulumi.Input[str],
        airflow_version: str,
        env: list[k8s.core.v1.EnvVarArgsDict],
        env_secret_name: str,
        replicas: int,
        autoscale: bool,
        broker: BrokerAccess,
        rollout: Rollout,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pipeline-platform:index:WorkerPool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = standard_labels("airflow", "worker", instance, color, pool.name, airflow_version)
        selector = selector_labels("airflow", "worker", color, pool.name)
        self.deployment_name = f"{instance}-{color.value}-worker-{pool.name}"
        metadata: k8s.meta.v1.ObjectMetaArgsDict = {
            "name": self.deployment_name,
            "namespace": namespace,
            "labels": labels,
        }
        scaler = pool.autoscaling if autoscale else None

        spec: k8s.apps.v1.DeploymentSpecArgsDict = {
            "selector": {"matchLabels": selector},
            # Start the replacement before stopping the old worker; old ones drain during their grace period.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "progressDeadlineSeconds": rollout.progress_deadline_seconds,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": pod_security_context(AIRFLOW_UID),
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": pool.grace_period_seconds,
                    "containers": [
                        {
                            "name": "worker",
                            "image": image,
                            "args": ["bash", "-c", worker_command(pool)],
                            "env": [*env, {"name": "DUMB_INIT_SETSID", "value": "0"}],
                            "envFrom": [{"secretRef": {"name": env_secret_name}}],
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
                    ],
                },
            },
        }
        # An autoscaler owns the replica count; declaring it here too would make every `pulumi up` fight it.
        if scaler is None:
            spec["replicas"] = replicas
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata,
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, custom_timeouts=wait_up_to(rollout.pulumi_timeout)),
        )

        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": self.deployment_name, "namespace": namespace, "labels": labels},
            spec={"maxUnavailable": pool.disruption_budget.max_unavailable, "selector": {"matchLabels": selector}},
            opts=child,
        )

        target: k8s.autoscaling.v2.CrossVersionObjectReferenceArgsDict = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": self.deployment_name,
        }
        if scaler is not None and scaler.kind == "hpa":
            k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-hpa",
                metadata={"name": self.deployment_name, "namespace": namespace, "labels": labels},
                spec={
                    "scaleTargetRef": target,
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
        elif scaler is not None:
            auth = k8s.apiextensions.CustomResource(
                f"{name}-keda-auth",
                api_version="keda.sh/v1alpha1",
                kind="TriggerAuthentication",
                metadata={"name": f"{self.deployment_name}-redis", "namespace": namespace, "labels": labels},
                spec={
                    "secretTargetRef": [
                        {"parameter": "password", "name": broker.password_secret_name, "key": "password"}
                    ]
                },
                opts=child,
            )
            k8s.apiextensions.CustomResource(
                f"{name}-keda",
                api_version="keda.sh/v1alpha1",
                kind="ScaledObject",
                metadata={"name": self.deployment_name, "namespace": namespace, "labels": labels},
                spec={
                    "scaleTargetRef": {"name": self.deployment_name},
                    "minReplicaCount": scaler.min_replicas,
                    "maxReplicaCount": scaler.max_replicas,
                    # Celery's Redis transport keeps each queue as a list named after the queue, in the
                    # colour's own database: the idle colour's empty queues never scale the active one.
                    "triggers": [
                        {
                            "type": "redis",
                            "metadata": {
                                "address": f"{broker.host}:{broker.port}",
                                "databaseIndex": str(broker.database),
                                "listName": queue,
                                "listLength": str(scaler.tasks_per_replica),
                            },
                            "authenticationRef": {"name": f"{self.deployment_name}-redis"},
                        }
                        for queue in pool.queues
                    ],
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.deployment, auth]),
            )
        self.register_outputs({"deploymentName": self.deployment_name})
