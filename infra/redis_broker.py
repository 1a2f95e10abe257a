"""The Celery broker: one Redis, shared by both colours, each colour on its own database number."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.config import Component, StackConfig
from infra.labels import selector_labels, standard_labels
from infra.pod_settings import env_from, extra_env, pod_metadata, pod_spec
from infra.security import REDIS_UID, container_security_context, pod_security_context, resource_requirements
from infra.timeouts import wait_up_to

REDIS_PORT = 6379


def server_command(persistence_args: str) -> str:
    """The Redis container's shell command: the password reaches Redis as a config file on standard input.

    A ``--requirepass`` argument would show the password in the process list (``ps``, ``/proc/<pid>/cmdline``);
    the here-document is expanded by the shell itself, so it appears in no process's arguments. ``-`` last
    on the command line makes Redis read its configuration from standard input.
    """
    return f'exec redis-server {persistence_args} - <<EOF\nrequirepass "$REDIS_PASSWORD"\nEOF\n'


PING = ["sh", "-c", "redis-cli ping | grep -q PONG"]
"""The probes' command: redis-cli reads the password from ``REDISCLI_AUTH``, never from its arguments."""


class RedisBroker(pulumi.ComponentResource):
    """Redis with probes, resources, optional persistence (PVC + appendonly), a password from a Secret, a
    Service and a PodDisruptionBudget. Who may reach it is in :mod:`infra.network_policies`."""

    service_name: pulumi.Output[str]
    host: str
    """In-cluster DNS name of the broker Service."""
    password_secret_name: str
    """Name of the Secret whose ``password`` key holds the broker password."""
    deployment: k8s.apps.v1.Deployment

    def __init__(
        self,
        name: str,
        config: StackConfig,
        password: pulumi.Output[str],
        instance: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pipeline-platform:index:RedisBroker", name, None, opts)
        self._name, self._stack, self._config, self._instance = name, config, config.redis, instance
        self._namespace = config.namespace
        self._labels = standard_labels("redis", "broker", instance)
        self._selector = selector_labels("redis", "broker")
        self._object_name = f"{instance}-redis"
        self.password_secret_name = f"{self._object_name}-auth"
        self.host = f"{self._object_name}.{self._namespace}.svc.cluster.local"

        secret = self._secret(password)
        self.deployment = self._deployment(self._volume(), secret)
        self.service_name = self._service().metadata.name
        self._disruption_budget()
        self.register_outputs({"serviceName": self.service_name, "host": self.host})

    def _metadata(self, name: str) -> k8s.meta.v1.ObjectMetaArgsDict:
        return {"name": name, "namespace": self._namespace, "labels": self._labels}

    def _secret(self, password: pulumi.Output[str]) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            f"{self._name}-auth",
            metadata=self._metadata(self.password_secret_name),
            type="Opaque",
            string_data={"password": password},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _volume(self) -> k8s.core.v1.VolumeArgsDict:
        persistence = self._config.persistence
        if not persistence.enabled:
            return {"name": "data", "emptyDir": {}}
        claim_spec: k8s.core.v1.PersistentVolumeClaimSpecArgsDict = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": persistence.size}},
        }
        if persistence.storage_class:
            claim_spec["storageClassName"] = persistence.storage_class
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{self._name}-data",
            metadata=self._metadata(f"{self._object_name}-data"),
            spec=claim_spec,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return {"name": "data", "persistentVolumeClaim": {"claimName": claim.metadata.name}}

    def _deployment(self, volume: k8s.core.v1.VolumeArgsDict, secret: k8s.core.v1.Secret) -> k8s.apps.v1.Deployment:
        config = self._config
        # appendonly: queued Celery messages survive a Redis restart.
        persistence_args = (
            "--appendonly yes --appendfsync everysec" if config.persistence.enabled else "--appendonly no --save ''"
        )
        password: k8s.core.v1.EnvVarSourceArgsDict = {
            "secretKeyRef": {"name": self.password_secret_name, "key": "password"}
        }
        settings = self._stack.components.redis
        container: k8s.core.v1.ContainerArgsDict = {
            "name": "redis",
            "image": config.image,
            "command": ["sh", "-c"],
            "args": [server_command(persistence_args)],
            "env": [
                {"name": "REDIS_PASSWORD", "valueFrom": password},
                {"name": "REDISCLI_AUTH", "valueFrom": password},
                *extra_env(settings),
            ],
            "ports": [{"name": "redis", "containerPort": REDIS_PORT}],
            "readinessProbe": {"exec": {"command": PING}, "periodSeconds": 5, "timeoutSeconds": 3},
            "livenessProbe": {
                "exec": {"command": PING},
                "initialDelaySeconds": 10,
                "periodSeconds": 10,
                "timeoutSeconds": 5,
            },
            "resources": resource_requirements(config.resources),
            "securityContext": container_security_context(read_only_root=True),
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        }
        if settings.env_from_secrets:
            container["envFrom"] = env_from(settings)
        rollout = self._stack.rollout
        return k8s.apps.v1.Deployment(
            f"{self._name}-redis",
            metadata=self._metadata(self._object_name),
            spec={
                "replicas": 1,
                # One writer on a ReadWriteOnce volume: stop the old pod before starting the new one.
                "strategy": {"type": "Recreate"},
                "progressDeadlineSeconds": rollout.progress_deadline_seconds,
                "selector": {"matchLabels": self._selector},
                "template": {
                    "metadata": pod_metadata(self._labels, settings),
                    "spec": pod_spec(
                        self._stack,
                        Component.REDIS,
                        self._instance,
                        [container],
                        securityContext=pod_security_context(REDIS_UID, REDIS_UID),
                        volumes=[volume],
                    ),
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[secret], custom_timeouts=wait_up_to(rollout.pulumi_timeout)
            ),
        )

    def _service(self) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            f"{self._name}-service",
            metadata=self._metadata(self._object_name),
            spec={
                "type": "ClusterIP",
                "selector": self._selector,
                "ports": [{"name": "redis", "port": REDIS_PORT, "targetPort": "redis"}],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _disruption_budget(self) -> k8s.policy.v1.PodDisruptionBudget:
        """Voluntary evictions (drains) of the single Redis pod; 0 by default: it holds every queue."""
        return k8s.policy.v1.PodDisruptionBudget(
            f"{self._name}-pdb",
            metadata=self._metadata(self._object_name),
            spec={
                "maxUnavailable": self._config.disruption_budget.max_unavailable,
                "selector": {"matchLabels": self._selector},
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
