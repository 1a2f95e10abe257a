"""The stack's configuration, typed.

One :class:`StackConfig` holds every non-secret setting of a stack (``Pulumi.<stack>.yaml``, keys under
``pipeline-platform:``). Field names are the config keys users write (camelCase aliases); validation
messages name the rule that failed so :mod:`infra.config_loader` can report ``key: message`` lines.
Secrets are not here: they stay Pulumi secret Outputs (see :class:`infra.config_loader.StackSecrets`).
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from infra.airflow_settings import OptionValue, owned_reason

# A DNS-1123 label: what Kubernetes accepts in object names derived from these values.
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Kubernetes resource quantities as people write them: 250m, 0.5, 2, 512Mi, 4Gi.
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
# Celery queue names become Redis list keys and CLI arguments; keep them plain.
_QUEUE = r"^[A-Za-z0-9_.:-]+$"
RESERVED_POOL = "canary"
"""The name of each colour's canary worker (:mod:`infra.canary`), so no configured pool may take it."""
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


class Color(StrEnum):
    """A release slot. Exactly one colour is active (serves traffic, runs the scheduler); the other is idle."""

    BLUE = "blue"
    GREEN = "green"

    @property
    def other(self) -> Color:
        """The opposite colour: the idle one when this one is active."""
        return Color.GREEN if self is Color.BLUE else Color.BLUE

    @property
    def broker_db(self) -> int:
        """The Redis database number of this colour's Celery broker: colours never share queues."""
        return 0 if self is Color.BLUE else 1


class AfterFlip(StrEnum):
    """What happens to the colour that stops being active."""

    KEEP_WARM = "keepWarm"
    """Keep the idle colour's API server and workers at full size: rollback is one selector move away, and
    idle workers finish the tasks already queued on their broker database."""
    SCALE_DOWN = "scaleDown"
    """Scale the idle colour to one API server (so the preview Service still answers) and no workers;
    rollback first scales its workers back up. Saves capacity; tasks still queued on the idle broker wait."""


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


def _check_quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (examples: 250m, 2, 512Mi, 4Gi)")
    return value


def _number_as_text(value: Any) -> Any:
    # `pulumi config set --path '...cpu' 2` stores the number 2; Kubernetes wants the quantity "2".
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return format(Decimal(str(value)).normalize(), "f")
    return value


Quantity = Annotated[str, BeforeValidator(_number_as_text), Field(min_length=1), AfterValidator(_check_quantity)]
"""A Kubernetes quantity, written as a string (``250m``, ``4Gi``) or a number (``2``, ``0.5``)."""

_SUFFIX_FACTORS = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


def quantity_value(quantity: str) -> Decimal:
    """The amount a valid quantity stands for (``500m`` -> 0.5, ``1Gi`` -> 1073741824)."""
    match = _QUANTITY.match(quantity)
    if match is None:
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity")
    suffix = match.group(2) or ""
    return Decimal(quantity[: len(quantity) - len(suffix)]) * _SUFFIX_FACTORS[suffix]


class ComputeAmounts(_Model):
    """CPU and memory for one container, in Kubernetes quantities."""

    cpu: Quantity
    memory: Quantity


class Resources(_Model):
    """Requests and limits of one container; every container gets both (no unbounded pods)."""

    requests: ComputeAmounts
    limits: ComputeAmounts

    @model_validator(mode="after")
    def _request_within_limit(self) -> Resources:
        for name in ("cpu", "memory"):
            request, limit = getattr(self.requests, name), getattr(self.limits, name)
            if quantity_value(request) > quantity_value(limit):
                raise ValueError(
                    f"requests.{name} ({request}) exceeds limits.{name} ({limit}); Kubernetes refuses such a "
                    f"pod: lower requests.{name} or raise limits.{name}"
                )
        return self


def merge_resources_over_default(cls: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
    """A partial ``resources`` (``{limits: {cpu: 2}}``) completed from the field's default, amount by amount."""
    default = cls.model_fields[str(info.field_name)].default
    if not isinstance(value, dict) or not isinstance(default, Resources):
        return value
    merged = dict(value)
    for part in ("requests", "limits"):
        base = getattr(default, part).model_dump()
        given = value.get(part)
        if given is None:
            merged[part] = base
        elif isinstance(given, dict):
            merged[part] = {**base, **given}
    return merged


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Resources:
    return Resources(
        requests=ComputeAmounts(cpu=cpu, memory=memory),
        limits=ComputeAmounts(cpu=cpu_limit, memory=memory_limit),
    )


class ImageRef(_Model):
    """A prebuilt Airflow image. Prefer ``digest`` (``sha256:...``): a tag can move under a running release."""

    repository: str = Field(min_length=1)
    tag: str | None = None
    digest: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None

    @model_validator(mode="after")
    def _tag_or_digest(self) -> ImageRef:
        if (self.tag is None) == (self.digest is None):
            raise ValueError("set exactly one of 'tag' or 'digest'")
        return self

    @property
    def reference(self) -> str:
        """``repository@digest`` or ``repository:tag``."""
        return f"{self.repository}@{self.digest}" if self.digest else f"{self.repository}:{self.tag}"


class ImageBuild(_Model):
    """Build the Airflow image from the project's Dockerfile (DAGs baked in) and push it."""

    image_name: str = Field(min_length=1)
    """Repository and tag to push, e.g. ``registry.example.com/data/airflow:2024-06-01``."""
    context: str = "."
    """Build context, relative to the project root (where Pulumi.yaml is)."""
    dockerfile: str = "Dockerfile"
    platform: str = "linux/amd64"
    python_version: str = Field(default="3.12", pattern=r"^3\.\d+$")


class Release(_Model):
    """One colour's release: the Airflow version, its image, and the schema versions it reads and writes."""

    airflow_version: str
    image: ImageRef | None = None
    build: ImageBuild | None = None
    schemas: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    """Schema subject -> the version this release reads and writes; the flip gate compares these."""
    api_replicas: int = Field(default=1, ge=1)
    airflow_config: AirflowOptions = Field(default_factory=dict)
    """Airflow options of this colour only, over the stack's ``airflowConfig`` key by key."""

    @field_validator("airflow_version")
    @classmethod
    def _supported_airflow(cls, value: str) -> str:
        match = _VERSION.match(value)
        if not match:
            raise ValueError(f"{value!r} is not an Airflow version like '3.0.2'")
        major, minor = int(match.group(1)), int(match.group(2))
        # 2.7 is the first release with `airflow db migrate` and the Celery provider's app path.
        if (major, minor) < (2, 7) or major > 3:
            raise ValueError(f"Airflow {value} is not supported; use 2.7 or newer 2.x, or 3.x")
        return value

    @model_validator(mode="after")
    def _one_image_source(self) -> Release:
        if (self.image is None) == (self.build is None):
            raise ValueError("set exactly one of 'image' (a prebuilt image) or 'build' (build from Dockerfile)")
        return self

    @property
    def airflow_major(self) -> int:
        """2 or 3: decides webserver vs api-server and whether a standalone DAG processor runs."""
        return int(self.airflow_version.split(".", 1)[0])


class Autoscaling(_Model):
    """Scale a pool on CPU (HorizontalPodAutoscaler) or on queue length (KEDA ScaledObject)."""

    kind: Literal["hpa", "keda"]
    min_replicas: int = Field(ge=0)
    max_replicas: int = Field(ge=1)
    target_cpu_percent: int = Field(default=80, ge=1, le=100)
    """hpa: average CPU utilisation to hold."""
    tasks_per_replica: int | None = Field(default=None, ge=1)
    """keda: running + queued task instances per worker replica; default the pool's concurrency."""

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas ({self.min_replicas}) must be <= maxReplicas ({self.max_replicas})")
        if self.kind == "hpa" and self.min_replicas < 1:
            raise ValueError("an hpa cannot scale to zero: minReplicas must be >= 1 (use kind: keda for zero)")
        return self


class DisruptionBudget(_Model):
    """How many of a pool's workers a voluntary disruption (node drain) may take at once."""

    max_unavailable: int = Field(default=1, ge=0)


_SECTION_OR_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STATSD_OPTIONS = frozenset({"statsd_on", "statsd_host", "statsd_port", "statsd_prefix"})
"""``[metrics]`` options the platform sets when ``statsd.enabled``."""
PLATFORM_ENV = frozenset({"PIPELINE_PLATFORM_COLOR", "DUMB_INIT_SETSID"})
"""Environment variables the platform sets itself on Airflow containers."""


def _check_airflow_options(value: dict[str, dict[str, OptionValue]]) -> dict[str, dict[str, OptionValue]]:
    problems = []
    for section, options in value.items():
        if not _SECTION_OR_KEY.match(section):
            problems.append(f"section {section!r} is not an Airflow section name (lowercase, like 'logging')")
        for key in options:
            if not _SECTION_OR_KEY.match(key):
                problems.append(f"{section}.{key}: {key!r} is not an Airflow option name (lowercase, like 'base_url')")
                continue
            reason = owned_reason(section, key)
            if reason is not None:
                problems.append(f"{section}.{key} is set by the platform and cannot be configured: {reason}")
    if problems:
        raise ValueError("; ".join(problems))
    return value


AirflowOptions = Annotated[dict[str, dict[str, OptionValue]], AfterValidator(_check_airflow_options)]
"""``{section: {key: value}}``: Airflow options, rendered as ``AIRFLOW__SECTION__KEY``."""


def _check_env_names(value: dict[str, Any]) -> dict[str, Any]:
    for name in value:
        if not _ENV_NAME.match(name):
            raise ValueError(f"{name!r} is not an environment variable name (letters, digits, '_')")
        if name in PLATFORM_ENV:
            raise ValueError(f"{name} is set by the platform and cannot be configured")
        if name.startswith("AIRFLOW__"):
            parts = name.split("__")
            if len(parts) == 3:
                reason = owned_reason(parts[1].lower(), parts[2].lower())
                if reason is not None:
                    raise ValueError(f"{name} is set by the platform and cannot be configured: {reason}")
    return value


def _check_plain_env(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        if name.startswith("AIRFLOW__"):
            section_key = name.removeprefix("AIRFLOW__").lower().replace("__", ".", 1)
            raise ValueError(
                f"{name}: set Airflow options under airflowConfig (airflowConfig.{section_key}), where they are "
                "checked and the same on every component"
            )
    return _check_env_names(value)


class SecretKeyRef(_Model):
    """One key of an existing Kubernetes Secret in the stack's namespace."""

    secret: Annotated[str, Field(min_length=1)]
    key: Annotated[str, Field(min_length=1)]


class ServiceAccountSettings(_Model):
    """The component's Kubernetes ServiceAccount (``airflow-<component>``), shared by both colours."""

    create: bool = True
    """Create it; false uses ``name``, which must exist."""
    name: Annotated[str, Field(pattern=_DNS_LABEL)] | None = None
    """An existing ServiceAccount to use (with ``create: false``); default ``airflow-<component>``."""
    annotations: dict[str, str] = Field(default_factory=dict)
    """E.g. ``eks.amazonaws.com/role-arn`` (IRSA) or ``iam.gke.io/gcp-service-account`` (Workload Identity)."""
    automount_token: bool = False
    """Mount the ServiceAccount's Kubernetes API token into pods; nothing here calls the Kubernetes API."""

    @model_validator(mode="after")
    def _name_when_not_created(self) -> ServiceAccountSettings:
        if not self.create and self.name is None:
            raise ValueError("with create: false, set name to the existing ServiceAccount to use")
        return self


class PodSettings(_Model):
    """Placement and extra environment of one component's pods. Every key defaults to nothing."""

    env: Annotated[dict[str, str], AfterValidator(_check_plain_env)] = Field(default_factory=dict)
    """Extra plain environment variables (Airflow options go under ``airflowConfig``)."""
    secret_env: Annotated[dict[str, SecretKeyRef], AfterValidator(_check_env_names)] = Field(default_factory=dict)
    """Environment variables from keys of existing Secrets (``secretKeyRef``), e.g. ``AIRFLOW_CONN_*``."""
    env_from_secrets: list[Annotated[str, Field(pattern=_DNS_LABEL)]] = Field(default_factory=list)
    """Existing Secrets whose every key becomes a variable (``envFrom``)."""
    pod_annotations: dict[str, str] = Field(default_factory=dict)
    node_selector: dict[str, str] = Field(default_factory=dict)
    affinity: dict[str, Any] | None = None
    """A Kubernetes ``Affinity`` object, as in a pod spec."""
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    topology_spread_constraints: list[dict[str, Any]] = Field(default_factory=list)

    def over(self, base: PodSettings) -> PodSettings:
        """``base`` with each key set here replacing its own."""
        return base.model_copy(update={name: getattr(self, name) for name in self.model_fields_set})


class ComponentSettings(PodSettings):
    """A component's pods and its ServiceAccount."""

    service_account: ServiceAccountSettings = ServiceAccountSettings()


class ApiServerSettings(ComponentSettings):
    """The API server's pods, ServiceAccount and PodDisruptionBudget."""

    disruption_budget: DisruptionBudget = Field(default_factory=lambda: DisruptionBudget(max_unavailable=1))
    """Per colour; 1 lets a drain take one API server at a time."""


class Component(StrEnum):
    """The platform's workloads, each with its own settings and ServiceAccount."""

    API_SERVER = "apiServer"
    """The API server (Airflow 3) or webserver (Airflow 2) of each colour."""
    SCHEDULER = "scheduler"
    TRIGGERER = "triggerer"
    DAG_PROCESSOR = "dagProcessor"
    WORKERS = "workers"
    """Every worker pool (a pool's ``pod`` overrides) and the canary worker."""
    MIGRATION = "migration"
    """The metadata migration Jobs and the admin-user Job."""
    PROBES = "probes"
    """The smoke-test, post-promotion and scale-down-delay Jobs."""
    REDIS = "redis"
    STATSD = "statsd"
    """The StatsD exporter (``statsd.enabled``)."""
    PGBOUNCER = "pgbouncer"
    """PgBouncer (``pgbouncer.enabled``)."""

    @property
    def label(self) -> str:
        """The ``app.kubernetes.io/component``-style name used in object names (``airflow-dag-processor``)."""
        return re.sub(r"(?<!^)(?=[A-Z])", "-", self.value).lower()


class Components(_Model):
    """Settings per component; see :class:`Component`."""

    api_server: ApiServerSettings = ApiServerSettings()
    scheduler: ComponentSettings = ComponentSettings()
    triggerer: ComponentSettings = ComponentSettings()
    dag_processor: ComponentSettings = ComponentSettings()
    workers: ComponentSettings = ComponentSettings()
    migration: ComponentSettings = ComponentSettings()
    probes: ComponentSettings = ComponentSettings()
    redis: ComponentSettings = ComponentSettings()
    statsd: ComponentSettings = ComponentSettings()
    pgbouncer: ComponentSettings = ComponentSettings()

    def of(self, component: Component) -> ComponentSettings:
        """The settings of ``component``."""
        settings: ComponentSettings = getattr(self, re.sub(r"(?<!^)(?=[A-Z])", "_", component.value).lower())
        return settings


class AuthManager(StrEnum):
    """Who logs users in to the UI and REST API."""

    FAB = "fab"
    """Airflow's Flask-AppBuilder auth manager: users and roles in the metadata database, so the same login
    works on every API server replica and both colours. The platform creates the admin user."""
    SIMPLE = "simple"
    """Airflow's simple auth manager: development only (passwords generated per pod, lost on restart)."""

    @property
    def class_path(self) -> str:
        """The ``[core] auth_manager`` value."""
        if self is AuthManager.FAB:
            return "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
        return "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


class AdminUser(_Model):
    """The admin user the admin-user Job creates (FAB); its password is the ``adminPassword`` secret."""

    username: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@-]+$")] = "admin"
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")] = "admin@example.com"
    first_name: Annotated[str, Field(min_length=1)] = "Airflow"
    last_name: Annotated[str, Field(min_length=1)] = "Admin"


class Auth(_Model):
    """Login to the UI and REST API."""

    manager: AuthManager = AuthManager.FAB
    admin: AdminUser = AdminUser()


class DnsPeer(_Model):
    """Where the cluster DNS runs."""

    namespace: Annotated[str, Field(pattern=_DNS_LABEL)] = "kube-system"
    port: int = Field(default=53, ge=1, le=65535)


class MetadataDbPeer(_Model):
    """Where the metadata database is, for egress rules."""

    cidrs: list[str] = Field(default_factory=lambda: ["0.0.0.0/0"], min_length=1)
    port: int = Field(default=5432, ge=1, le=65535)

    @field_validator("cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        import ipaddress

        for cidr in value:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR block like 10.0.0.0/16") from None
        return value


_HTTPS_ANYWHERE: list[dict[str, Any]] = [{"ports": [{"protocol": "TCP", "port": 443}]}]


class NetworkPolicies(_Model):
    """Default deny in the namespace, then exactly what each component needs."""

    enabled: bool = True
    dns: DnsPeer = DnsPeer()
    metadata_db: MetadataDbPeer = MetadataDbPeer()
    api_server_ingress_from: list[dict[str, Any]] = Field(default_factory=lambda: [{"namespaceSelector": {}}])
    """Peers (NetworkPolicyPeer objects) besides this platform's pods that may reach the API servers on 8080:
    default any pod of the cluster (e.g. an ingress controller)."""
    egress: dict[Component, list[dict[str, Any]]] = Field(
        default_factory=lambda: {Component.WORKERS: list(_HTTPS_ANYWHERE), Component.API_SERVER: list(_HTTPS_ANYWHERE)}
    )
    """Extra egress rules (NetworkPolicyEgressRule objects) per component: default HTTPS anywhere for workers
    (tasks call services) and API servers (remote task logs)."""


class IngressRoute(_Model):
    """An Ingress for one Service."""

    host: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
    tls_secret: Annotated[str, Field(pattern=_DNS_LABEL)] | None = None
    """A TLS Secret for the host; without it the Ingress serves plain HTTP."""


class Ingress(_Model):
    """Off by default. An Ingress for the active Service (and, optionally, the preview Service)."""

    enabled: bool = False
    host: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")] | None = None
    tls_secret: Annotated[str, Field(pattern=_DNS_LABEL)] | None = None
    class_name: str | None = None
    """The IngressClass; default the cluster's default class."""
    path: Annotated[str, Field(pattern=r"^/([^\s]*[^/\s])?$")] = "/"
    """The URL path Airflow is served under; also in ``[api] base_url``."""
    annotations: dict[str, str] = Field(default_factory=dict)
    preview: IngressRoute | None = None

    @model_validator(mode="after")
    def _host_when_enabled(self) -> Ingress:
        if self.enabled and self.host is None:
            raise ValueError("an enabled ingress needs host (e.g. airflow.example.com)")
        return self

    @property
    def base_url(self) -> str:
        """``[api] base_url``: what browsers use to reach the active colour."""
        scheme = "https" if self.tls_secret else "http"
        return f"{scheme}://{self.host}{'' if self.path == '/' else self.path}/"


def _prometheus_namespace() -> list[dict[str, Any]]:
    return [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]


class Statsd(_Model):
    """Off by default. A StatsD exporter (prom/statsd-exporter) Airflow sends its metrics to, as StatsD over
    UDP; Prometheus scrapes them from the exporter in its text format."""

    enabled: bool = False
    image: Annotated[str, Field(min_length=1)] = "prom/statsd-exporter:v0.28.0"
    resources: Resources = _resources("50m", "64Mi", "200m", "256Mi")
    scrape_from: list[dict[str, Any]] = Field(default_factory=_prometheus_namespace)
    """Peers (NetworkPolicyPeer objects) that may reach the metrics port 9102: default the ``monitoring``
    namespace, where Prometheus usually runs."""

    _merge_resources = field_validator("resources", mode="before")(merge_resources_over_default)


class PgBouncer(_Model):
    """Off by default. PgBouncer in front of the PostgreSQL metadata database: Airflow's many processes share
    a few server connections (transaction pooling)."""

    enabled: bool = False
    image: Annotated[str, Field(min_length=1)] = "apache/airflow:airflow-pgbouncer-2025.03.05-1.23.1"
    max_client_conn: int = Field(default=100, ge=1)
    """Client connections PgBouncer accepts (every Airflow process of both colours opens some)."""
    default_pool_size: int = Field(default=10, ge=1)
    """Server connections PgBouncer opens to the database per user and database."""
    resources: Resources = _resources("50m", "64Mi", "500m", "256Mi")

    _merge_resources = field_validator("resources", mode="before")(merge_resources_over_default)


class ClusterAutoscaler(_Model):
    """What the platform assumes of the cluster autoscaler."""

    graceful_termination_seconds: int = Field(default=600, ge=0)
    """Its ``--max-graceful-termination-sec`` (default 600): pools whose longest task is longer are marked
    ``safe-to-evict: "false"``."""


class WorkerPool(_Model):
    """A Celery worker pool: its own Deployment consuming the listed queues in each colour."""

    name: Annotated[str, Field(pattern=_DNS_LABEL, max_length=30)]
    queues: list[Annotated[str, Field(pattern=_QUEUE)]] = Field(min_length=1)
    replicas: int = Field(ge=0)
    concurrency: int = Field(default=8, ge=1)
    longest_task_seconds: int = Field(default=600, ge=1)
    """The longest task this pool runs; warm shutdown waits at least this long."""
    termination_grace_period_seconds: int | None = Field(default=None, ge=1)
    """Defaults to longestTaskSeconds + 60."""
    resources: Resources = _resources("500m", "1Gi", "1", "2Gi")
    disruption_budget: DisruptionBudget = DisruptionBudget()
    autoscaling: Autoscaling | None = None
    pod: PodSettings | None = None
    """Placement and environment of this pool's workers; each key set here replaces the one of
    ``components.workers``."""
    safe_to_evict: bool | None = None
    """Whether the cluster autoscaler may evict a worker; default: not when longestTaskSeconds exceeds
    clusterAutoscaler.gracefulTerminationSeconds (the autoscaler would kill the task)."""

    _merge_resources = field_validator("resources", mode="before")(merge_resources_over_default)

    @model_validator(mode="after")
    def _grace_covers_longest_task(self) -> WorkerPool:
        grace = self.termination_grace_period_seconds
        if grace is not None and grace < self.longest_task_seconds:
            raise ValueError(
                f"terminationGracePeriodSeconds ({grace}) must be >= longestTaskSeconds "
                f"({self.longest_task_seconds}), or running tasks are killed on shutdown"
            )
        return self

    @property
    def grace_period_seconds(self) -> int:
        """Seconds Kubernetes waits after SIGTERM: covers the longest task plus time to ack and exit."""
        return self.termination_grace_period_seconds or self.longest_task_seconds + 60


class Persistence(_Model):
    """Redis data on a PersistentVolumeClaim with append-only-file durability."""

    enabled: bool = False
    size: Quantity = "8Gi"
    storage_class: str | None = None

    _size = field_validator("size")(_check_quantity)


class RedisConfig(_Model):
    """The Celery broker."""

    image: str = "redis:7.4.2-alpine"
    persistence: Persistence = Persistence()
    resources: Resources = _resources("100m", "256Mi", "500m", "512Mi")
    disruption_budget: DisruptionBudget = Field(default_factory=lambda: DisruptionBudget(max_unavailable=0))
    """Redis is one pod holding the queues: by default a drain waits until an operator moves it."""

    _merge_resources = field_validator("resources", mode="before")(merge_resources_over_default)


class ComponentResources(_Model):
    """Requests and limits of the Airflow control-plane containers."""

    api_server: Resources = _resources("250m", "1Gi", "1", "2Gi")
    scheduler: Resources = _resources("500m", "1Gi", "1", "2Gi")
    dag_processor: Resources = _resources("250m", "512Mi", "1", "1Gi")
    triggerer: Resources = _resources("250m", "512Mi", "1", "1Gi")
    migration: Resources = _resources("250m", "512Mi", "1", "1Gi")

    _merge_resources = field_validator(
        "api_server", "scheduler", "dag_processor", "triggerer", "migration", mode="before"
    )(merge_resources_over_default)


PULUMI_TIMEOUT_MARGIN_SECONDS = 120
"""Default extra time Pulumi waits beyond a Kubernetes deadline: pod scheduling and image pulls happen before
a Job's clock starts, and Kubernetes' own verdict (DeadlineExceeded, ProgressDeadlineExceeded) should be what
fails the update, with its reason, rather than Pulumi giving up while the object is still within its deadline."""


def _pulumi_timeout_after(deadline: int, pulumi_timeout: int | None, deadline_key: str) -> None:
    if pulumi_timeout is not None and pulumi_timeout <= deadline:
        raise ValueError(
            f"pulumiTimeoutSeconds ({pulumi_timeout}) must be longer than {deadline_key} ({deadline}), "
            "or `pulumi up` gives up while Kubernetes is still within its deadline"
        )


class SmokeTest(_Model):
    """The Job that must prove the candidate colour before the active Service moves."""

    timeout_seconds: int = Field(default=600, ge=60)
    """The Job's activeDeadlineSeconds: the API server's health, the canary DAG parsed, its run succeeded."""
    pulumi_timeout_seconds: int | None = Field(default=None, ge=1)
    """How long `pulumi up` waits for the Job; default timeoutSeconds + 120."""
    resources: Resources = _resources("100m", "256Mi", "500m", "512Mi")

    _merge_resources = field_validator("resources", mode="before")(merge_resources_over_default)

    @model_validator(mode="after")
    def _timeouts(self) -> SmokeTest:
        _pulumi_timeout_after(self.timeout_seconds, self.pulumi_timeout_seconds, "timeoutSeconds")
        return self

    @property
    def pulumi_timeout(self) -> int:
        """Seconds `pulumi up` waits for the Job."""
        return self.pulumi_timeout_seconds or self.timeout_seconds + PULUMI_TIMEOUT_MARGIN_SECONDS


class PostPromotion(_Model):
    """The check through the active Service once its selector moved: the promoted colour is healthy,
    scheduler, triggerer and DAG processor included."""

    timeout_seconds: int = Field(default=300, ge=60)
    """The Job's activeDeadlineSeconds."""
    pulumi_timeout_seconds: int | None = Field(default=None, ge=1)
    """How long `pulumi up` waits for the Job; default timeoutSeconds + 120."""

    @model_validator(mode="after")
    def _timeouts(self) -> PostPromotion:
        _pulumi_timeout_after(self.timeout_seconds, self.pulumi_timeout_seconds, "timeoutSeconds")
        return self

    @property
    def pulumi_timeout(self) -> int:
        """Seconds `pulumi up` waits for the Job."""
        return self.pulumi_timeout_seconds or self.timeout_seconds + PULUMI_TIMEOUT_MARGIN_SECONDS


class Migration(_Model):
    """The metadata-database migration Job of each release."""

    deadline_seconds: int = Field(default=1800, ge=60)
    """The Job's activeDeadlineSeconds."""
    pulumi_timeout_seconds: int | None = Field(default=None, ge=1)
    """How long `pulumi up` waits for the Job; default deadlineSeconds + 120."""

    @model_validator(mode="after")
    def _timeouts(self) -> Migration:
        _pulumi_timeout_after(self.deadline_seconds, self.pulumi_timeout_seconds, "deadlineSeconds")
        return self

    @property
    def pulumi_timeout(self) -> int:
        """Seconds `pulumi up` waits for the Job."""
        return self.pulumi_timeout_seconds or self.deadline_seconds + PULUMI_TIMEOUT_MARGIN_SECONDS


class Rollout(_Model):
    """Every Deployment's rollout: Kubernetes' progress deadline and Pulumi's wait."""

    progress_deadline_seconds: int = Field(default=600, ge=30)
    """Each Deployment's progressDeadlineSeconds: no progress for this long marks the rollout failed."""
    pulumi_timeout_seconds: int | None = Field(default=None, ge=1)
    """How long `pulumi up` waits for a Deployment; default progressDeadlineSeconds + 120."""

    @model_validator(mode="after")
    def _timeouts(self) -> Rollout:
        _pulumi_timeout_after(self.progress_deadline_seconds, self.pulumi_timeout_seconds, "progressDeadlineSeconds")
        return self

    @property
    def pulumi_timeout(self) -> int:
        """Seconds `pulumi up` waits for a Deployment."""
        return self.pulumi_timeout_seconds or self.progress_deadline_seconds + PULUMI_TIMEOUT_MARGIN_SECONDS


class StackConfig(_Model):
    """Every non-secret setting of one stack. Parsed once, before any resource is declared."""

    active_color: Color
    releases: dict[Color, Release]
    worker_pools: list[WorkerPool] = Field(min_length=1)
    namespace: Annotated[str, Field(pattern=_DNS_LABEL, max_length=50)] = "airflow"
    create_namespace: bool = True
    after_flip: AfterFlip = AfterFlip.KEEP_WARM
    redis: RedisConfig = RedisConfig()
    airflow_resources: ComponentResources = ComponentResources()
    smoke_test: SmokeTest = SmokeTest()
    post_promotion: PostPromotion = PostPromotion()
    migration: Migration = Migration()
    rollout: Rollout = Rollout()
    scale_down_delay_seconds: int = Field(default=300, ge=0, le=3600)
    """With ``afterFlip: scaleDown``: how long the old colour stays at full size after the promotion check
    passed, before it is scaled down (spent inside `pulumi up`)."""
    allow_airflow_version_change: bool = False
    """Let the idle colour run another Airflow version than the live one. Both colours share one metadata
    database: the idle colour's migration Job then migrates it under the live colour. See docs/deploying.md."""
    schema_registry: str = "schemas"
    """Folder of the schema registry, relative to the project root."""
    keda_namespace: Annotated[str, Field(pattern=_DNS_LABEL)] = "keda"
    """Namespace of the KEDA operator. Unused since KEDA reads task counts from the metadata database."""
    airflow_config: AirflowOptions = Field(default_factory=dict)
    """Airflow options for both colours: ``{section: {key: value}}`` -> ``AIRFLOW__SECTION__KEY``."""
    auth: Auth = Auth()
    components: Components = Components()
    image_pull_secrets: list[Annotated[str, Field(pattern=_DNS_LABEL)]] = Field(default_factory=list)
    """Secrets (docker-registry type) every pod pulls its image with."""
    network_policies: NetworkPolicies = NetworkPolicies()
    ingress: Ingress = Ingress()
    statsd: Statsd = Statsd()
    pgbouncer: PgBouncer = PgBouncer()
    cluster_autoscaler: ClusterAutoscaler = ClusterAutoscaler()

    @field_validator("releases")
    @classmethod
    def _both_colors(cls, value: dict[Color, Release]) -> dict[Color, Release]:
        missing = [color.value for color in Color if color not in value]
        if missing:
            raise ValueError(f"declare a release for each colour; missing: {', '.join(missing)}")
        return value

    @field_validator("worker_pools")
    @classmethod
    def _unique_pool_names(cls, value: list[WorkerPool]) -> list[WorkerPool]:
        seen: set[str] = set()
        for pool in value:
            if pool.name in seen:
                raise ValueError(f"pool name {pool.name!r} is used twice; pool names must be unique")
            if pool.name == RESERVED_POOL:
                raise ValueError(
                    f"pool name {RESERVED_POOL!r} is reserved for the smoke test's canary worker; rename the pool"
                )
            seen.add(pool.name)
        return value

    @model_validator(mode="after")
    def _simple_auth_on_airflow_3(self) -> StackConfig:
        if self.auth.manager is AuthManager.SIMPLE:
            older = [c.value for c, r in self.releases.items() if r.airflow_major < 3]
            if older:
                raise ValueError(
                    f"auth.manager: simple is Airflow 3's development manager; releases {', '.join(older)} run "
                    "Airflow 2: use fab"
                )
        return self

    def _airflow_config_layers(self) -> list[tuple[str, AirflowOptions]]:
        """Each ``airflowConfig`` a user can write (the stack's, then each release's) with its config key."""
        layers = [("airflowConfig", self.airflow_config)]
        layers += [(f"releases.{c.value}.airflowConfig", r.airflow_config) for c, r in self.releases.items()]
        return layers

    @model_validator(mode="after")
    def _base_url_owned_with_ingress(self) -> StackConfig:
        if not self.ingress.enabled:
            return self
        for where, options in self._airflow_config_layers():
            if "base_url" in options.get("api", {}) or "base_url" in options.get("webserver", {}):
                raise ValueError(
                    f"{where}: base_url is set by the platform while ingress.enabled is true "
                    "(from ingress.host and ingress.path); remove it"
                )
        return self

    @model_validator(mode="after")
    def _statsd_options_owned_when_enabled(self) -> StackConfig:
        if not self.statsd.enabled:
            return self
        for where, options in self._airflow_config_layers():
            owned = sorted(set(options.get("metrics", {})) & STATSD_OPTIONS)
            if owned:
                raise ValueError(
                    f"{where}: {', '.join(f'metrics.{key}' for key in owned)} "
                    f"{'is' if len(owned) == 1 else 'are'} set by the platform while statsd.enabled is true "
                    "(Airflow sends its metrics to the platform's StatsD exporter); remove it or disable statsd"
                )
        return self

    def pool_settings(self, pool: WorkerPool) -> PodSettings:
        """A pool's pod settings: ``components.workers`` with the pool's own ``pod`` keys over it."""
        base = self.components.workers
        return pool.pod.over(base) if pool.pod is not None else base

    def safe_to_evict(self, pool: WorkerPool) -> bool:
        """False when the cluster autoscaler's grace would cut the pool's longest task short."""
        if pool.safe_to_evict is not None:
            return pool.safe_to_evict
        return pool.longest_task_seconds <= self.cluster_autoscaler.graceful_termination_seconds
