"""The smoke test's script and the canary DAGs it runs.

- The script runs exactly as the Job runs it (``python -c <source>``, settings in the environment) against a
  stand-in for the Airflow REST API (an HTTP server in the test, serving the Airflow 3 routes the script
  uses), so its requests, verdicts, exit codes and failure report are checked end to end.
- The API token it signs is checked by Airflow itself (the Airflow virtualenv): the configured auth
  manager must accept it and see a USER-role user.
- The canary DAGs are loaded by Airflow's DagBag, and their task functions run on each colour's worker
  environment.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from infra_fixtures import ROOT

from infra.admin_user_script import source as admin_user_source
from infra.canary import canary_dag_id, canary_queue
from infra.config import Color
from infra.smoke_probe import EXIT_FAILED, EXIT_PASSED, source

AIRFLOW_PYTHON = ROOT / ".venv-airflow" / "bin" / "python"
needs_airflow = pytest.mark.skipif(not AIRFLOW_PYTHON.exists(), reason="the Airflow virtualenv is not set up")
TOKEN = "stand-in-token"
HEALTHY = {"metadatabase": {"status": "healthy"}, "scheduler": {"status": "healthy"}}


@dataclass
class StandInAirflow:
    """What the stand-in API answers, and every request it received."""

    health: dict[str, Any] = field(default_factory=lambda: dict(HEALTHY))
    dag_missing_for: int = 0
    run_states: list[str] = field(default_factory=lambda: ["queued", "running", "success"])
    requests: list[tuple[str, str, str, Any]] = field(default_factory=list)
    run_id: str = ""

    def answer(self, method: str, path: str, auth: str, body: Any) -> tuple[int, Any]:
        self.requests.append((method, path, auth, body))
        if path == "/api/v2/monitor/health":
            return 200, self.health
        if auth != f"Bearer {TOKEN}":
            return 401, {"detail": "Not authenticated"}
        dag = "/api/v2/dags/platform_canary_green"
        if path == dag and method == "GET":
            if self.dag_missing_for > 0:
                self.dag_missing_for -= 1
                return 404, {"detail": "DAG not found"}
            return 200, {"dag_id": "platform_canary_green", "is_paused": True}
        if path == dag and method == "PATCH":
            return 200, {"dag_id": "platform_canary_green", "is_paused": body["is_paused"]}
        if path == f"{dag}/dagRuns" and method == "POST":
            self.run_id = body["dag_run_id"]
            return 200, {"dag_run_id": self.run_id, "state": "queued"}
        if path == f"{dag}/dagRuns/{self.run_id}":
            state = self.run_states.pop(0) if len(self.run_states) > 1 else self.run_states[0]
            return 200, {"dag_run_id": self.run_id, "state": state}
        if path == f"{dag}/dagRuns/{self.run_id}/taskInstances":
            state = self.run_states[-1]
            return 200, {
                "task_instances": [
                    {
                        "task_id": "prove_worker",
                        "state": "failed" if state == "failed" else "queued",
                        "try_number": 1 if state == "failed" else 0,
                        "queue": "platform-canary-green",
                        "hostname": "airflow-green-worker-canary-5d9f",
                    }
                ],
                "total_entries": 1,
            }
        if path.startswith(f"{dag}/dagRuns/{self.run_id}/taskInstances/prove_worker/logs/1"):
            lines = [f"log line {i}" for i in range(100)]
            return 200, "\n".join([*lines, "RuntimeError: the green canary ran on a blue worker"])
        return 404, {"detail": f"no route {method} {path}"}


@pytest.fixture
def airflow_api() -> Iterator[tuple[StandInAirflow, str]]:
    state = StandInAirflow()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            path = self.path.split("?", 1)[0]
            status, answer = state.answer(self.command, path, self.headers.get("Authorization", ""), body)
            text = answer if isinstance(answer, str) else json.dumps(answer)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(answer, str) else "application/json")
            self.end_headers()
            self.wfile.write(text.encode())

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_probe(base_url: str, timeout: int = 120, **settings: str) -> subprocess.CompletedProcess[str]:
    """The script as the Job runs it: ``python -c <source>``, its settings in the environment."""
    env = {
        "PATH": os.environ["PATH"],
        "BASE_URL": base_url,
        "HEALTH_PATH": "/api/v2/monitor/health",
        "MODE": "canary",
        "DAG_ID": "platform_canary_green",
        "CANDIDATE_COLOR": "green",
        "TIMEOUT_SECONDS": str(timeout),
        "POLL_SECONDS": "0.05",
        "API_TOKEN": TOKEN,
        **settings,
    }
    return subprocess.run(
        [sys.executable, "-c", source()], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_should_pass_when_the_canary_run_succeeds(airflow_api: tuple[StandInAirflow, str]) -> None:
    state, url = airflow_api
    state.dag_missing_for = 2  # not parsed yet: the script waits for the DAG processor
    done = run_probe(url)
    assert done.returncode == EXIT_PASSED, done.stderr
    assert f"smoke test passed: platform_canary_green run {state.run_id} succeeded on green" in done.stdout
    calls = [(method, path) for method, path, _, _ in state.requests]
    assert ("PATCH", "/api/v2/dags/platform_canary_green") in calls
    trigger = next(body for method, path, _, body in state.requests if method == "POST")
    assert trigger["logical_date"] is None
    assert trigger["conf"] == {"candidate": "green"}
    assert trigger["dag_run_id"].startswith("platform-smoke-green-")
    assert all(auth == f"Bearer {TOKEN}" for _, path, auth, _ in state.requests if "/dags/" in path)


def test_should_fail_with_the_task_state_and_log_tail_when_the_run_fails(
    airflow_api: tuple[StandInAirflow, str],
) -> None:
    state, url = airflow_api
    state.run_states = ["queued", "failed"]
    done = run_probe(url)
    assert done.returncode == EXIT_FAILED
    assert f"the canary run {state.run_id} of platform_canary_green ended failed" in done.stderr
    assert "task prove_worker: state failed, try 1, queue platform-canary-green" in done.stderr
    assert "    | RuntimeError: the green canary ran on a blue worker" in done.stderr
    assert "    | log line 61" in done.stderr
    assert "    | log line 60\n" not in done.stderr  # only the tail: the last 40 lines


def test_should_fail_in_time_when_the_run_never_finishes(airflow_api: tuple[StandInAirflow, str]) -> None:
    state, url = airflow_api
    state.run_states = ["queued"]
    done = run_probe(url, timeout=32)  # 2 s of polling: the script keeps 30 s to report before the deadline
    assert done.returncode == EXIT_FAILED
    assert "ended queued" in done.stderr
    assert "task prove_worker: state queued, try 0" in done.stderr


def test_should_fail_when_a_required_component_is_not_healthy(airflow_api: tuple[StandInAirflow, str]) -> None:
    state, url = airflow_api
    state.health = {"metadatabase": {"status": "healthy"}, "scheduler": {"status": "unhealthy"}}
    done = run_probe(url, timeout=32, MODE="health", HEALTHY="metadatabase,scheduler,triggerer")
    assert done.returncode == EXIT_FAILED
    assert "last: scheduler: unhealthy; triggerer: absent" in done.stderr
    assert not [r for r in state.requests if "/dags/" in r[1]]


def test_should_name_the_missing_canary_dag(airflow_api: tuple[StandInAirflow, str]) -> None:
    state, url = airflow_api
    state.dag_missing_for = 10_000
    done = run_probe(url, timeout=32)
    assert done.returncode == EXIT_FAILED
    assert "the canary DAG platform_canary_green is not available" in done.stderr
    assert "dags/platform_canary.py" in done.stderr


@needs_airflow
def test_should_sign_a_token_airflow_accepts_as_a_user_role(tmp_path: Path) -> None:
    script = (
        source().replace('if __name__ == "__main__":', "if False:")
        + """
import asyncio, json
from airflow.api_fastapi.app import create_auth_manager
token = api_token({})
user = asyncio.run(create_auth_manager().get_user_from_token(token))
print(json.dumps({"name": user.get_name(), "role": user.get_role()}))
"""
    )
    env = {
        "PATH": os.environ["PATH"],
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__API_AUTH__JWT_SECRET": "test-api-secret-key-5d0e",
        "AIRFLOW__API__SECRET_KEY": "test-api-secret-key-5d0e",
    }
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", script], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"name": "platform-smoke-test", "role": "USER"}


CANARY_SCRIPT = """
import json, os, sys
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
found = {}
for dag_id, dag in sorted(bag.dags.items()):
    task = dag.get_task("prove_worker")
    outcomes = {}
    for worker in ("blue", "green"):
        os.environ["PIPELINE_PLATFORM_COLOR"] = worker
        try:
            outcomes[worker] = task.python_callable()
        except RuntimeError as error:
            outcomes[worker] = f"error: {error}"
    found[dag_id] = {
        "queue": task.queue, "schedule": str(dag.schedule), "paused": dag.is_paused_upon_creation,
        "retries": task.retries, "outcomes": outcomes,
    }
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": found}))
"""


@needs_airflow
def test_should_ship_one_canary_dag_per_colour_that_succeeds_only_on_that_colour(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", CANARY_SCRIPT, str(ROOT / "dags" / "platform_canary.py")],
        env={**os.environ, "AIRFLOW_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    parsed = json.loads(done.stdout.strip().splitlines()[-1])
    assert parsed["errors"] == {}
    assert sorted(parsed["dags"]) == [canary_dag_id(Color.BLUE), canary_dag_id(Color.GREEN)]
    for color in Color:
        dag = parsed["dags"][canary_dag_id(color)]
        assert dag["queue"] == canary_queue(color)
        assert dag["schedule"] == "None"
        assert (dag["paused"], dag["retries"]) == (False, 0)
        assert dag["outcomes"][color.value] == color.value
        assert dag["outcomes"][color.other.value] == (
            f"error: the {color.value} canary ran on a {color.other.value} worker; colours must not share queues"
        )


AUTH_APP = """
import sys
import uvicorn
from fastapi import FastAPI
from airflow.api_fastapi.app import create_auth_manager
manager = create_auth_manager()
manager.init()
app = FastAPI()
app.mount("/auth", manager.get_fastapi_app())  # where Airflow's API server mounts every auth manager's routes
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


@pytest.fixture(scope="module")
def airflow_login(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Airflow's own ``/auth/token`` login route (simple auth manager: user ``smoke``), served by uvicorn."""
    home = tmp_path_factory.mktemp("airflow-login")
    (home / "passwords.json").write_text(json.dumps({"smoke": "a-long-test-password"}))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PATH": os.environ["PATH"],
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "smoke:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": "test-api-secret-key-5d0e",
    }
    server = subprocess.Popen(
        [str(AIRFLOW_PYTHON), "-c", AUTH_APP, str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        assert server.poll() is None, server.stderr.read().decode()[-2000:] if server.stderr else ""
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def token_from_probe(base: str, password: str) -> subprocess.CompletedProcess[str]:
    """The script's ``api_token`` as the Job calls it, with the admin credentials in the environment."""
    script = source().replace('if __name__ == "__main__":', "if False:") + "\nprint(api_token(os.environ))\n"
    env = {"PATH": os.environ["PATH"], "BASE_URL": base, "ADMIN_USERNAME": "smoke", "ADMIN_PASSWORD": password}
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@needs_airflow
def test_should_log_in_at_airflow_token_route_with_the_admin_credentials(airflow_login: str) -> None:
    done = token_from_probe(airflow_login, "a-long-test-password")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["sub"] == "smoke"
    assert payload["aud"] == "apache-airflow"


@needs_airflow
def test_should_report_a_refused_login_without_the_password(airflow_login: str) -> None:
    done = token_from_probe(airflow_login, "not-the-password")
    assert done.returncode != 0
    assert f"logging in as 'smoke' at {airflow_login}/auth/token failed: HTTP 401" in done.stderr
    assert "not-the-password" not in done.stderr


@needs_airflow
def test_should_explain_that_the_admin_job_needs_the_fab_provider(tmp_path: Path) -> None:
    """Airflow without the FAB provider (the Airflow virtualenv has none): the Job fails with what to do."""
    env = {
        "PATH": os.environ["PATH"],
        "AIRFLOW_HOME": str(tmp_path),
        "ADMIN_USERNAME": "admin",
        "ADMIN_PASSWORD": "x" * 16,
    }
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", admin_user_source()],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1
    assert "admin user: the image has no FAB auth manager (apache-airflow-providers-fab)" in done.stderr
