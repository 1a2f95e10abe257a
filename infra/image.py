"""The Airflow image of one colour: built from the Dockerfile (DAGs baked in) and pushed, or taken as given."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_docker as docker

from infra.config import Release


class AirflowImage(pulumi.ComponentResource):
    """Resolves a release's image reference.

    With ``build`` the image is built by pulumi-docker from the project's Dockerfile (with ``dags/`` and the
    pinned DAG requirements) and pushed; pods then use the pushed *digest*, so a moved tag can never change a
    running release. With ``image`` the configured reference is used as written.
    """

    reference: pulumi.Output[str]
    """What pods run: ``repository@sha256:...`` for builds, the configured reference otherwise."""

    def __init__(
        self,
        name: str,
        release: Release,
        project_root: Path,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pipeline-platform:index:AirflowImage", name, None, opts)
        if release.build is not None:
            build = release.build
            image = docker.Image(
                f"{name}-build",
                image_name=build.image_name,
                build=docker.DockerBuildArgs(
                    context=str(project_root / build.context),
                    dockerfile=str(project_root / build.context / build.dockerfile),
                    platform=build.platform,
                    args={
                        "AIRFLOW_VERSION": release.airflow_version,
                        "PYTHON_VERSION": build.python_version,
                    },
                ),
                skip_push=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.reference = image.repo_digest
        else:
            assert release.image is not None  # guaranteed by Release's validator
            self.reference = pulumi.Output.from_input(release.image.reference)
        self.register_outputs({"reference": self.reference})
