"""The scheduler, DAG processor and triggerer: one Deployment each, whose pod template follows the active colour.

Two schedulers of different Airflow versions on one metadata database fight over it, and an idle DAG
processor or triggerer would write its own DAG code's view into the shared database. So there is exactly one
Deployment per process, not one per colour, each with one replica and the ``Recreate`` strategy; a flip
changes its pod template (the active colour's image, environment and connections Secret, so the active
colour's broker database), never its selector.

Why this never runs two at once, without relying on timing: with ``Recreate`` the Deployment controller
scales the old ReplicaSet to zero and creates the new ReplicaSet only once every old pod has terminated
(the Kubernetes documentation: "Successful removal is awaited before any Pod of the new revision is
created"). There is only one Deployment, so no second one can start beside it. pulumi-kubernetes reports
the update done only when the new pod is up, so anything that depends on these Deployments (the old
colour's scale-down) happens after the old scheduler has exited and stopped queuing tasks.

Not covered by ``Recreate``: a pod deleted by hand or evicted is replaced by its ReplicaSet at once, so for
up to its grace period two pods of the *same* release may overlap, which Airflow tolerates (it supports
several schedulers of one version).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.airflow_flavor import job_check_command
from infra.color_context import ColorContext
from infra.config import Component, Resources
from infra.labels import schemas_annotation, selector_labels, standard_labels
from infra.pod_settings import env_from, extra_env, pod_metadata, pod_spec
from infra.security import AIRFLOW_UID, container_security_context, pod_security_context, resource_requirements
from infra.timeouts import wait_up_to

GRACE_PERIOD_SECONDS = 60
"""Time a stopping scheduler has to finish its loop; Recreate waits for it to exit before the next starts."""


@dataclass(frozen=True)
class SchedulingProcess:
    """One of the three processes: its component, command, liveness job type, resources and replicas."""

    component: Component
    args: list[str]
    job_type: str
    resources: Resources
    replicas: int


class AirflowSchedulers(pulumi.ComponentResource):
    """Scheduler, triggerer and DAG processor, running the ``context`` colour's release (the active one)."""

    deployments: dict[str, k8s.apps.v1.Deployment]
    replicas: dict[str, int]

    def __init__(
        self,
        name: str,
        context: ColorContext,
        flip_guard: pulumi.ResourceHook,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pipeline-platform:index:AirflowSchedulers", name, None, opts)
        self._name, self._context, self._flip_guard = name, context, flip_guard
        resources = context.config.airflow_resources
        # Airflow 2 parses DAGs inside the scheduler: its DAG processor Deployment stays at zero.
        standalone = 1 if context.flavor.standalone_dag_processor else 0
        processes = [
            SchedulingProcess(Component.SCHEDULER, ["airflow", "scheduler"], "SchedulerJob", resources.scheduler, 1),
            SchedulingProcess(Component.TRIGGERER, ["airflow", "triggerer"], "TriggererJob", resources.triggerer, 1),
            SchedulingProcess(
                Component.DAG_PROCESSOR,
                ["airflow", "dag-processor"],
                "DagProcessorJob",
                resources.dag_processor,
                standalone,
            ),
        ]
        self.deployments, self.replicas = {}, {}
        for process in processes:
            self.replicas[process.component.label] = process.replicas
            self.deployments[process.component.label] = self._deployment(process)
        self.register_outputs({"replicas": self.replicas, "color": context.color.value})

    def _deployment(self, process: SchedulingProcess) -> k8s.apps.v1.Deployment:
        c = self._context
        component = process.component.label
        settings = c.config.components.of(process.component)
        labels = standard_labels("airflow", component, c.instance, c.color, version=c.airflow_version)
        container: k8s.core.v1.ContainerArgsDict = {
            "name": component,
            "image": c.image,
            "args": process.args,
            "env": [*c.env, *extra_env(settings)],
            "envFrom": env_from(settings, c.env_secret_name),
            "livenessProbe": {
                "exec": {"command": job_check_command(process.job_type)},
                "initialDelaySeconds": 60,
                "periodSeconds": 60,
                "timeoutSeconds": 30,
                "failureThreshold": 5,
            },
            "resources": resource_requirements(process.resources),
            "securityContext": container_security_context(read_only_root=False),
        }
        return k8s.apps.v1.Deployment(
            f"{self._name}-{component}",
            metadata={
                "name": f"{c.instance}-{component}",
                "namespace": c.namespace,
                "labels": labels,
                # The flip guard's record of the schema versions this Deployment runs (old inputs: the live ones).
                "annotations": schemas_annotation(c.color, c.config.releases[c.color].schemas),
            },
            spec={
                "replicas": process.replicas,
                # The old pod is gone before the new one is created: never two, not even during a flip.
                "strategy": {"type": "Recreate"},
                "progressDeadlineSeconds": c.rollout.progress_deadline_seconds,
                # No colour here: the selector is immutable, and the same Deployment serves both colours.
                "selector": {"matchLabels": selector_labels("airflow", component)},
                "template": {
                    "metadata": pod_metadata(labels, settings),
                    "spec": pod_spec(
                        c.config,
                        process.component,
                        c.instance,
                        [container],
                        securityContext=pod_security_context(AIRFLOW_UID),
                        terminationGracePeriodSeconds=GRACE_PERIOD_SECONDS,
                    ),
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                # Should the object itself ever need replacing, delete the old one first: never two.
                delete_before_replace=True,
                custom_timeouts=wait_up_to(c.rollout.pulumi_timeout),
                # A colour change here is a flip: the engine re-checks it from the real old and new inputs, so
                # the schedulers never move to a colour that traffic may not move to.
                hooks=pulumi.ResourceHookBinding(before_update=[self._flip_guard]),
            ),
        )
