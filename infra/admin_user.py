"""The admin user of the FAB auth manager: a Secret with its credentials and the Job that applies them.

The Job runs ``infra/admin_user_script.py`` in the active colour's image after its migration (which created
FAB's tables). Its pod template carries the colour, the image and a keyed hash of the password, so a new
image, a flip or a rotated ``adminPassword`` re-runs it; it is idempotent (create, or reset the password).
The smoke test logs in with the same Secret.
"""

from __future__ import annotations

import hashlib
import hmac

import pulumi
import pulumi_kubernetes as k8s

from infra.admin_user_script import source
from infra.color_context import ColorContext
from infra.config import Component
from infra.labels import standard_labels
from infra.pgbouncer import direct_database_env
from infra.pod_settings import env_from, extra_env, pod_metadata, pod_spec
from infra.security import AIRFLOW_UID, container_security_context, pod_security_context, resource_requirements
from infra.timeouts import wait_up_to

PASSWORD_HASH_ANNOTATION = "pipeline-platform.io/admin-password-hmac"
"""HMAC-SHA256 of the admin password keyed by the API secret key: changes with the password, reveals nothing."""
JOB_DEADLINE_SECONDS = 600


def password_fingerprint(api_secret_key: str, password: str) -> str:
    """What the Job's annotation holds: not reversible, not guessable without the API secret key."""
    return hmac.new(api_secret_key.encode(), password.encode(), hashlib.sha256).hexdigest()


class AdminUser(pulumi.ComponentResource):
    """The ``<instance>-admin`` Secret and the ``<instance>-admin-user`` Job."""

    secret_name: str
    job: k8s.batch.v1.Job

    def __init__(
        self,
        name: str,
        context: ColorContext,
        password: pulumi.Output[str],
        api_secret_key: pulumi.Output[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pipeline-platform:index:AdminUser", name, None, opts)
        self._name, self._context = name, context
        self.secret_name = f"{context.instance}-admin"
        secret = self._secret(password)
        fingerprint = pulumi.Output.unsecret(
            pulumi.Output.all(api_secret_key, password).apply(lambda v: password_fingerprint(v[0], v[1]))
        )
        self.job = self._job(fingerprint, secret)
        self.register_outputs({"secretName": self.secret_name})

    def _labels(self, component: str) -> dict[str, str]:
        c = self._context
        return standard_labels("airflow", component, c.instance, c.color, version=c.airflow_version)

    def _secret(self, password: pulumi.Output[str]) -> k8s.core.v1.Secret:
        admin = self._context.config.auth.admin
        return k8s.core.v1.Secret(
            f"{self._name}-secret",
            metadata={"name": self.secret_name, "namespace": self._context.namespace, "labels": self._labels("admin")},
            type="Opaque",
            string_data={"username": admin.username, "password": password},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _job(self, fingerprint: pulumi.Output[str], secret: k8s.core.v1.Secret) -> k8s.batch.v1.Job:
        c = self._context
        config, admin = c.config, c.config.auth.admin
        settings = config.components.migration
        labels = self._labels("admin-user")
        container: k8s.core.v1.ContainerArgsDict = {
            "name": "admin-user",
            "image": c.image,
            "command": ["python", "-c", source()],
            "env": [
                *c.env,
                *direct_database_env(c.config, c.env_secret_name),
                {"name": "ADMIN_USERNAME", "value": admin.username},
                {"name": "ADMIN_EMAIL", "value": admin.email},
                {"name": "ADMIN_FIRST_NAME", "value": admin.first_name},
                {"name": "ADMIN_LAST_NAME", "value": admin.last_name},
                {
                    "name": "ADMIN_PASSWORD",
                    "valueFrom": {"secretKeyRef": {"name": self.secret_name, "key": "password"}},
                },
                *extra_env(settings),
            ],
            "envFrom": env_from(settings, c.env_secret_name),
            "resources": resource_requirements(config.airflow_resources.migration),
            "securityContext": container_security_context(read_only_root=False),
        }
        return k8s.batch.v1.Job(
            f"{self._name}-job",
            metadata={"name": f"{c.instance}-admin-user", "namespace": c.namespace, "labels": labels},
            spec={
                "backoffLimit": 2,
                "activeDeadlineSeconds": JOB_DEADLINE_SECONDS,
                "template": {
                    "metadata": pod_metadata(labels, settings, {PASSWORD_HASH_ANNOTATION: fingerprint}),  # type: ignore[dict-item]
                    "spec": pod_spec(
                        config,
                        Component.MIGRATION,
                        c.instance,
                        [container],
                        restartPolicy="Never",
                        securityContext=pod_security_context(AIRFLOW_UID),
                    ),
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[secret],
                delete_before_replace=True,
                custom_timeouts=wait_up_to(JOB_DEADLINE_SECONDS + 120),
            ),
        )
