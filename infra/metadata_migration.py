"""The Job that migrates the Airflow metadata database to a release's Airflow version."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.config import Color, Migration, Resources
from infra.labels import standard_labels
from infra.security import AIRFLOW_UID, container_security_context, pod_security_context, resource_requirements
from infra.timeouts import wait_up_to


class MetadataMigration(pulumi.ComponentResource):
    """``airflow db migrate`` as a Job; pulumi-kubernetes waits for it to complete before dependents start.

    The Job's pod template carries the image, so a new image replaces the Job and the migration runs again.
    """

    job: k8s.batch.v1.Job

    def __init__(
        self,
        name: str,
        color: Color,
        namespace: str,
        instance: str,
        image: pulumi.Input[str],
        airflow_version: str,
        env: list[k8s.core.v1.EnvVarArgsDict],
        env_secret_name: str,
        resources: Resources,
        settings: Migration,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pipeline-platform:index:MetadataMigration", name, None, opts)
        labels = standard_labels("airflow", "migrate", instance, color, version=airflow_version)
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata={"name": f"{instance}-{color.value}-migrate", "namespace": namespace, "labels": labels},
            spec={
                "backoffLimit": 3,
                "activeDeadlineSeconds": settings.deadline_seconds,
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "securityContext": pod_security_context(AIRFLOW_UID),
                        "automountServiceAccountToken": False,
                        "containers": [
                            {
                                "name": "migrate",
                                "image": image,
                                "args": ["airflow", "db", "migrate"],
                                "env": env,
                                "envFrom": [{"secretRef": {"name": env_secret_name}}],
                                "resources": resource_requirements(resources),
                                "securityContext": container_security_context(read_only_root=False),
                            }
                        ],
                    },
                },
            },
            # A Job's pod template is immutable and its name fixed: a change means delete, then create.
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=True, custom_timeouts=wait_up_to(settings.pulumi_timeout)
            ),
        )
        self.register_outputs({"jobName": self.job.metadata.name})
