"""Declare the whole platform from a parsed config: the order of things during a blue/green flip.

Ordering, by dependencies (pulumi-kubernetes awaits Deployments until rolled out and Jobs until Complete;
the engine starts a resource only when its dependencies are done). During a flip from L (live) to C:

1. Namespace, Redis broker, both colours' images.
2. C's release: Secret -> migration Job -> API server, worker pools and canary worker (all awaited).
3. The smoke-test Job: C's canary DAG through the preview Service (still selecting C), scheduled by L's
   scheduler, run by C's canary worker.
4. The router: the active Service moves to C only after 2 and 3; the preview Service after it.
5. The scheduler, triggerer and DAG processor (one Deployment each, Recreate) move to C: L's exit first.
6. The post-promotion check through the active Service: C healthy, its scheduler included.
7. With ``afterFlip: scaleDown``, the scale-down delay; then L's release changes (scaled down).

Without a flip (first deployment, or an update of the active colour) there is no other scheduler to wait
for: the schedulers follow C's migration, and the smoke test runs after them (the canary needs a scheduler).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from infra.admin_user import AdminUser
from infra.airflow_flavor import AirflowFlavor
from infra.airflow_release import AirflowRelease
from infra.color_context import ColorContext
from infra.config import AfterFlip, Color, StackConfig
from infra.config_loader import StackSecrets
from infra.flip_guard import flip_guard_hook
from infra.image import AirflowImage
from infra.ingress import RouterIngress
from infra.labels import COLOR_LABEL, PART_OF
from infra.network_policies import NetworkPolicies
from infra.pgbouncer import PgBouncer
from infra.post_promotion import PostPromotionCheck, ScaleDownDelay
from infra.redis_broker import REDIS_PORT, RedisBroker
from infra.router import Router
from infra.schedulers import AirflowSchedulers
from infra.service_accounts import ServiceAccounts
from infra.smoke_test import SmokeTest
from infra.statsd import StatsdExporter
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
    schedulers: AirflowSchedulers | None = None
    router: Router | None = None
    smoke_target: str = ""
    redis_endpoint: str = ""

    def outputs(self) -> dict[str, object]:
        """Stack outputs: no secret ever appears here."""
        assert self.router is not None
        return {
            # What the router Service selects once the engine has applied it, not a copy of config: an update that
            # fails or is refused before the Service moves never records a colour traffic did not reach.
            "activeColor": self.router.active_service.spec.apply(lambda spec: spec["selector"][COLOR_LABEL]),
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
    # One engine-time guard for every object that follows the active colour (router, schedulers).
    flip_guard = flip_guard_hook(project_root / config.schema_registry)
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
    in_namespace = pulumi.ResourceOptions(depends_on=namespace_deps)
    # Pods reference their ServiceAccounts by name: the accounts exist before any pod is created.
    namespace_deps = [*namespace_deps, ServiceAccounts("service-accounts", config, INSTANCE, opts=in_namespace)]
    if config.network_policies.enabled:
        NetworkPolicies("network-policies", config, INSTANCE, opts=in_namespace)
    if config.statsd.enabled:
        StatsdExporter("statsd", config, INSTANCE, opts=pulumi.ResourceOptions(depends_on=namespace_deps))
    # Airflow's pods connect through PgBouncer: it is there (awaited) before any of them starts.
    pgbouncer: list[pulumi.Resource] = []
    if config.pgbouncer.enabled:
        pgbouncer.append(
            PgBouncer(
                "pgbouncer",
                config,
                secrets.metadata_db_connection,
                INSTANCE,
                opts=pulumi.ResourceOptions(depends_on=namespace_deps),
            )
        )
    redis = RedisBroker(
        "redis",
        config=config,
        password=secrets.redis_password,
        instance=INSTANCE,
        opts=pulumi.ResourceOptions(depends_on=namespace_deps),
    )
    platform.redis_endpoint = f"{redis.host}:{REDIS_PORT}"

    for color in Color:
        platform.images[color] = AirflowImage(f"{color.value}-image", config.releases[color], project_root).reference

    flipping = live is not None and live is not active
    # The canary worker consumes from the broker database of the scheduler that runs the smoke test's
    # canary: the live colour's during a flip, the active colour's otherwise.
    scheduler_at_smoke = live if flipping and live is not None else active

    contexts = {color: ColorContext(config, color, INSTANCE, platform.images[color]) for color in Color}

    def release(color: Color, depends_on: list[pulumi.Resource]) -> AirflowRelease:
        return AirflowRelease(
            f"{color.value}",
            context=contexts[color],
            secrets=secrets,
            broker=BrokerAccess(redis.host, REDIS_PORT, color.broker_db, redis.password_secret_name),
            canary_broker_secret=contexts[scheduler_at_smoke].env_secret_name,
            # Depending on a component waits for all of its children.
            opts=pulumi.ResourceOptions(depends_on=depends_on),
        )

    platform.releases[active] = release(active, [*namespace_deps, redis, *pgbouncer])
    candidate = platform.releases[active]

    def schedulers(depends_on: list[pulumi.Resource]) -> AirflowSchedulers:
        return AirflowSchedulers(
            "schedulers",
            context=contexts[active],
            flip_guard=flip_guard,
            opts=pulumi.ResourceOptions(depends_on=depends_on),
        )

    # The admin user lives in the shared metadata database: created once FAB's tables exist (the migration).
    admin: AdminUser | None = None
    if secrets.admin_password is not None:
        admin = AdminUser(
            "admin-user",
            context=contexts[active],
            password=secrets.admin_password,
            api_secret_key=secrets.api_secret_key,
            opts=pulumi.ResourceOptions(depends_on=[candidate.migration.job]),
        )

    # Without a flip the canary needs the (only) scheduler to be this colour's, so it comes first.
    if not flipping:
        platform.schedulers = schedulers([candidate.migration.job])

    # During a flip the preview Service still selects the candidate (it moves after the active Service),
    # so the smoke test goes through it; otherwise the candidate's own Service is the target.
    router_names = (f"{INSTANCE}-api", f"{INSTANCE}-api-preview")
    platform.smoke_target = router_names[1] if flipping else candidate.api_service_name
    smoke = SmokeTest(
        "smoke-test",
        config=config,
        candidate=active,
        candidate_image=platform.images[active],
        airflow_major=config.releases[active].airflow_major,
        candidate_secret_name=candidate.env_secret_name,
        target_service=platform.smoke_target,
        instance=INSTANCE,
        admin_secret_name=admin.secret_name if admin is not None else None,
        opts=pulumi.ResourceOptions(
            depends_on=[
                candidate,
                *([platform.schedulers] if platform.schedulers is not None else []),
                *([admin] if admin is not None else []),
            ]
        ),
    )

    platform.router = Router(
        "router",
        active=active,
        api_components={c: AirflowFlavor(config.releases[c].airflow_major).api_component for c in Color},
        schemas={c: config.releases[c].schemas for c in Color},
        namespace=config.namespace,
        instance=INSTANCE,
        flip_guard=flip_guard,
        candidate_ready=[
            candidate.api_deployment,
            *(pool.deployment for pool in candidate.pools),
            candidate.canary.deployment,
            smoke.job,
        ],
        opts=pulumi.ResourceOptions(depends_on=namespace_deps),
    )

    if config.ingress.enabled:
        RouterIngress(
            "ingress",
            config=config.ingress,
            namespace=config.namespace,
            instance=INSTANCE,
            services=router_names,
            opts=pulumi.ResourceOptions(depends_on=namespace_deps),
        )

    # The schedulers move only once traffic has: the old colour's scheduler exits before the new one starts.
    if platform.schedulers is None:
        platform.schedulers = schedulers([platform.router.active_service, candidate.migration.job])

    check = PostPromotionCheck(
        "post-promotion",
        config=config,
        active=active,
        image=platform.images[active],
        airflow_major=config.releases[active].airflow_major,
        active_service=platform.router.active_service_name,
        instance=INSTANCE,
        opts=pulumi.ResourceOptions(depends_on=[platform.router.active_service, platform.schedulers]),
    )
    old_colour_waits_for: list[pulumi.Resource] = [platform.router, platform.schedulers, check]
    if config.after_flip is AfterFlip.SCALE_DOWN and config.scale_down_delay_seconds > 0:
        delay = ScaleDownDelay(
            "scale-down-delay",
            config=config,
            promoted=active,
            image=platform.images[active],
            instance=INSTANCE,
            opts=pulumi.ResourceOptions(depends_on=[check]),
        )
        old_colour_waits_for.append(delay)

    # The old colour changes (scale-down) only after traffic and the schedulers have left it and the
    # promoted colour passed its check: its workers drain what its scheduler queued before it stopped.
    platform.releases[idle] = release(idle, [*namespace_deps, redis, *pgbouncer, *old_colour_waits_for])
    return platform
