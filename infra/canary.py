"""The canary the smoke test runs: a DAG per colour, shipped in the image, and the queue its task goes to.

``dags/platform_canary.py`` declares ``platform_canary_blue`` and ``platform_canary_green``; each has one
task on the queue ``platform-canary-<colour>`` that succeeds only on a worker of that colour. Each colour
runs a one-replica canary worker consuming its own canary queue, so a canary run proves that the colour's
image, connections, worker and (Airflow 3) Task Execution API can run a task.

Before a flip only the live colour's scheduler runs (never two), and it queues tasks on its own colour's
broker database. So the candidate's canary worker consumes from the broker database of the colour whose
scheduler runs when the smoke test does: the live colour's during a flip, its own otherwise. Nothing else
is ever queued on a canary queue, so this does not let one colour take the other's tasks.
"""

from __future__ import annotations

from infra.config import Color

DAG_FILE = "platform_canary.py"
"""The file in ``dags/`` (baked into every image built from the Dockerfile) that declares the canary DAGs."""


def canary_dag_id(color: Color) -> str:
    """The canary DAG the smoke test triggers for ``color``."""
    return f"platform_canary_{color.value}"


def canary_queue(color: Color) -> str:
    """The Celery queue of that DAG's task, consumed only by ``color``'s canary worker."""
    return f"platform-canary-{color.value}"
