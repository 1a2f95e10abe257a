"""What every Airflow workload of one colour shares, handed to each component as one value."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import pulumi
import pulumi_kubernetes as k8s

from infra.airflow_flavor import API_PORT, LOG_SERVER_PORT, AirflowFlavor
from infra.airflow_settings import OptionValue, merged_options, options_env
from infra.config import Color, Release, Rollout, StackConfig
from infra.redis_broker import REDIS_PORT
from infra.statsd import statsd_env

HOSTNAME_CALLABLE = "airflow.utils.net.get_host_ip_address"
"""Workers record their pod IP as the task's hostname: the API server fetches a running task's log from
``http://<hostname>:8793``, and a pod's name does not resolve in cluster DNS (its IP needs no DNS)."""


@dataclass(frozen=True)
class ColorContext:
    """One colour of one stack: its config, image, shared environment and connections Secret."""

    config: StackConfig
    color: Color
    instance: str
    image: pulumi.Input[str]

    @property
    def namespace(self) -> str:
        """The stack's namespace."""
        return self.config.namespace

    @property
    def release(self) -> Release:
        """This colour's release config."""
        return self.config.releases[self.color]

    @property
    def airflow_version(self) -> str:
        """This colour's Airflow version."""
        return self.release.airflow_version

    @property
    def flavor(self) -> AirflowFlavor:
        """Airflow 2 or 3 specifics."""
        return AirflowFlavor(self.release.airflow_major)

    @property
    def rollout(self) -> Rollout:
        """Every Deployment's deadlines."""
        return self.config.rollout

    @property
    def prefix(self) -> str:
        """``airflow-blue``: the start of this colour's object names."""
        return f"{self.instance}-{self.color.value}"

    @property
    def api_service_name(self) -> str:
        """This colour's own API Service."""
        return f"{self.prefix}-api"

    @property
    def env_secret_name(self) -> str:
        """This colour's connections Secret (database, broker, Fernet and API keys)."""
        return f"{self.prefix}-airflow"

    @property
    def env(self) -> list[k8s.core.v1.EnvVarArgsDict]:
        """Plain (non-secret) environment of every Airflow container of this colour."""
        return release_env(self.config, self.color, self.api_service_name, self.instance)


def release_env(config: StackConfig, color: Color, api_service: str, instance: str) -> list[k8s.core.v1.EnvVarArgsDict]:
    """Platform defaults, the configured Airflow options over them, then the options the platform owns."""
    release = config.releases[color]
    defaults: dict[tuple[str, str], OptionValue] = {
        ("core", "load_examples"): False,
        # Tasks without an explicit queue go to the first pool's first queue, which some pool consumes.
        ("operators", "default_queue"): config.worker_pools[0].queues[0],
    }
    configured = merged_options(config.airflow_config, release.airflow_config)
    env: list[k8s.core.v1.EnvVarArgsDict] = [
        *options_env({**defaults, **configured}),
        {"name": "AIRFLOW__CORE__EXECUTOR", "value": "CeleryExecutor"},
        {"name": "AIRFLOW__CORE__HOSTNAME_CALLABLE", "value": HOSTNAME_CALLABLE},
        {"name": "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "value": str(LOG_SERVER_PORT)},
        {"name": "PIPELINE_PLATFORM_COLOR", "value": color.value},
    ]
    if release.airflow_major >= 3:
        # Airflow 2's default is FAB already (under a path that moved between 2.x releases): set on 3 only.
        env.append({"name": "AIRFLOW__CORE__AUTH_MANAGER", "value": config.auth.manager.class_path})
        # Airflow 3 workers run tasks through the Task Execution API; each colour talks to its own API server.
        env.append(
            {
                "name": "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                "value": f"http://{api_service}.{config.namespace}.svc.cluster.local:{API_PORT}/execution/",
            }
        )
    if config.ingress.enabled:
        section = "API" if release.airflow_major >= 3 else "WEBSERVER"
        env.append({"name": f"AIRFLOW__{section}__BASE_URL", "value": config.ingress.base_url})
    env.extend(statsd_env(config, instance))
    return env


def broker_url(password: str, host: str, database: int) -> str:
    """The colour's Celery broker URL: same Redis, the colour's own database number."""
    return f"redis://:{quote(password, safe='')}@{host}:{REDIS_PORT}/{database}"


def keda_connection(sqlalchemy_url: str) -> str:
    """The metadata database URL as KEDA's PostgreSQL scaler (pgx) reads it: no SQLAlchemy driver suffix."""
    scheme, rest = sqlalchemy_url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"
