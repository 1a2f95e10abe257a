"""The scheduler, DAG processor and triggerer of one colour: the processes that must run in one colour only.

Two schedulers of different Airflow versions on one metadata database fight over it, and an idle DAG
processor or triggerer would write its own DAG code's view into the shared database. So each runs with one
replica in the active colour and zero in the idle one; the program orders the active colour's start after
the idle colour's stop (see :mod:`infra.platform_stack`).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.airflow_flavor import AirflowFlavor, job_check_command
from infra.config import Color, Resources, StackConfig
from infra.labels import selector_labels, standard_labels
from infra.security import AIRFLOW_UID, container_security_context, pod_security_context, resource_requirements


class AirflowSchedulers(pulumi.ComponentResource):
    """Scheduler, triggerer and (Airflow 3) DAG processor of a colour, running only when ``running``."""

    deployments: dict[str, k8s.apps.v1.Deployment]
    replicas: int

    def __init__(
        self,
        name: str,
        config: StackConfig,
        color: Color,
        image: pulumi.Input[str],
        env: list[k8s.core.v1.EnvVarArgsDict],
        env_secret_name: str,
        instance: str,
        running: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pipeline-platform:index:AirflowSchedulers", name, None, opts)
        release = config.releases[color]
        flavor = AirflowFlavor(release.airflow_major)
        resources = config.airflow_resources
        self.replicas = 1 if running else 0
        processes: list[tuple[str, list[str], str, Resources]] = [
            ("scheduler", ["airflow", "scheduler"], "SchedulerJob", resources.scheduler),
            ("triggerer", ["airflow", "triggerer"], "TriggererJob", resources.triggerer),
        ]
        if flavor.standalone_dag_processor:
            processes.append(
                ("dag-processor", ["airflow", "dag-processor"], "DagProcessorJob", resources.dag_processor)
            )

        self.deployments = {}
        for component, args, job_type, amounts in processes:
            labels = standard_labels("airflow", component, instance, color, version=release.airflow_version)
            self.deployments[component] = k8s.apps.v1.Deployment(
                f"{name}-{component}",
                metadata={
                    "name": f"{instance}-{color.value}-{component}",
                    "namespace": config.namespace,
                    "labels": labels,
                },
                spec={
                    "replicas": self.replicas,
                    # Never two of these at once, even for a moment during a rollout.
                    "strategy": {"type": "Recreate"},
                    "selector": {"matchLabels": selector_labels("airflow", component, color)},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "securityContext": pod_security_context(AIRFLOW_UID),
                            "automountServiceAccountToken": False,
                            "terminationGracePeriodSeconds": 60,
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
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"replicas": self.replicas})
