"""The Job that migrates the Airflow metadata database to a release's Airflow version."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.color_context import ColorContext
from infra.config import Component
from infra.labels import standard_labels
from infra.pgbouncer import direct_database_env
from infra.pod_settings import env_from, extra_env, pod_metadata, pod_spec
from infra.security import AIRFLOW_UID, container_security_context, pod_security_context, resource_requirements
from infra.timeouts import wait_up_to


class MetadataMigration(pulumi.ComponentResource):
    """``airflow db migrate`` as a Job; pulumi-kubernetes waits for it to complete before dependents start.

    The Job's pod template carries the image, so a new image replaces the Job and the migration runs again.
    With the FAB auth manager, the same command creates FAB's user and role tables.
    """

    job: k8s.batch.v1.Job

    def __init__(self, name: str, context: ColorContext, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pipeline-platform:index:MetadataMigration", name, None, opts)
        self.job = self._job(name, context)
        self.register_outputs({"jobName": self.job.metadata.name})

    def _job(self, name: str, c: ColorContext) -> k8s.batch.v1.Job:
        config = c.config
        settings = config.components.migration
        labels = standard_labels("airflow", "migrate", c.instance, c.color, version=c.airflow_version)
        container: k8s.core.v1.ContainerArgsDict = {
            "name": "migrate",
            "image": c.image,
            "args": ["airflow", "db", "migrate"],
            "env": [*c.env, *direct_database_env(c.config, c.env_secret_name), *extra_env(settings)],
            "envFrom": env_from(settings, c.env_secret_name),
            "resources": resource_requirements(config.airflow_resources.migration),
            "securityContext": container_security_context(read_only_root=False),
        }
        return k8s.batch.v1.Job(
            f"{name}-job",
            metadata={"name": f"{c.prefix}-migrate", "namespace": c.namespace, "labels": labels},
            spec={
                "backoffLimit": 3,
                "activeDeadlineSeconds": config.migration.deadline_seconds,
                "template": {
                    "metadata": pod_metadata(labels, settings),
                    "spec": pod_spec(
                        config,
                        Component.MIGRATION,
                        c.instance,
                        [container],
                        restartPolicy="OnFailure",
                        securityContext=pod_security_context(AIRFLOW_UID),
                    ),
                },
            },
            # A Job's pod template is immutable and its name fixed: a change means delete, then create.
            opts=pulumi.ResourceOptions(
                parent=self, delete_before_replace=True, custom_timeouts=wait_up_to(config.migration.pulumi_timeout)
            ),
        )
