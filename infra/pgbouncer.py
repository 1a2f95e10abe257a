"""Optional (``pgbouncer.enabled``, off by default as in the Airflow Helm chart): PgBouncer before the metadata DB.

Every Airflow process of both colours opens its own database connections; PgBouncer (transaction pooling)
lets them share ``defaultPoolSize`` server connections. When enabled, each colour's connections Secret points
``sql_alchemy_conn`` and the Celery result backend at PgBouncer; the migration and admin-user Jobs keep the
direct URL (Airflow's migrations hold a session-level advisory lock, which transaction pooling would break),
and so does KEDA (it connects from its own namespace).

PgBouncer's configuration is rendered from the ``metadataDbConnection`` secret into a Kubernetes Secret, only
ever as a Pulumi secret Output. PostgreSQL only: :mod:`infra.config_loader` refuses a MySQL URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import pulumi
import pulumi_kubernetes as k8s

from infra.config import Component, StackConfig
from infra.labels import selector_labels, standard_labels
from infra.pod_settings import env_from, extra_env, pod_metadata, pod_spec
from infra.security import container_security_context, pod_security_context, resource_requirements
from infra.timeouts import wait_up_to

PGBOUNCER_PORT = 6432
POOLED_DATABASE = "airflow-metadata"
"""The database name Airflow connects to on PgBouncer; PgBouncer maps it to the real one."""
NOBODY_UID = 65534
"""The image's ``nobody`` user (as the Airflow chart runs it)."""
CONFIG_DIR = "/etc/pgbouncer"
PGBOUNCER_PODS = {"matchLabels": selector_labels("pgbouncer", "database-pool")}
DIRECT_CONNECTION_KEY = "METADATA_DB_DIRECT_CONN"
"""Key of the colour Secret holding the database URL without PgBouncer (migration and admin-user Jobs)."""
_CLIENT_TLS = {"sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword"}
"""URL parameters about TLS to the database: PgBouncer speaks to it, Airflow speaks plain TCP to PgBouncer."""


@dataclass(frozen=True)
class DatabaseUrl:
    """The parts of a PostgreSQL SQLAlchemy URL PgBouncer needs."""

    scheme: str
    username: str
    password: str
    host: str
    port: int
    database: str
    query: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, url: str) -> DatabaseUrl:
        """``postgresql+psycopg2://user:pass@host:5432/db?sslmode=require`` -> its parts (percent-decoded)."""
        parts = urlsplit(url)
        return cls(
            scheme=parts.scheme,
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=parts.hostname or "localhost",
            port=parts.port or 5432,
            database=unquote(parts.path.lstrip("/")) or "postgres",
            query=tuple(parse_qsl(parts.query)),
        )


def pgbouncer_host(config: StackConfig, instance: str) -> str:
    """PgBouncer's Service, in cluster DNS."""
    return f"{instance}-pgbouncer.{config.namespace}.svc.cluster.local"


def pooled_url(url: str, host: str) -> str:
    """Airflow's URL through PgBouncer: same driver and credentials, PgBouncer's host, port and database."""
    db = DatabaseUrl.parse(url)
    query = urlencode([(key, value) for key, value in db.query if key not in _CLIENT_TLS])
    credentials = f"{quote(db.username, safe='')}:{quote(db.password, safe='')}"
    return f"{db.scheme}://{credentials}@{host}:{PGBOUNCER_PORT}/{POOLED_DATABASE}{'?' + query if query else ''}"


def _quoted(value: str) -> str:
    # libpq-style connection string value, as PgBouncer's [databases] section reads it.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pgbouncer_ini(url: str, config: StackConfig) -> str:
    """PgBouncer's configuration for the metadata database behind ``url``."""
    db = DatabaseUrl.parse(url)
    settings = config.pgbouncer
    sslmode = dict(db.query).get("sslmode", "prefer")
    return "\n".join(
        [
            "[databases]",
            f"{POOLED_DATABASE} = host={_quoted(db.host)} port={db.port} dbname={_quoted(db.database)}",
            "",
            "[pgbouncer]",
            "listen_addr = 0.0.0.0",
            f"listen_port = {PGBOUNCER_PORT}",
            # No Unix socket: the root filesystem is read-only and nothing connects locally.
            "unix_socket_dir =",
            "pool_mode = transaction",
            "auth_type = scram-sha-256",
            f"auth_file = {CONFIG_DIR}/users.txt",
            f"max_client_conn = {settings.max_client_conn}",
            f"default_pool_size = {settings.default_pool_size}",
            # psycopg2 sends it on connect; PgBouncer refuses unknown startup parameters otherwise.
            "ignore_startup_parameters = extra_float_digits",
            f"server_tls_sslmode = {sslmode}",
            "",
        ]
    )


def users_txt(url: str) -> str:
    """PgBouncer's auth file: the database user and password (a ``"`` inside is doubled)."""
    db = DatabaseUrl.parse(url)
    return f'"{db.username.replace(chr(34), chr(34) * 2)}" "{db.password.replace(chr(34), chr(34) * 2)}"\n'


def direct_database_env(config: StackConfig, env_secret: str) -> list[k8s.core.v1.EnvVarArgsDict]:
    """For the migration and admin-user Jobs: the direct URL over the pooled one their ``envFrom`` brings."""
    if not config.pgbouncer.enabled:
        return []
    return [
        {
            "name": "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            "valueFrom": {"secretKeyRef": {"name": env_secret, "key": DIRECT_CONNECTION_KEY}},
        }
    ]


class PgBouncer(pulumi.ComponentResource):
    """``<instance>-pgbouncer``: its configuration Secret, Deployment and Service."""

    secret: k8s.core.v1.Secret
    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service

    def __init__(
        self,
        name: str,
        config: StackConfig,
        connection: pulumi.Output[str],
        instance: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``connection``: the ``metadataDbConnection`` secret."""
        super().__init__("pipeline-platform:index:PgBouncer", name, None, opts)
        self._name, self._config, self._instance = name, config, instance
        self._labels = standard_labels("pgbouncer", "database-pool", instance)
        self._object_name = f"{instance}-pgbouncer"
        self._secret_name = f"{self._object_name}-config"
        self.secret = self._secret(connection)
        self.deployment = self._deployment()
        self.service = self._service()
        self.register_outputs({})

    def _metadata(self, name: str | None = None) -> k8s.meta.v1.ObjectMetaArgsDict:
        return {"name": name or self._object_name, "namespace": self._config.namespace, "labels": self._labels}

    def _secret(self, connection: pulumi.Output[str]) -> k8s.core.v1.Secret:
        config = self._config
        files: dict[str, pulumi.Input[str]] = {
            "pgbouncer.ini": connection.apply(lambda url: pgbouncer_ini(url, config)),
            "users.txt": connection.apply(users_txt),
        }
        return k8s.core.v1.Secret(
            f"{self._name}-config",
            metadata=self._metadata(self._secret_name),
            type="Opaque",
            # Secret already, as the connection is; said again so a change upstream cannot make them plain.
            string_data={name: pulumi.Output.secret(text) for name, text in files.items()},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _deployment(self) -> k8s.apps.v1.Deployment:
        config = self._config
        settings = config.components.pgbouncer
        port: k8s.core.v1.TCPSocketActionArgsDict = {"port": "pgbouncer"}
        container: k8s.core.v1.ContainerArgsDict = {
            "name": "pgbouncer",
            "image": config.pgbouncer.image,
            "command": ["pgbouncer", f"{CONFIG_DIR}/pgbouncer.ini"],
            "env": extra_env(settings),
            "ports": [{"name": "pgbouncer", "containerPort": PGBOUNCER_PORT, "protocol": "TCP"}],
            "readinessProbe": {"tcpSocket": port, "periodSeconds": 10, "timeoutSeconds": 3},
            "livenessProbe": {"tcpSocket": port, "periodSeconds": 20, "timeoutSeconds": 5, "failureThreshold": 5},
            "resources": resource_requirements(config.pgbouncer.resources),
            "securityContext": container_security_context(read_only_root=True),
            "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}],
        }
        if settings.env_from_secrets:
            container["envFrom"] = env_from(settings)
        return k8s.apps.v1.Deployment(
            f"{self._name}-deployment",
            metadata=self._metadata(),
            spec={
                "replicas": 1,
                "selector": dict(PGBOUNCER_PODS),
                "progressDeadlineSeconds": config.rollout.progress_deadline_seconds,
                "template": {
                    "metadata": pod_metadata(self._labels, settings),
                    "spec": pod_spec(
                        config,
                        Component.PGBOUNCER,
                        self._instance,
                        [container],
                        securityContext=pod_security_context(NOBODY_UID, NOBODY_UID),
                        # Readable by the pod's group (fsGroup) only.
                        volumes=[{"name": "config", "secret": {"secretName": self._secret_name, "defaultMode": 0o440}}],
                    ),
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.secret], custom_timeouts=wait_up_to(config.rollout.pulumi_timeout)
            ),
        )

    def _service(self) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            f"{self._name}-service",
            metadata=self._metadata(),
            spec={
                "type": "ClusterIP",
                "selector": PGBOUNCER_PODS["matchLabels"],
                "ports": [{"name": "pgbouncer", "port": PGBOUNCER_PORT, "targetPort": "pgbouncer", "protocol": "TCP"}],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
