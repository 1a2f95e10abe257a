"""Example DAG: export the day's users, routed to the ``default`` Celery queue.

Shows what a release bakes into its image. The schema version it writes (``users`` v3 in green) is what
the release declares in ``releases.<colour>.schemas``, which the flip gate checks.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import dag, task

USERS_SCHEMA_VERSION = 3


@dag(
    dag_id="users_export",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5), "queue": "default"},
    tags=["example", "users"],
)
def users_export() -> None:
    """Extract users changed yesterday and write them as ``users`` records of the declared version."""

    @task
    def extract(ds: str | None = None) -> list[dict[str, object]]:
        # A real pipeline reads the source database; the example keeps one record.
        return [{"id": "u-1", "name": "Ada", "created_at": f"{ds}T00:00:00Z", "email": None, "phone": None}]

    @task
    def load(records: list[dict[str, object]]) -> int:
        color = os.environ.get("PIPELINE_PLATFORM_COLOR", "unknown")
        print(f"writing {len(records)} users v{USERS_SCHEMA_VERSION} records from the {color} release")
        return len(records)

    load(extract())


users_export()
