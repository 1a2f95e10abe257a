"""The platform's canary DAGs: the smoke test runs the candidate colour's one before traffic moves to it.

``platform_canary_blue`` and ``platform_canary_green`` each have one task on the queue
``platform-canary-<colour>``, which only that colour's canary worker consumes. The task succeeds only on a
worker of that colour (``PIPELINE_PLATFORM_COLOR``), so a successful run proves that the colour's image,
connections and worker, and on Airflow 3 its Task Execution API, can run a task.

Never scheduled (``schedule=None``): only the smoke test triggers them, through the REST API. The names and
queues must match ``infra/canary.py`` (a test checks it).
"""

from __future__ import annotations

import os
import platform
from datetime import datetime, timedelta

from airflow.sdk import dag, task

COLORS = ("blue", "green")


def canary(color: str) -> None:
    """Declare the canary DAG of ``color``."""

    @dag(
        dag_id=f"platform_canary_{color}",
        schedule=None,
        start_date=datetime(2025, 1, 1),
        catchup=False,
        is_paused_upon_creation=False,
        max_active_runs=1,
        default_args={"retries": 0, "queue": f"platform-canary-{color}", "execution_timeout": timedelta(minutes=5)},
        tags=["platform", "canary"],
    )
    def platform_canary() -> None:
        @task
        def prove_worker() -> str:
            running_on = os.environ.get("PIPELINE_PLATFORM_COLOR", "unknown")
            if running_on != color:
                raise RuntimeError(f"the {color} canary ran on a {running_on} worker; colours must not share queues")
            import airflow

            print(f"canary of {color} ran on {platform.node()} (Airflow {airflow.__version__})")
            return running_on

        prove_worker()

    platform_canary()


for each in COLORS:
    canary(each)
