"""The smoke-test Job that must complete against the candidate colour before the active Service moves."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.airflow_flavor import API_PORT
from infra.config import Color
from infra.config import SmokeTest as SmokeTestConfig
from infra.labels import standard_labels
from infra.security import CURL_UID, container_security_context, pod_security_context, resource_requirements

# Polls the health endpoint until the metadata database reports healthy; the scheduler may still be
# starting (it starts only after the flip), so its status is not required here.
SMOKE_SCRIPT = """\
url="http://${TARGET_HOST}:${TARGET_PORT}${HEALTH_PATH}"
attempt=1
while [ "$attempt" -le "$ATTEMPTS" ]; do
  body="$(curl -fsS --max-time 5 "$url")" && \\
    printf '%s' "$body" | grep -Eq '"metadatabase":[[:space:]]*\\{[[:space:]]*"status":[[:space:]]*"healthy"' && {
    echo "smoke test passed: $url (candidate $CANDIDATE_COLOR)"; exit 0; }
  attempt=$((attempt + 1))
  sleep 5
done
echo "smoke test failed: $url did not report a healthy metadatabase (candidate $CANDIDATE_COLOR)" >&2
exit 1
"""


class SmokeTest(pulumi.ComponentResource):
    """A Job hitting ``target_service``'s health endpoint; pulumi-kubernetes waits until it is Complete.

    The pod template carries the candidate colour, its image and the target, so any of them changing
    replaces the Job and the test runs again.
    """

    job: k8s.batch.v1.Job

    def __init__(
        self,
        name: str,
        config: SmokeTestConfig,
        candidate: Color,
        candidate_image: pulumi.Input[str],
        target_service: str,
        health_path: str,
        namespace: str,
        instance: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pipeline-platform:index:SmokeTest", name, None, opts)
        labels = standard_labels("airflow", "smoke-test", instance, candidate)
        attempts = max(1, config.timeout_seconds // 10)
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata={"name": f"{instance}-smoke-test", "namespace": namespace, "labels": labels},
            spec={
                "backoffLimit": 1,
                "activeDeadlineSeconds": config.timeout_seconds,
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "restartPolicy": "Never",
                        "securityContext": pod_security_context(CURL_UID, CURL_UID),
                        "automountServiceAccountToken": False,
                        "containers": [
                            {
                                "name": "smoke-test",
                                "image": config.image,
                                "command": ["sh", "-c", SMOKE_SCRIPT],
                                "env": [
                                    {"name": "TARGET_HOST", "value": f"{target_service}.{namespace}.svc.cluster.local"},
                                    {"name": "TARGET_PORT", "value": str(API_PORT)},
                                    {"name": "HEALTH_PATH", "value": health_path},
                                    {"name": "ATTEMPTS", "value": str(attempts)},
                                    {"name": "CANDIDATE_COLOR", "value": candidate.value},
                                    {"name": "CANDIDATE_IMAGE", "value": candidate_image},
                                ],
                                "resources": resource_requirements(config.resources),
                                "securityContext": container_security_context(read_only_root=True),
                            }
                        ],
                    },
                },
            },
            # A Job's pod template is immutable and its name fixed: a change means delete, then create.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.register_outputs({"jobName": self.job.metadata.name})
