"""Optional (``statsd.enabled``, off by default as in the Airflow Helm chart): Airflow's metrics for Prometheus.

Every Airflow process of both colours sends StatsD packets (UDP 9125) to one prom/statsd-exporter, which
turns them into Prometheus metrics on ``:9102/metrics``. The pod carries the ``prometheus.io/*`` annotations
that annotation-driven scrape configs follow. Who may send and who may scrape is in
:mod:`infra.network_policies`.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.config import Component, StackConfig
from infra.labels import selector_labels, standard_labels
from infra.pod_settings import env_from, extra_env, pod_metadata, pod_spec
from infra.security import container_security_context, pod_security_context, resource_requirements
from infra.timeouts import wait_up_to

STATSD_PORT = 9125
"""Where the exporter receives StatsD (UDP, and TCP for clients that prefer it)."""
METRICS_PORT = 9102
"""Where Prometheus scrapes the exporter."""
STATSD_PREFIX = "airflow"
NOBODY_UID = 65534
"""The exporter image's ``nobody`` user."""
STATSD_PODS = {"matchLabels": selector_labels("statsd", "metrics")}


def statsd_host(config: StackConfig, instance: str) -> str:
    """The exporter Service's in-cluster DNS name."""
    return f"{instance}-statsd.{config.namespace}.svc.cluster.local"


def statsd_env(config: StackConfig, instance: str) -> list[k8s.core.v1.EnvVarArgsDict]:
    """Airflow's ``[metrics]`` options that point it at the exporter; none when ``statsd.enabled`` is false."""
    if not config.statsd.enabled:
        return []
    return [
        {"name": "AIRFLOW__METRICS__STATSD_ON", "value": "True"},
        {"name": "AIRFLOW__METRICS__STATSD_HOST", "value": statsd_host(config, instance)},
        {"name": "AIRFLOW__METRICS__STATSD_PORT", "value": str(STATSD_PORT)},
        {"name": "AIRFLOW__METRICS__STATSD_PREFIX", "value": STATSD_PREFIX},
    ]


class StatsdExporter(pulumi.ComponentResource):
    """``<instance>-statsd``: the exporter's Deployment and Service."""

    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service

    def __init__(
        self, name: str, config: StackConfig, instance: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("pipeline-platform:index:StatsdExporter", name, None, opts)
        self._name, self._config, self._instance = name, config, instance
        self._labels = standard_labels("statsd", "metrics", instance)
        self._object_name = f"{instance}-statsd"
        self.deployment = self._deployment()
        self.service = self._service()
        self.register_outputs({})

    def _metadata(self) -> k8s.meta.v1.ObjectMetaArgsDict:
        return {"name": self._object_name, "namespace": self._config.namespace, "labels": self._labels}

    def _deployment(self) -> k8s.apps.v1.Deployment:
        config = self._config
        settings = config.components.statsd
        metrics: k8s.core.v1.HTTPGetActionArgsDict = {"path": "/metrics", "port": "metrics"}
        container: k8s.core.v1.ContainerArgsDict = {
            "name": "statsd-exporter",
            "image": config.statsd.image,
            "args": [
                f"--statsd.listen-udp=:{STATSD_PORT}",
                f"--statsd.listen-tcp=:{STATSD_PORT}",
                f"--web.listen-address=:{METRICS_PORT}",
            ],
            "env": extra_env(settings),
            "ports": [
                {"name": "statsd-udp", "containerPort": STATSD_PORT, "protocol": "UDP"},
                {"name": "statsd-tcp", "containerPort": STATSD_PORT, "protocol": "TCP"},
                {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
            ],
            "readinessProbe": {"httpGet": metrics, "periodSeconds": 10, "timeoutSeconds": 5},
            "livenessProbe": {"httpGet": metrics, "periodSeconds": 20, "timeoutSeconds": 5, "failureThreshold": 5},
            "resources": resource_requirements(config.statsd.resources),
            # The exporter keeps everything in memory: nothing to write.
            "securityContext": container_security_context(read_only_root=True),
        }
        if settings.env_from_secrets:
            container["envFrom"] = env_from(settings)
        scrape = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(METRICS_PORT),
            "prometheus.io/path": "/metrics",
        }
        return k8s.apps.v1.Deployment(
            f"{self._name}-deployment",
            metadata=self._metadata(),
            spec={
                "replicas": 1,
                "selector": dict(STATSD_PODS),
                "progressDeadlineSeconds": config.rollout.progress_deadline_seconds,
                "template": {
                    "metadata": pod_metadata(self._labels, settings, scrape),
                    "spec": pod_spec(
                        config,
                        Component.STATSD,
                        self._instance,
                        [container],
                        securityContext=pod_security_context(NOBODY_UID, NOBODY_UID),
                    ),
                },
            },
            opts=pulumi.ResourceOptions(parent=self, custom_timeouts=wait_up_to(config.rollout.pulumi_timeout)),
        )

    def _service(self) -> k8s.core.v1.Service:
        metadata = self._metadata()
        # Service-level annotations too, for scrape configs that discover endpoints through Services.
        metadata["annotations"] = {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT)}
        return k8s.core.v1.Service(
            f"{self._name}-service",
            metadata=metadata,
            spec={
                "type": "ClusterIP",
                "selector": STATSD_PODS["matchLabels"],
                "ports": [
                    {"name": "statsd-udp", "port": STATSD_PORT, "targetPort": "statsd-udp", "protocol": "UDP"},
                    {"name": "statsd-tcp", "port": STATSD_PORT, "targetPort": "statsd-tcp", "protocol": "TCP"},
                    {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"},
                ],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
