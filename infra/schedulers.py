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

import pulumi
import pulumi_kubernetes as k8s

from infra.airflow_flavor import AirflowFlavor, job_check_command
from infra.config import Color, Resources, StackConfig
from infra.labels import selector_labels, standard_labels
from infra.security import AIRFLOW_UID, container_security_context, pod_security_context, resource_requirements
from infra.timeouts import wait_up_to

GRACE_PERIOD_SECONDS = 60
"""Time a stopping scheduler has to finish its loop; Recreate waits for it to exit before the next starts."""


class AirflowSchedulers(pulumi.ComponentResource):
    """Scheduler, triggerer and DAG processor, running the ``color`` release (the active one)."""

    deployments: dict[str, k8s.apps.v1.Deployment]
    replicas: dict[str, int]

    def __init__(
        self,
        name: str,
        config: StackConfig,
        color: Color,
        image: pulumi.Input[str],
        env: list[k8s.core.v1.EnvVarArgsDict],
        env_secret_name: str,
        instance: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pipeline-platform:index:AirflowSchedulers", name, None, opts)
        release = config.releases[color]
        flavor = AirflowFlavor(release.airflow_major)
        resources = config.airflow_resources
        # Airflow 2 parses DAGs inside the scheduler: its DAG processor Deployment stays at zero.
        processes: list[tuple[str, list[str], str, Resources, int]] = [
            ("scheduler", ["airflow", "scheduler"], "SchedulerJob", resources.scheduler, 1),
            ("triggerer", ["airflow", "triggerer"], "TriggererJob", resources.triggerer, 1),
            (
                "dag-processor",
                ["airflow", "dag-processor"],
                "DagProcessorJob",
                resources.dag_processor,
                1 if flavor.standalone_dag_processor else 0,
            ),
        ]
        self.deployments = {}
        self.replicas = {}
        for component, args, job_type, amounts, replicas in processes:
            self.replicas[component] = replicas
            self.deployments[component] = self._deployment(
                name, config, color, image, env, env_secret_name, instance, component, args, job_type, amounts, replicas
            )
        self.register_outputs({"replicas": self.replicas, "color": color.value})

    def _deployment(
        self,
        name: str,
        config: StackConfig,
        color: Color,
        image: pulumi.Input[str],
        env: list[k8s.core.v1.EnvVarArgsDict],
        env_secret_name: str,
        instance: str,
        component: str,
        args: list[str],
        job_type: str,
        amounts: Resources,
        replicas: int,
    ) -> k8s.apps.v1.Deployment:
        release = config.releases[color]
        labels = standard_labels("airflow", component, instance, color, version=release.airflow_version)
        return k8s.apps.v1.Deployment(
            f"{name}-{component}",
            metadata={"name": f"{instance}-{component}", "namespace": config.namespace, "labels": labels},
            spec={
                "replicas": replicas,
                # The old pod is gone before the new one is created: never two, not even during a flip.
                "strategy": {"type": "Recreate"},
                "progressDeadlineSeconds": config.rollout.progress_deadline_seconds,
                # No colour here: the selector is immutable, and the same Deployment serves both colours.
                "selector": {"matchLabels": selector_labels("airflow", component)},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "securityContext": pod_security_context(AIRFLOW_UID),
                        "automountServiceAccountToken": False,
                        "terminationGracePeriodSeconds": GRACE_PERIOD_SECONDS,
                        "containers": [
                            {
                                "name": component,
                                "image": image,
                                "args": args,
                                "env": env,
                                "envFrom": [{"secretRef": {"name": env_secret_name}}],
                                "livenessProbe": {
                                    "exec": {"command": job_check_command(job_type)},
                                    "initialDelaySeconds": 60,
                                    "periodSeconds": 60,
                                    "timeoutSeconds": 30,
                                    "failureThreshold": 5,
                                },
                                "resources": resource_requirements(amounts),
                                "securityContext": container_security_context(read_only_root=False),
                            }
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                # Should the object itself ever need replacing, delete the old one first: never two.
                delete_before_replace=True,
                custom_timeouts=wait_up_to(config.rollout.pulumi_timeout),
            ),
        )
