"""The Celery broker: one Redis, shared by both colours, each colour on its own database number."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.config import RedisConfig, Rollout
from infra.labels import PART_OF, selector_labels, standard_labels
from infra.security import REDIS_UID, container_security_context, pod_security_context, resource_requirements
from infra.timeouts import wait_up_to

REDIS_PORT = 6379


class RedisBroker(pulumi.ComponentResource):
    """Redis with probes, resources, optional persistence (PVC + appendonly), a password from a Secret,
    a Service, and a NetworkPolicy that admits only this platform's Airflow pods (and, when a pool
    autoscales with KEDA, the KEDA namespace)."""

    service_name: pulumi.Output[str]
    host: str
    """In-cluster DNS name of the broker Service."""
    password_secret_name: str
    """Name of the Secret whose ``password`` key holds the broker password."""

    def __init__(
        self,
        name: str,
        config: RedisConfig,
        namespace: str,
        password: pulumi.Output[str],
        instance: str,
        rollout: Rollout,
        keda_namespace: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pipeline-platform:index:RedisBroker", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = standard_labels("redis", "broker", instance)
        selector = selector_labels("redis", "broker")
        object_name = f"{instance}-redis"
        self.password_secret_name = f"{object_name}-auth"
        self.host = f"{object_name}.{namespace}.svc.cluster.local"

        secret = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata={"name": self.password_secret_name, "namespace": namespace, "labels": labels},
            type="Opaque",
            string_data={"password": password},
            opts=child,
        )

        volume: k8s.core.v1.VolumeArgsDict
        if config.persistence.enabled:
            claim_spec: k8s.core.v1.PersistentVolumeClaimSpecArgsDict = {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": config.persistence.size}},
            }
            if config.persistence.storage_class:
                claim_spec["storageClassName"] = config.persistence.storage_class
            claim = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-data",
                metadata={"name": f"{object_name}-data", "namespace": namespace, "labels": labels},
                spec=claim_spec,
                opts=child,
            )
            volume = {"name": "data", "persistentVolumeClaim": {"claimName": claim.metadata.name}}
            # appendonly: queued Celery messages survive a Redis restart.
            server_args = "--appendonly yes --appendfsync everysec"
        else:
            volume = {"name": "data", "emptyDir": {}}
            server_args = "--appendonly no --save ''"

        ping = ["sh", "-c", 'redis-cli -a "$REDIS_PASSWORD" --no-auth-warning ping | grep -q PONG']
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-redis",
            metadata={"name": object_name, "namespace": namespace, "labels": labels},
            spec={
                "replicas": 1,
                # One writer on a ReadWriteOnce volume: stop the old pod before starting the new one.
                "strategy": {"type": "Recreate"},
                "progressDeadlineSeconds": rollout.progress_deadline_seconds,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "securityContext": pod_security_context(REDIS_UID, REDIS_UID),
                        "automountServiceAccountToken": False,
                        "containers": [
                            {
                                "name": "redis",
                                "image": config.image,
                                "command": ["sh", "-c"],
                                "args": [f'exec redis-server --requirepass "$REDIS_PASSWORD" {server_args}'],
                                "env": [
                                    {
                                        "name": "REDIS_PASSWORD",
                                        "valueFrom": {
                                            "secretKeyRef": {"name": self.password_secret_name, "key": "password"}
                                        },
                                    }
                                ],
                                "ports": [{"name": "redis", "containerPort": REDIS_PORT}],
                                "readinessProbe": {"exec": {"command": ping}, "periodSeconds": 5, "timeoutSeconds": 3},
                                "livenessProbe": {
                                    "exec": {"command": ping},
                                    "initialDelaySeconds": 10,
                                    "periodSeconds": 10,
                                    "timeoutSeconds": 5,
                                },
                                "resources": resource_requirements(config.resources),
                                "securityContext": container_security_context(read_only_root=True),
                                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            }
                        ],
                        "volumes": [volume],
                    },
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[secret], custom_timeouts=wait_up_to(rollout.pulumi_timeout)
            ),
        )

        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": object_name, "namespace": namespace, "labels": labels},
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "redis", "port": REDIS_PORT, "targetPort": "redis"}],
            },
            opts=child,
        )
        self.service_name = service.metadata.name

        # KEDA's Redis scaler reads queue lengths from its own namespace when a pool autoscales with KEDA.
        keda_peer = (
            [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": keda_namespace}}}]
            if keda_namespace
            else []
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-ingress",
            metadata={"name": f"{object_name}-ingress", "namespace": namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            *keda_peer,
                            {
                                "podSelector": {
                                    "matchLabels": {
                                        "app.kubernetes.io/name": "airflow",
                                        "app.kubernetes.io/part-of": PART_OF,
                                    }
                                }
                            },
                        ],
                        "ports": [{"protocol": "TCP", "port": REDIS_PORT}],
                    }
                ],
            },
            opts=child,
        )
        self.register_outputs({"serviceName": self.service_name, "host": self.host})
