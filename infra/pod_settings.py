"""What every pod of a component gets from the stack's settings: ServiceAccount, pull secrets, placement, extra env.

The components build their containers; these functions add what ``components.<component>`` (and a pool's
``pod``) configure, the same way everywhere, so placement or a pull secret cannot be forgotten on one kind of pod.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi_kubernetes as k8s

from infra.config import Component, ComponentSettings, PodSettings, StackConfig

SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"


def service_account_name(config: StackConfig, component: Component, instance: str) -> str:
    """The ServiceAccount the component's pods run as: configured, or ``<instance>-<component>``."""
    account = config.components.of(component).service_account
    return account.name or f"{instance}-{component.label}"


def pod_spec(
    config: StackConfig,
    component: Component,
    instance: str,
    containers: Sequence[k8s.core.v1.ContainerArgsDict],
    settings: PodSettings | None = None,
    **fields: Any,
) -> k8s.core.v1.PodSpecArgsDict:
    """A pod spec: ``fields`` (security context, grace period...) plus the component's settings.

    ``settings`` replaces the component's pod settings (a worker pool's merged ones); the ServiceAccount is
    always the component's.
    """
    own: ComponentSettings = config.components.of(component)
    placement = settings or own
    spec: dict[str, Any] = {
        **fields,
        "serviceAccountName": service_account_name(config, component, instance),
        "automountServiceAccountToken": own.service_account.automount_token,
        "containers": list(containers),
    }
    if config.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in config.image_pull_secrets]
    if placement.node_selector:
        spec["nodeSelector"] = dict(placement.node_selector)
    if placement.affinity:
        spec["affinity"] = placement.affinity
    if placement.tolerations:
        spec["tolerations"] = list(placement.tolerations)
    if placement.topology_spread_constraints:
        spec["topologySpreadConstraints"] = list(placement.topology_spread_constraints)
    return spec


def extra_env(settings: PodSettings) -> list[k8s.core.v1.EnvVarArgsDict]:
    """The configured plain and Secret-backed variables, after the platform's own."""
    env: list[k8s.core.v1.EnvVarArgsDict] = [{"name": name, "value": value} for name, value in settings.env.items()]
    env += [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": ref.secret, "key": ref.key}}}
        for name, ref in settings.secret_env.items()
    ]
    return env


def env_from(settings: PodSettings, *own_secrets: str) -> list[k8s.core.v1.EnvFromSourceArgsDict]:
    """``envFrom``: the platform's Secrets first, then the configured ones."""
    return [{"secretRef": {"name": name}} for name in (*own_secrets, *settings.env_from_secrets)]


def pod_metadata(
    labels: dict[str, str], settings: PodSettings, annotations: dict[str, str] | None = None
) -> k8s.meta.v1.ObjectMetaArgsDict:
    """A pod template's metadata: labels, and the configured annotations with the platform's on top."""
    merged = {**settings.pod_annotations, **(annotations or {})}
    metadata: k8s.meta.v1.ObjectMetaArgsDict = {"labels": labels}
    if merged:
        metadata["annotations"] = merged
    return metadata
