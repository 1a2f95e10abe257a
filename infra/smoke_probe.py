"""The script the smoke-test and post-promotion Jobs run, inside the colour's own Airflow image.

It is passed to ``python -c`` as source text (see :func:`source`), so it uses only the standard library,
plus Airflow itself to sign its REST API token. Its settings come from the environment:

``BASE_URL``           the Service to go through, ``http://<service>.<namespace>.svc.cluster.local:8080``
``HEALTH_PATH``        ``/api/v2/monitor/health`` (Airflow 3) or ``/health`` (Airflow 2)
``MODE``               ``canary``: health, then run the canary DAG and wait for its success;
                       ``health``: the listed components healthy (the post-promotion check)
``HEALTHY``            components that must report healthy, comma separated (``metadatabase,scheduler``)
``DAG_ID``             the canary DAG (canary mode)
``CANDIDATE_COLOR``    the colour under test (the canary run's conf, and the messages)
``TIMEOUT_SECONDS``    the Job's activeDeadlineSeconds; the script gives up 30 s earlier, so the failure
                       report (task states, log tail) is printed before Kubernetes kills the pod
``POLL_SECONDS``       seconds between polls (default 5)

``ADMIN_USERNAME``     with ``ADMIN_PASSWORD`` (the FAB auth manager): the credentials exchanged for a REST API
                       token at ``POST /auth/token``, as any API client logs in

The REST API token comes from, in order: ``API_TOKEN`` if set; ``POST {BASE_URL}/auth/token`` with
``ADMIN_USERNAME``/``ADMIN_PASSWORD`` (FAB, the platform's admin user); else it is signed with the platform's
JWT secret (``AIRFLOW__API_AUTH__JWT_SECRET``, from the colour's Secret) by Airflow's configured auth manager,
for a ``USER``-role user of the development simple auth manager (read, unpause and trigger DAGs, read logs).

Exit codes: 0 passed, 1 failed (the reason, task states and log tails on standard error).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

EXIT_PASSED, EXIT_FAILED = 0, 1
REPORT_MARGIN_SECONDS = 30
LOG_TAIL_LINES = 40
TOKEN_USER = "platform-smoke-test"


class ProbeFailed(Exception):
    """The colour did not prove itself; the message says what was seen."""


def source() -> str:
    """This file's text, for ``python -c`` in a Job's container."""
    return Path(__file__).read_text(encoding="utf-8")


def call(
    method: str, url: str, token: str | None = None, body: Any = None, accept: str = "application/json"
) -> tuple[int, str]:
    """One HTTP request; returns (status, body text). Connection errors are status 0."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": accept}
    if data is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)


def unhealthy(health: Mapping[str, Any], components: list[str]) -> list[str]:
    """The components of a health document that do not report ``healthy``, with their status."""
    found = []
    for component in components:
        status = (health.get(component) or {}).get("status")
        if status != "healthy":
            found.append(f"{component}: {status or 'absent'}")
    return found


def wait_healthy(base: str, path: str, components: list[str], deadline: float, poll: float) -> None:
    """Poll the health endpoint until every listed component is healthy."""
    last = "no answer yet"
    while True:
        status, text = call("GET", base + path)
        if status == 200:
            try:
                problems = unhealthy(json.loads(text), components)
            except (ValueError, AttributeError):
                problems = [f"not a health document: {text[:200]!r}"]
            if not problems:
                print(f"healthy: {', '.join(components)} at {base}{path}", flush=True)
                return
            last = "; ".join(problems)
        else:
            last = f"HTTP {status}: {text[:200]}"
        if time.monotonic() >= deadline:
            raise ProbeFailed(f"{base}{path} did not report {', '.join(components)} healthy in time (last: {last})")
        time.sleep(poll)


def login_token(base: str, username: str, password: str) -> str:
    """A REST API token from the auth manager's login endpoint (``POST /auth/token``, FAB and simple alike)."""
    status, text = call("POST", f"{base}/auth/token", body={"username": username, "password": password})
    if status not in (200, 201):
        raise ProbeFailed(f"logging in as {username!r} at {base}/auth/token failed: HTTP {status}: {text[:200]}")
    try:
        token = json.loads(text)["access_token"]
    except (ValueError, KeyError, TypeError):
        raise ProbeFailed(f"{base}/auth/token answered without an access_token: {text[:200]!r}") from None
    return str(token)


def api_token(env: Mapping[str, str]) -> str:
    """A token for the REST API: given, from a login with the admin credentials, or signed (simple manager)."""
    if env.get("API_TOKEN"):
        return env["API_TOKEN"]
    if env.get("ADMIN_PASSWORD"):
        return login_token(env["BASE_URL"].rstrip("/"), env.get("ADMIN_USERNAME", "admin"), env["ADMIN_PASSWORD"])
    try:
        from airflow.api_fastapi.app import create_auth_manager
        from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    except ImportError as error:
        raise ProbeFailed(f"cannot sign an API token: this image's Airflow has no API auth manager ({error})") from None
    try:
        token: str = create_auth_manager().generate_jwt(SimpleAuthManagerUser(username=TOKEN_USER, role="USER"))
    except Exception as error:
        raise ProbeFailed(
            f"cannot sign an API token with the configured auth manager ({type(error).__name__}: {error}); "
            "without admin credentials the smoke test signs tokens for the simple auth manager only"
        ) from None
    return token


def _json(status: int, text: str, what: str) -> Any:
    if status != 200:
        raise ProbeFailed(f"{what}: HTTP {status}: {text[:300]}")
    return json.loads(text)


def run_canary(base: str, dag_id: str, color: str, token: str, deadline: float, poll: float) -> None:
    """Trigger ``dag_id`` and wait for its run to succeed; on failure report each task's state and log tail."""
    dag_url = f"{base}/api/v2/dags/{urllib.parse.quote(dag_id)}"
    while True:
        status, text = call("GET", dag_url, token)
        if status == 200:
            break
        if status != 404 or time.monotonic() >= deadline:
            raise ProbeFailed(
                f"the canary DAG {dag_id} is not available at {dag_url} (HTTP {status}: {text[:200]}); "
                f"is dags/platform_canary.py in the image, and is the DAG processor running?"
            )
        time.sleep(poll)
    _json(*call("PATCH", dag_url, token, {"is_paused": False}), f"unpausing {dag_id}")
    run_id = f"platform-smoke-{color}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"
    body = {"dag_run_id": run_id, "logical_date": None, "conf": {"candidate": color}}
    _json(*call("POST", f"{dag_url}/dagRuns", token, body), f"triggering {dag_id}")
    print(f"triggered {dag_id} run {run_id} on {color}", flush=True)
    run_url = f"{dag_url}/dagRuns/{urllib.parse.quote(run_id)}"
    state = "queued"
    while time.monotonic() < deadline:
        state = str(_json(*call("GET", run_url, token), f"reading run {run_id}").get("state"))
        if state in ("success", "failed"):
            break
        time.sleep(poll)
    if state == "success":
        print(f"smoke test passed: {dag_id} run {run_id} succeeded on {color}", flush=True)
        return
    raise ProbeFailed(f"the canary run {run_id} of {dag_id} ended {state}:\n{task_report(run_url, token)}")


def task_report(run_url: str, token: str) -> str:
    """Each task instance of the run: its state and the tail of its last try's log."""
    status, text = call("GET", f"{run_url}/taskInstances", token)
    if status != 200:
        return f"  (task instances unavailable: HTTP {status}: {text[:200]})"
    lines = []
    for instance in json.loads(text).get("task_instances", []):
        task_id, tries = instance.get("task_id"), instance.get("try_number") or 0
        lines.append(
            f"  task {task_id}: state {instance.get('state')}, try {tries}, "
            f"queue {instance.get('queue')}, host {instance.get('hostname') or '-'}"
        )
        if tries:
            log_url = f"{run_url}/taskInstances/{urllib.parse.quote(str(task_id))}/logs/{tries}?full_content=true"
            log_status, log_text = call("GET", log_url, token, accept="text/plain")
            tail = log_text.splitlines()[-LOG_TAIL_LINES:] if log_status == 200 else [f"(log: HTTP {log_status})"]
            lines.extend(f"    | {line}" for line in tail)
    return "\n".join(lines) or "  (no task instances: the run was never scheduled)"


def main(env: Mapping[str, str] = os.environ) -> int:
    """Run the probe the environment describes; print the verdict."""
    started = time.monotonic()
    deadline = started + max(1, int(env.get("TIMEOUT_SECONDS", "300")) - REPORT_MARGIN_SECONDS)
    base = env["BASE_URL"].rstrip("/")
    color = env.get("CANDIDATE_COLOR", "?")
    poll = float(env.get("POLL_SECONDS", "5"))
    try:
        wait_healthy(base, env["HEALTH_PATH"], env.get("HEALTHY", "metadatabase").split(","), deadline, poll)
        if env.get("MODE", "canary") == "canary":
            run_canary(base, env["DAG_ID"], color, api_token(env), deadline, poll)
    except ProbeFailed as failure:
        print(f"smoke test failed for {color} through {base}: {failure}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    return EXIT_PASSED


if __name__ == "__main__":
    sys.exit(main())
