"""Pod and container security settings shared by every workload.

Every pod runs as a non-root user with the RuntimeDefault seccomp profile; every container drops all
capabilities and cannot escalate privileges. This satisfies the Kubernetes "restricted" Pod Security
Standard, which :class:`~infra.namespace` enforces on the namespace.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from infra.config import Resources

AIRFLOW_UID = 50000
"""The official Airflow image's user (group 0, as the image expects)."""
REDIS_UID = 999
"""The official Redis image's ``redis`` user."""


def pod_security_context(uid: int, gid: int = 0) -> k8s.core.v1.PodSecurityContextArgsDict:
    """A restricted pod security context for a pod whose processes run as ``uid``."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": gid,
        "fsGroup": gid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context(read_only_root: bool = True) -> k8s.core.v1.SecurityContextArgsDict:
    """A restricted container security context.

    ``read_only_root`` is False only for Airflow containers: Airflow writes its config and caches under
    AIRFLOW_HOME at startup.
    """
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": read_only_root,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resource_requirements(resources: Resources) -> k8s.core.v1.ResourceRequirementsArgsDict:
    """The container ``resources`` block: requests and limits both set."""
    return {
        "requests": {"cpu": resources.requests.cpu, "memory": resources.requests.memory},
        "limits": {"cpu": resources.limits.cpu, "memory": resources.limits.memory},
    }
