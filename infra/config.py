"""The stack's configuration, typed.

One :class:`StackConfig` holds every non-secret setting of a stack (``Pulumi.<stack>.yaml``, keys under
``pipeline-platform:``). Field names are the config keys users write (camelCase aliases); validation
messages name the rule that failed so :mod:`infra.config_loader` can report ``key: message`` lines.
Secrets are not here: they stay Pulumi secret Outputs (see :class:`infra.config_loader.StackSecrets`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

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


Quantity = Annotated[str, Field(min_length=1)]


class ComputeAmounts(_Model):
    """CPU and memory for one container, in Kubernetes quantities."""

    cpu: Quantity
    memory: Quantity

    _cpu = field_validator("cpu", "memory")(_check_quantity)


class Resources(_Model):
    """Requests and limits of one container; every container gets both (no unbounded pods)."""

    requests: ComputeAmounts
    limits: ComputeAmounts


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
    tasks_per_replica: int = Field(default=16, ge=1)
    """keda: queued tasks per worker replica (the Redis list length target)."""

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


class ComponentResources(_Model):
    """Requests and limits of the Airflow control-plane containers."""

    api_server: Resources = _resources("250m", "1Gi", "1", "2Gi")
    scheduler: Resources = _resources("500m", "1Gi", "1", "2Gi")
    dag_processor: Resources = _resources("250m", "512Mi", "1", "1Gi")
    triggerer: Resources = _resources("250m", "512Mi", "1", "1Gi")
    migration: Resources = _resources("250m", "512Mi", "1", "1Gi")


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
    """Namespace of the KEDA operator, admitted to Redis when a pool autoscales with KEDA."""

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
