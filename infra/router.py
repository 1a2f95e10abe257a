"""The router: the active Service selects the active colour's API server, the preview Service the idle one's.

Moving ``spec.selector`` is an in-place Service update, so a flip never replaces anything. The active
Service depends on the candidate being ready (its API server and worker Deployments rolled out, awaited by
pulumi-kubernetes, and the smoke-test Job complete), and carries the flip-guard resource hook that re-checks
the schema gate with the old and new inputs right before the update. The preview Service moves only after
the active one has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from infra.airflow_flavor import API_PORT
from infra.config import Color
from infra.labels import ACTIVE_COLOR_ANNOTATION, schemas_annotation, selector_labels, standard_labels


def router_annotations(active: Color, schemas: Mapping[Color, Mapping[str, int]]) -> dict[str, str]:
    """The active Service's annotations: the active colour and every colour's schema versions.

    They are the flip guard's record of what was deployed: its old inputs hold the live colour's versions.
    """
    annotations = {ACTIVE_COLOR_ANNOTATION: active.value}
    for color in Color:
        annotations.update(schemas_annotation(color, schemas[color]))
    return annotations


class Router(pulumi.ComponentResource):
    """The active and preview Services."""

    active_service_name: str
    preview_service_name: str
    active_service: k8s.core.v1.Service

    def __init__(
        self,
        name: str,
        active: Color,
        api_components: Mapping[Color, str],
        schemas: Mapping[Color, Mapping[str, int]],
        namespace: str,
        instance: str,
        flip_guard: pulumi.ResourceHook,
        candidate_ready: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pipeline-platform:index:Router", name, None, opts)
        idle = active.other
        self.active_service_name = f"{instance}-api"
        self.preview_service_name = f"{instance}-api-preview"
        ports: list[k8s.core.v1.ServicePortArgsDict] = [{"name": "http", "port": API_PORT, "targetPort": "http"}]

        self.active_service = k8s.core.v1.Service(
            f"{name}-active",
            metadata={
                "name": self.active_service_name,
                "namespace": namespace,
                "labels": standard_labels("airflow", "router", instance),
                "annotations": router_annotations(active, schemas),
            },
            spec={
                "type": "ClusterIP",
                "selector": selector_labels("airflow", api_components[active], active),
                "ports": ports,
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(candidate_ready),
                hooks=pulumi.ResourceHookBinding(before_update=[flip_guard]),
            ),
        )
        k8s.core.v1.Service(
            f"{name}-preview",
            metadata={
                "name": self.preview_service_name,
                "namespace": namespace,
                "labels": standard_labels("airflow", "router-preview", instance),
            },
            spec={
                "type": "ClusterIP",
                "selector": selector_labels("airflow", api_components[idle], idle),
                "ports": ports,
            },
            # Moves after the active Service: during a flip the smoke test still reaches the candidate here.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.active_service]),
        )
        self.register_outputs(
            {"activeServiceName": self.active_service_name, "previewServiceName": self.preview_service_name}
        )
