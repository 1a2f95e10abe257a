"""After the move: the promoted colour checked through the active Service, then the old colour's grace time.

Like Argo Rollouts' post-promotion analysis and ``scaleDownDelaySeconds``:

- :class:`PostPromotionCheck`: once the active Service selects the new colour and its scheduler, triggerer
  and DAG processor have replaced the old colour's, a Job goes through the active Service and waits until the
  health endpoint reports the metadata database and every one of those processes healthy. A failure fails
  the update before anything of the old colour is scaled down, so rolling back is a selector move.
- :class:`ScaleDownDelay`: with ``afterFlip: scaleDown``, a Job that waits ``scaleDownDelaySeconds`` after the
  check; the old colour's scale-down depends on it, so the old colour stays warm that long. The wait is
  spent inside ``pulumi up``: for hours of warm standby use ``keepWarm`` and switch to ``scaleDown`` later.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.airflow_flavor import AirflowFlavor
from infra.config import PULUMI_TIMEOUT_MARGIN_SECONDS, Color, ComputeAmounts, Resources, StackConfig
from infra.labels import standard_labels
from infra.pod_settings import extra_env
from infra.security import container_security_context, resource_requirements
from infra.smoke_test import one_shot_job, probe_job

_SMALL = Resources(
    requests=ComputeAmounts(cpu="50m", memory="128Mi"), limits=ComputeAmounts(cpu="250m", memory="512Mi")
)


def promoted_components(airflow_major: int) -> list[str]:
    """What the health endpoint must report healthy once a colour is promoted."""
    components = ["metadatabase", "scheduler", "triggerer"]
    if AirflowFlavor(airflow_major).standalone_dag_processor:
        components.append("dag_processor")
    return components


class PostPromotionCheck(pulumi.ComponentResource):
    """The Job checking the promoted colour through the active Service."""

    job: k8s.batch.v1.Job

    def __init__(
        self,
        name: str,
        config: StackConfig,
        active: Color,
        image: pulumi.Input[str],
        airflow_major: int,
        active_service: str,
        instance: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pipeline-platform:index:PostPromotionCheck", name, None, opts)
        env: list[k8s.core.v1.EnvVarArgsDict] = [
            {"name": "MODE", "value": "health"},
            {"name": "HEALTH_PATH", "value": AirflowFlavor(airflow_major).health_path},
            {"name": "HEALTHY", "value": ",".join(promoted_components(airflow_major))},
        ]
        self.job = probe_job(
            config,
            f"{name}-job",
            self,
            f"{instance}-post-promotion-check",
            "post-promotion-check",
            active,
            image,
            active_service,
            config.namespace,
            instance,
            env,
            config.post_promotion.timeout_seconds,
            config.post_promotion.pulumi_timeout,
            _SMALL,
        )
        self.register_outputs({"jobName": self.job.metadata.name})


class ScaleDownDelay(pulumi.ComponentResource):
    """A Job that waits ``seconds``; re-created for each promotion (its template names both colours)."""

    job: k8s.batch.v1.Job

    def __init__(
        self,
        name: str,
        config: StackConfig,
        promoted: Color,
        image: pulumi.Input[str],
        instance: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pipeline-platform:index:ScaleDownDelay", name, None, opts)
        labels = standard_labels("airflow", "scale-down-delay", instance, promoted)
        seconds, namespace = config.scale_down_delay_seconds, config.namespace
        deadline = seconds + 60
        container: k8s.core.v1.ContainerArgsDict = {
            "name": "wait",
            # The promoted colour's image is on the nodes already; any image with sleep works.
            "image": image,
            "command": ["sleep", str(seconds)],
            "env": [
                {"name": "PROMOTED_COLOR", "value": promoted.value},
                {"name": "SCALED_DOWN_COLOR", "value": promoted.other.value},
                *extra_env(config.components.probes),
            ],
            "resources": resource_requirements(_SMALL),
            "securityContext": container_security_context(read_only_root=True),
        }
        self.job = one_shot_job(
            config,
            f"{name}-job",
            self,
            f"{instance}-scale-down-delay",
            namespace,
            instance,
            labels,
            container,
            deadline,
            deadline + PULUMI_TIMEOUT_MARGIN_SECONDS,
        )
        self.register_outputs({"jobName": self.job.metadata.name})
