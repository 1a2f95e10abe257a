"""One ServiceAccount per component (``airflow-<component>``), shared by both colours.

Annotations bind cloud identities (``eks.amazonaws.com/role-arn`` for IRSA, ``iam.gke.io/gcp-service-account``
for GKE Workload Identity), e.g. for remote task logs in S3 or GCS. Tokens are not mounted unless a component
asks for it: nothing the platform runs calls the Kubernetes API.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.config import Component, StackConfig
from infra.labels import standard_labels
from infra.pod_settings import service_account_name

APPS = {Component.REDIS: "redis", Component.STATSD: "statsd", Component.PGBOUNCER: "pgbouncer"}
"""The ``app.kubernetes.io/name`` of components that do not run Airflow."""


def component_enabled(config: StackConfig, component: Component) -> bool:
    """False for the optional components (StatsD exporter, PgBouncer) the stack does not enable."""
    if component is Component.STATSD:
        return config.statsd.enabled
    if component is Component.PGBOUNCER:
        return config.pgbouncer.enabled
    return True


class ServiceAccounts(pulumi.ComponentResource):
    """The ServiceAccounts of the components whose ``serviceAccount.create`` is true."""

    accounts: dict[Component, k8s.core.v1.ServiceAccount]

    def __init__(
        self, name: str, config: StackConfig, instance: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("pipeline-platform:index:ServiceAccounts", name, None, opts)
        self.accounts = {}
        for component in Component:
            if not component_enabled(config, component):
                continue
            if config.components.of(component).service_account.create:
                self.accounts[component] = self._account(name, config, instance, component)
        self.register_outputs({"names": [service_account_name(config, c, instance) for c in self.accounts]})

    def _account(
        self, name: str, config: StackConfig, instance: str, component: Component
    ) -> k8s.core.v1.ServiceAccount:
        settings = config.components.of(component).service_account
        app = APPS.get(component, "airflow")
        metadata: k8s.meta.v1.ObjectMetaArgsDict = {
            "name": service_account_name(config, component, instance),
            "namespace": config.namespace,
            "labels": standard_labels(app, component.label, instance),
        }
        if settings.annotations:
            metadata["annotations"] = dict(settings.annotations)
        return k8s.core.v1.ServiceAccount(
            f"{name}-{component.label}",
            metadata=metadata,
            automount_service_account_token=settings.automount_token,
            image_pull_secrets=[{"name": secret} for secret in config.image_pull_secrets] or None,
            opts=pulumi.ResourceOptions(parent=self),
        )
