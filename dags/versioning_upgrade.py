"""Upgrade a folder of data files to a new schema version, one task per file, across the Celery worker pools.

Trigger it with the folder (or object-store prefix), subject and versions as parameters::

    airflow dags trigger versioning_upgrade --conf '{"input": "s3://lake/users/2024",
        "output": "s3://lake/users-v3/2024", "subject": "users", "from_version": 1, "to_version": 3}'

``list_files`` lists the Parquet and Avro files under ``input``; ``upgrade_file`` is mapped over that list
(dynamic task mapping), so each file is its own task instance: the Celery workers of the pool consuming the
queue pick them up in parallel, and throughput grows with the pool's replicas. Workers on different pods share
no disk, so on a cluster ``input`` and ``output`` are object-store URLs (``s3://``, ``gs://``,
``abfs://container@account.dfs.core.windows.net/...``); local folders work where every worker sees them (one
machine, or a shared volume). Each output appears atomically at the same relative path under ``output`` (see
:mod:`versioning.datafiles.storage`), so retries are safe. The workers' credentials for the store come from
their pool's Kubernetes service account (docs/versioning.md).

The queue is fixed when the DAG is parsed (Airflow routes a task by its operator's ``queue``, which is not
templated): it comes from the ``VERSIONING_UPGRADE_QUEUE`` environment variable of the scheduler, else
``versioning``. Point it at the queue a worker pool consumes (its ``queues`` in the stack configuration).

The versioning library is imported inside the tasks, so parsing this file needs only Airflow.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import Param, dag, task

QUEUE = os.environ.get("VERSIONING_UPGRADE_QUEUE", "versioning")
"""The Celery queue the per-file upgrade tasks are sent to."""

REGISTRY = os.environ.get("VERSIONING_REGISTRY", "/opt/airflow/schemas")
"""The schema registry folder baked into the image beside the DAGs."""


@dag(
    dag_id="versioning_upgrade",
    schedule=None,
    catchup=False,
    tags=["versioning"],
    doc_md=__doc__,
    params={
        "input": Param(
            type="string", description="Folder or s3:// gs:// abfs:// prefix of the files (searched recursively)."
        ),
        "output": Param(
            type="string", description="Folder or object-store prefix for the upgraded files (same relative paths)."
        ),
        "pattern": Param("*", type="string", description="Glob of file names to take, e.g. '*.parquet'."),
        "subject": Param(type="string", description="The schema subject of the files, e.g. 'users'."),
        "from_version": Param(type="integer", minimum=1, description="The version the files are written with."),
        "to_version": Param(type="integer", minimum=1, description="The version to upgrade them to."),
        "batch_size": Param(65_536, type="integer", minimum=1, description="Rows per batch (bounds memory)."),
        "registry": Param(REGISTRY, type="string", description="The schema registry folder."),
    },
)
def versioning_upgrade() -> None:
    """One task lists the files; one mapped task per file upgrades it."""

    @task
    def list_files(params: dict[str, Any] | None = None) -> list[str]:
        from versioning.datafiles.storage import list_data_files

        assert params is not None
        return list_data_files(params["input"], params["pattern"])

    @task(queue=QUEUE, retries=2)
    def upgrade_file(source: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        from versioning.datafiles.storage import upgrade_one_file

        assert params is not None
        return upgrade_one_file(
            source,
            registry=params["registry"],
            subject=params["subject"],
            from_version=params["from_version"],
            to_version=params["to_version"],
            input_folder=params["input"],
            output_folder=params["output"],
            batch_size=params["batch_size"],
        )

    upgrade_file.expand(source=list_files())


versioning_upgrade()
