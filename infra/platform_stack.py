"""Declare the whole platform from a parsed config: the order of things during a blue/green flip.

Ordering, by dependencies (pulumi-kubernetes awaits Deployments until rolled out and Jobs until Complete):

1. Namespace, Redis broker, both colours' images.
2. The active colour's release (Secret -> migration Job -> API server + worker pools).
3. The smoke-test Job against the candidate (through the preview Service during a flip).
4. The router: the active Service moves only after 2 and 3; the preview Service after it.
5. The idle colour's release (scaled down after a flip if configured) and its schedulers, stopped.
6. The active colour's schedulers, started only after the idle ones stopped: never two schedulers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from infra.airflow_flavor import AirflowFlavor
from infra.airflow_release import AirflowRelease
from infra.config import Color, StackConfig
from infra.config_loader import StackSecrets
from infra.image import AirflowImage
from infra.labels import PART_OF
from infra.redis_broker import REDIS_PORT, RedisBroker
from infra.router import Router
from infra.schedulers import AirflowSchedulers
from infra.smoke_test import SmokeTest
from infra.worker_pool import BrokerAccess

INSTANCE = "airflow"
"""Prefix of every Kubernetes object name; stacks are kept apart by namespace."""


@dataclass
class Platform:
    """What the program exports, and the components tests look into."""

    config: StackConfig
    live: Color | None
    images: dict[Color, pulumi.Output[str]] = field(default_factory=dict)
    releases: dict[Color, AirflowRelease] = field(default_factory=dict)
    schedulers: dict[Color, AirflowSchedulers] = field(default_factory=dict)
    router: Router | None = None
    smoke_target: str = ""
    redis_endpoint: str = ""

    def outputs(self) -> dict[str, object]:
        """Stack outputs: no secret ever appears here."""
        assert self.router is not None
        return {
            "activeColor": self.config.active_color.value,
            "images": {color.value: self.images[color] for color in Color},
            "airflowVersions": {color.value: self.config.releases[color].airflow_version for color in Color},
            "schemaVersions": {color.value: dict(self.config.releases[color].schemas) for color in Color},
            "services": {
                "active": self.router.active_service_name,
                "preview": self.router.preview_service_name,
                **{color.value: self.releases[color].api_service_name for color in Color},
            },
            "workerReplicas": {color.value: self.releases[color].worker_replicas for color in Color},
            "redisEndpoint": self.redis_endpoint,
            "namespace": self.config.namespace,
        }


def declare_platform(
    config: StackConfig,
    secrets: StackSecrets,
    live: Color | None,
    project_root: Path,
) -> Platform:
    """Declare every resource of the stack and return what to export."""
    platform = Platform(config=config, live=live)
    active, idle = config.active_color, config.active_color.other
    namespace_deps: list[pulumi.Resource] = []
    if config.create_namespace:
        namespace_deps.append(
            k8s.core.v1.Namespace(
                "namespace",
                metadata={
                    "name": config.namespace,
                    "labels": {
                        "app.kubernetes.io/part-of": PART_OF,
                        "app.kubernetes.io/managed-by": "pulumi",
                        # Every pod here satisfies the restricted Pod Security Standard; enforce it.
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": "latest",
                    },
                },
            )
        )
    uses_keda = any(pool.autoscaling and pool.autoscaling.kind == "keda" for pool in config.worker_pools)
    redis = RedisBroker(
        "redis",
        config=config.redis,
        namespace=config.namespace,
        password=secrets.redis_password,
        instance=INSTANCE,
        keda_namespace=config.keda_namespace if uses_keda else None,
        opts=pulumi.ResourceOptions(depends_on=namespace_deps),
    )
    platform.redis_endpoint = f"{redis.host}:{REDIS_PORT}"

    for color in Color:
        platform.images[color] = AirflowImage(f"{color.value}-image", config.releases[color], project_root).reference

    def release(color: Color, depends_on: list[pulumi.Resource]) -> AirflowRelease:
        return AirflowRelease(
            f"{color.value}",
            config=config,
            color=color,
            image=platform.images[color],
            secrets=secrets,
            broker=BrokerAccess(redis.host, REDIS_PORT, color.broker_db, redis.password_secret_name),
            instance=INSTANCE,
            # Depending on a component waits for all of its children.
            opts=pulumi.ResourceOptions(depends_on=depends_on),
        )

    platform.releases[active] = release(active, [*namespace_deps, redis])
    candidate = platform.releases[active]

    # During a flip the preview Service still selects the candidate (it moves after the active Service),
    # so the smoke test goes through it; otherwise the candidate's own Service is the target.
    flipping = live is not None and live is not active
    router_names = (f"{INSTANCE}-api", f"{INSTANCE}-api-preview")
    platform.smoke_target = router_names[1] if flipping else candidate.api_service_name
    smoke = SmokeTest(
        "smoke-test",
        config=config.smoke_test,
        candidate=active,
        candidate_image=platform.images[active],
        target_service=platform.smoke_target,
        health_path=AirflowFlavor(config.releases[active].airflow_major).health_path,
        namespace=config.namespace,
        instance=INSTANCE,
        opts=pulumi.ResourceOptions(depends_on=[candidate]),
    )

    platform.router = Router(
        "router",
        active=active,
        api_components={c: AirflowFlavor(config.releases[c].airflow_major).api_component for c in Color},
        schemas={c: config.releases[c].schemas for c in Color},
        namespace=config.namespace,
        instance=INSTANCE,
        registry_dir=project_root / config.schema_registry,
        candidate_ready=[candidate.api_deployment, *(pool.deployment for pool in candidate.pools), smoke.job],
        opts=pulumi.ResourceOptions(depends_on=namespace_deps),
    )

    # The old colour changes (scale-down, scheduler stop) only after traffic has left it.
    platform.releases[idle] = release(idle, [*namespace_deps, redis, platform.router])

    def schedulers(color: Color, running: bool, depends_on: list[pulumi.Resource]) -> AirflowSchedulers:
        return AirflowSchedulers(
            f"{color.value}-schedulers",
            config=config,
            color=color,
            image=platform.images[color],
            env=platform.releases[color].env,
            env_secret_name=platform.releases[color].env_secret_name,
            instance=INSTANCE,
            running=running,
            opts=pulumi.ResourceOptions(depends_on=depends_on),
        )

    platform.schedulers[idle] = schedulers(idle, False, [platform.router, platform.releases[idle].migration])
    platform.schedulers[active] = schedulers(active, True, [platform.schedulers[idle], candidate.migration])
    return platform
