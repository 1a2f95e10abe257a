"""The smoke-test Job: the candidate colour must run its canary DAG before the active Service moves.

Through the preview Service during a flip (the candidate's own Service otherwise), a Job in the candidate's
image waits for the API server's health, then triggers the candidate's canary DAG over the REST API and
waits for the run to succeed (:mod:`infra.smoke_probe`, :mod:`infra.canary`). The router depends on the Job,
and pulumi-kubernetes awaits it until Complete: a failed or timed-out run fails the update before traffic
moves, and the Job's log holds the task states and log tails. An Airflow 2 candidate gets the health check
only (the canary uses Airflow 3's REST API).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.airflow_flavor import API_PORT, AirflowFlavor
from infra.canary import canary_dag_id
from infra.config import AuthManager, Color, Component, Resources, StackConfig
from infra.labels import standard_labels
from infra.pod_settings import env_from, extra_env, pod_metadata, pod_spec
from infra.security import AIRFLOW_UID, container_security_context, pod_security_context, resource_requirements
from infra.smoke_probe import source
from infra.timeouts import wait_up_to


def probe_job(
    config: StackConfig,
    resource_name: str,
    parent: pulumi.Resource,
    object_name: str,
    component: str,
    color: Color,
    image: pulumi.Input[str],
    target_service: str,
    namespace: str,
    instance: str,
    env: list[k8s.core.v1.EnvVarArgsDict],
    deadline_seconds: int,
    pulumi_timeout_seconds: int,
    resources: Resources,
) -> k8s.batch.v1.Job:
    """A Job running :mod:`infra.smoke_probe` in ``image`` against ``target_service``.

    The pod template carries the colour, its image and the target, so a change of any of them replaces the
    Job (delete, then create: its name is fixed) and the probe runs again.
    """
    labels = standard_labels("airflow", component, instance, color)
    settings = config.components.probes
    container: k8s.core.v1.ContainerArgsDict = {
        "name": component,
        "image": image,
        "command": ["python", "-c", source()],
        "env": [
            {
                "name": "BASE_URL",
                "value": f"http://{target_service}.{namespace}.svc.cluster.local:{API_PORT}",
            },
            {"name": "TIMEOUT_SECONDS", "value": str(deadline_seconds)},
            {"name": "CANDIDATE_COLOR", "value": color.value},
            {"name": "CANDIDATE_IMAGE", "value": image},
            *env,
            *extra_env(settings),
        ],
        "resources": resource_requirements(resources),
        "securityContext": container_security_context(read_only_root=False),
    }
    return one_shot_job(
        config,
        resource_name,
        parent,
        object_name,
        namespace,
        instance,
        labels,
        container,
        deadline_seconds,
        pulumi_timeout_seconds,
    )


def one_shot_job(
    config: StackConfig,
    resource_name: str,
    parent: pulumi.Resource,
    object_name: str,
    namespace: str,
    instance: str,
    labels: dict[str, str],
    container: k8s.core.v1.ContainerArgsDict,
    deadline_seconds: int,
    pulumi_timeout_seconds: int,
) -> k8s.batch.v1.Job:
    """A Job of one ``container`` in the probes' pod settings, run once (no retry, ``deadline_seconds`` at most)
    and re-created when its template changes (delete, then create: its name is fixed); Pulumi waits up to
    ``pulumi_timeout_seconds`` for it to complete. The probes' ``envFrom`` Secrets are added: only what is
    configured, never the colour's connections Secret."""
    settings = config.components.probes
    if settings.env_from_secrets:
        container = {**container, "envFrom": env_from(settings)}
    return k8s.batch.v1.Job(
        resource_name,
        metadata={"name": object_name, "namespace": namespace, "labels": labels},
        spec={
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_seconds,
            "template": {
                "metadata": pod_metadata(labels, settings),
                "spec": pod_spec(
                    config,
                    Component.PROBES,
                    instance,
                    [container],
                    restartPolicy="Never",
                    securityContext=pod_security_context(AIRFLOW_UID),
                ),
            },
        },
        opts=pulumi.ResourceOptions(
            parent=parent, delete_before_replace=True, custom_timeouts=wait_up_to(pulumi_timeout_seconds)
        ),
    )


class SmokeTest(pulumi.ComponentResource):
    """The Job proving ``candidate`` through ``target_service``; pulumi-kubernetes waits until it is Complete."""

    job: k8s.batch.v1.Job

    def __init__(
        self,
        name: str,
        config: StackConfig,
        candidate: Color,
        candidate_image: pulumi.Input[str],
        airflow_major: int,
        candidate_secret_name: str,
        target_service: str,
        instance: str,
        admin_secret_name: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``admin_secret_name``: with the FAB auth manager, the Secret whose credentials get an API token."""
        super().__init__("pipeline-platform:index:SmokeTest", name, None, opts)
        flavor = AirflowFlavor(airflow_major)
        env: list[k8s.core.v1.EnvVarArgsDict] = [
            {"name": "HEALTH_PATH", "value": flavor.health_path},
            {"name": "HEALTHY", "value": "metadatabase"},
        ]
        if flavor.major >= 3:
            env += [
                {"name": "MODE", "value": "canary"},
                {"name": "DAG_ID", "value": canary_dag_id(candidate)},
                *self._token_env(config, candidate_secret_name, admin_secret_name, flavor.secret_key_variables),
            ]
        else:
            env.append({"name": "MODE", "value": "health"})
        self.job = probe_job(
            config,
            f"{name}-job",
            self,
            f"{instance}-smoke-test",
            "smoke-test",
            candidate,
            candidate_image,
            target_service,
            config.namespace,
            instance,
            env,
            config.smoke_test.timeout_seconds,
            config.smoke_test.pulumi_timeout,
            config.smoke_test.resources,
        )
        self.register_outputs({"jobName": self.job.metadata.name})

    @staticmethod
    def _token_env(
        config: StackConfig, candidate_secret: str, admin_secret: str | None, key_variables: list[str]
    ) -> list[k8s.core.v1.EnvVarArgsDict]:
        """Only what getting an API token needs, never the colour's whole connections Secret.

        FAB: the admin user's credentials, exchanged at ``/auth/token``. Simple (development): the API signing
        keys, to sign a token as the simple auth manager does.
        """
        if config.auth.manager is AuthManager.FAB and admin_secret is not None:
            return [
                {"name": "ADMIN_USERNAME", "valueFrom": {"secretKeyRef": {"name": admin_secret, "key": "username"}}},
                {"name": "ADMIN_PASSWORD", "valueFrom": {"secretKeyRef": {"name": admin_secret, "key": "password"}}},
            ]
        return [
            {"name": variable, "valueFrom": {"secretKeyRef": {"name": candidate_secret, "key": variable}}}
            for variable in key_variables
        ]
