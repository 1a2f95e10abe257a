"""Optional (``ingress.enabled``, off by default): Ingresses for the router's Services.

The active Ingress routes ``ingress.host`` to the active Service (``airflow-api``), so a flip moves browser
traffic with the Service's selector, nothing to change here. ``ingress.preview`` adds a second host for the
preview Service (the idle colour). Airflow's ``[api] base_url`` is set from the active host and path on both
colours (it must not change with a flip, or the flip would restart the idle colour's pods).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.airflow_flavor import API_PORT
from infra.config import Ingress as IngressConfig
from infra.labels import standard_labels


class RouterIngress(pulumi.ComponentResource):
    """``<instance>-api`` (and ``<instance>-api-preview``) Ingress objects."""

    def __init__(
        self,
        name: str,
        config: IngressConfig,
        namespace: str,
        instance: str,
        services: tuple[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``services``: the active and preview Service names."""
        super().__init__("pipeline-platform:index:RouterIngress", name, None, opts)
        assert config.host is not None  # guaranteed by the config when enabled
        self._name, self._config, self._namespace, self._instance = name, config, namespace, instance
        self._ingress("active", config.host, config.tls_secret, services[0])
        if config.preview is not None:
            self._ingress("preview", config.preview.host, config.preview.tls_secret, services[1])
        self.register_outputs({})

    def _ingress(self, role: str, host: str, tls_secret: str | None, service: str) -> k8s.networking.v1.Ingress:
        config = self._config
        metadata: dict[str, Any] = {
            "name": service,
            "namespace": self._namespace,
            "labels": standard_labels("airflow", f"ingress-{role}", self._instance),
        }
        if config.annotations:
            metadata["annotations"] = dict(config.annotations)
        spec: dict[str, Any] = {
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": config.path,
                                "pathType": "Prefix",
                                "backend": {"service": {"name": service, "port": {"number": API_PORT}}},
                            }
                        ]
                    },
                }
            ]
        }
        if config.class_name:
            spec["ingressClassName"] = config.class_name
        if tls_secret:
            spec["tls"] = [{"hosts": [host], "secretName": tls_secret}]
        return k8s.networking.v1.Ingress(
            f"{self._name}-{role}", metadata=metadata, spec=spec, opts=pulumi.ResourceOptions(parent=self)
        )
