"""NetworkPolicies: nothing moves in the namespace unless a rule below says so.

A default-deny policy selects every pod, for ingress and egress. Then one policy per component lists exactly
what it needs, and one lets every pod resolve names:

=================  =====================================================  ===========================================
component          ingress                                                egress
=================  =====================================================  ===========================================
every pod          -                                                      cluster DNS (``networkPolicies.dns``)
api server         8080 from this platform's pods and                     workers' log servers (8793), metadata DB,
                   ``apiServerIngressFrom`` (default: the whole cluster)  ``egress.apiServer`` (default HTTPS)
scheduler          -                                                      metadata DB, Redis
triggerer          -                                                      metadata DB, API servers
dag processor      -                                                      metadata DB, API servers
workers            8793 (log server) from the API servers                 metadata DB, Redis, API servers,
                                                                          ``egress.workers`` (default HTTPS)
migration, admin   -                                                      metadata DB
probes             -                                                      API servers
redis              6379 from the scheduler and workers                    -
statsd (optional)  9125/UDP from Airflow pods; 9102 from                  -
                   ``statsd.scrapeFrom`` (default namespace monitoring)
every Airflow pod  -                                                      the StatsD exporter (9125/UDP), when enabled
pgbouncer          6432 from the Airflow pods that use the metadata DB    metadata DB
(optional)         (not the migration and admin Jobs)
=================  =====================================================  ===========================================

With PgBouncer enabled, "metadata DB" above means PgBouncer (6432) for every Airflow pod except the migration and
admin-user Jobs, which keep their direct egress to the database.

KEDA reads task counts from the metadata database from its own namespace, and the kubelet's probes are not
subject to NetworkPolicies, so neither needs a rule here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.airflow_flavor import API_PORT, LOG_SERVER_PORT
from infra.config import Component, StackConfig
from infra.labels import PART_OF, standard_labels
from infra.pgbouncer import PGBOUNCER_PODS, PGBOUNCER_PORT
from infra.redis_broker import REDIS_PORT
from infra.statsd import METRICS_PORT, STATSD_PODS, STATSD_PORT

API_COMPONENTS = ["api-server", "webserver"]
"""The API server's component label on Airflow 3 and 2."""
DATABASE_CLIENTS = [
    "api-server",
    "webserver",
    "scheduler",
    "triggerer",
    "dag-processor",
    "worker",
    "migrate",
    "admin-user",
]
"""Every Airflow process that opens the metadata database (workers: Celery's result backend)."""
MIGRATIONS = ["migrate", "admin-user"]
"""Jobs that connect to the database directly even with PgBouncer (Airflow's migrations lock per session)."""
PROBES = ["smoke-test", "post-promotion-check"]


def airflow_pods(*components: str) -> dict[str, Any]:
    """A pod selector for this platform's Airflow pods of the given components (all when none given)."""
    selector: dict[str, Any] = {
        "matchLabels": {"app.kubernetes.io/name": "airflow", "app.kubernetes.io/part-of": PART_OF}
    }
    if components:
        selector["matchExpressions"] = [
            {"key": "app.kubernetes.io/component", "operator": "In", "values": list(components)}
        ]
    return selector


REDIS_PODS = {"matchLabels": {"app.kubernetes.io/name": "redis", "app.kubernetes.io/component": "broker"}}


def _tcp(port: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port}]


class NetworkPolicies(pulumi.ComponentResource):
    """The namespace's NetworkPolicies (``networkPolicies.enabled``, default true)."""

    def __init__(
        self, name: str, config: StackConfig, instance: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("pipeline-platform:index:NetworkPolicies", name, None, opts)
        self._name, self._config, self._instance = name, config, instance
        settings = config.network_policies
        database = [
            {
                "to": [{"ipBlock": {"cidr": cidr}} for cidr in settings.metadata_db.cidrs],
                "ports": _tcp(settings.metadata_db.port),
            }
        ]
        direct_database = database
        if config.pgbouncer.enabled:
            database = [{"to": [{"podSelector": PGBOUNCER_PODS}], "ports": _tcp(PGBOUNCER_PORT)}]
        redis = [{"to": [{"podSelector": REDIS_PODS}], "ports": _tcp(REDIS_PORT)}]
        api = [{"to": [{"podSelector": airflow_pods(*API_COMPONENTS)}], "ports": _tcp(API_PORT)}]
        logs = [{"to": [{"podSelector": airflow_pods("worker")}], "ports": _tcp(LOG_SERVER_PORT)}]

        self._policy("default-deny", {}, ingress=[], egress=[])
        dns = settings.dns
        self._policy(
            "dns",
            {},
            egress=[
                {
                    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": dns.namespace}}}],
                    "ports": [{"protocol": "UDP", "port": dns.port}, {"protocol": "TCP", "port": dns.port}],
                }
            ],
        )
        self._policy(
            "api-server",
            airflow_pods(*API_COMPONENTS),
            ingress=[
                {"from": [{"podSelector": airflow_pods()}, *settings.api_server_ingress_from], "ports": _tcp(API_PORT)}
            ],
            egress=[*logs, *database, *self._extra(Component.API_SERVER)],
        )
        self._policy(
            "scheduler", airflow_pods("scheduler"), egress=[*database, *redis, *self._extra(Component.SCHEDULER)]
        )
        self._policy(
            "triggerer", airflow_pods("triggerer"), egress=[*database, *api, *self._extra(Component.TRIGGERER)]
        )
        self._policy(
            "dag-processor",
            airflow_pods("dag-processor"),
            egress=[*database, *api, *self._extra(Component.DAG_PROCESSOR)],
        )
        self._policy(
            "worker",
            airflow_pods("worker"),
            ingress=[{"from": [{"podSelector": airflow_pods(*API_COMPONENTS)}], "ports": _tcp(LOG_SERVER_PORT)}],
            egress=[*database, *redis, *api, *self._extra(Component.WORKERS)],
        )
        self._policy(
            "migration",
            airflow_pods(*MIGRATIONS),
            egress=[*direct_database, *self._extra(Component.MIGRATION)],
        )
        self._policy("probes", airflow_pods(*PROBES), egress=[*api, *self._extra(Component.PROBES)])
        self._policy(
            "redis",
            REDIS_PODS,
            ingress=[{"from": [{"podSelector": airflow_pods("scheduler", "worker")}], "ports": _tcp(REDIS_PORT)}],
            egress=self._extra(Component.REDIS),
        )
        if config.statsd.enabled:
            self._statsd()
        if config.pgbouncer.enabled:
            self._policy(
                "pgbouncer",
                PGBOUNCER_PODS,
                ingress=[
                    {
                        "from": [{"podSelector": airflow_pods(*(c for c in DATABASE_CLIENTS if c not in MIGRATIONS))}],
                        "ports": _tcp(PGBOUNCER_PORT),
                    }
                ],
                egress=[*direct_database, *self._extra(Component.PGBOUNCER)],
            )
        self.register_outputs({})

    def _statsd(self) -> None:
        """Airflow pods send metrics to the exporter; Prometheus (``statsd.scrapeFrom``) scrapes it."""
        udp = [{"protocol": "UDP", "port": STATSD_PORT}]
        # A policy of its own: NetworkPolicies add up, so each component's policy above stays as it is.
        self._policy("statsd-clients", airflow_pods(), egress=[{"to": [{"podSelector": STATSD_PODS}], "ports": udp}])
        self._policy(
            "statsd",
            STATSD_PODS,
            ingress=[
                {"from": [{"podSelector": airflow_pods()}], "ports": udp},
                {"from": list(self._config.statsd.scrape_from), "ports": _tcp(METRICS_PORT)},
            ],
            egress=self._extra(Component.STATSD),
        )

    def _extra(self, component: Component) -> list[dict[str, Any]]:
        return list(self._config.network_policies.egress.get(component, []))

    def _policy(
        self,
        suffix: str,
        pods: dict[str, Any],
        ingress: Sequence[dict[str, Any]] | None = None,
        egress: Sequence[dict[str, Any]] | None = None,
    ) -> k8s.networking.v1.NetworkPolicy:
        """A policy for ``pods``: each direction given is isolated, and allowed only what is listed."""
        spec: dict[str, Any] = {"podSelector": pods, "policyTypes": []}
        if ingress is not None:
            spec["policyTypes"].append("Ingress")
            spec["ingress"] = list(ingress)
        if egress is not None:
            spec["policyTypes"].append("Egress")
            spec["egress"] = list(egress)
        return k8s.networking.v1.NetworkPolicy(
            f"{self._name}-{suffix}",
            metadata={
                "name": f"{self._instance}-{suffix}",
                "namespace": self._config.namespace,
                "labels": standard_labels("airflow", "network-policy", self._instance),
            },
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self),
        )
