"""What differs between Airflow 2 and Airflow 3 for the workloads we declare.

Airflow 3 serves the UI and REST API from ``airflow api-server``, always runs the DAG processor as its own
process, and has workers call the API server's Task Execution API. Airflow 2 serves from ``airflow
webserver`` and parses DAGs inside the scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass

API_PORT = 8080
LOG_SERVER_PORT = 8793
"""The port of each worker's log server, from which the API server reads a running task's log."""
CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"
"""The Celery app of the Celery provider (Airflow >= 2.7), used by the worker liveness ping."""


@dataclass(frozen=True)
class AirflowFlavor:
    """Commands, probes and settings for one Airflow major version."""

    major: int

    @property
    def api_component(self) -> str:
        """The component name of the HTTP server: ``api-server`` (3) or ``webserver`` (2)."""
        return "api-server" if self.major >= 3 else "webserver"

    @property
    def api_command(self) -> list[str]:
        """Arguments that start the HTTP server on :data:`API_PORT`."""
        return ["airflow", self.api_component, "--port", str(API_PORT)]

    @property
    def health_path(self) -> str:
        """The HTTP health endpoint (reports metadatabase and scheduler status)."""
        return "/api/v2/monitor/health" if self.major >= 3 else "/health"

    @property
    def standalone_dag_processor(self) -> bool:
        """True when DAG parsing runs in its own Deployment."""
        return self.major >= 3

    @property
    def secret_key_variables(self) -> list[str]:
        """Environment variables that must carry the API secret key."""
        if self.major >= 3:
            return ["AIRFLOW__API__SECRET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"]
        return ["AIRFLOW__WEBSERVER__SECRET_KEY"]


def job_check_command(job_type: str) -> list[str]:
    """Liveness command of a scheduler, DAG processor or triggerer: its heartbeat in the metadata DB."""
    return ["airflow", "jobs", "check", "--job-type", job_type, "--local"]
