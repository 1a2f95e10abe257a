"""Airflow options as configuration: ``airflowConfig.<section>.<key>`` -> ``AIRFLOW__<SECTION>__<KEY>``.

Any Airflow option may be set per stack (``airflowConfig``) and per colour (``releases.<colour>.airflowConfig``,
which wins key by key). Airflow reads ``AIRFLOW__SECTION__KEY`` environment variables before ``airflow.cfg``,
so every Airflow container of a colour (API server, scheduler, triggerer, DAG processor, workers, migration)
gets the same values: one login, one logging setup, on every replica.

A few options belong to the platform: setting them here would break colour isolation, the secrets or the
login. They are refused with the reason (:data:`OWNED_OPTIONS`), including their ``_cmd`` and ``_secret``
variants, which Airflow would otherwise read as the same option.
"""

from __future__ import annotations

from collections.abc import Mapping

OptionValue = str | int | float | bool
"""What an option may be written as in YAML; rendered as Airflow reads it (booleans as ``True``/``False``)."""

OWNED_OPTIONS: dict[tuple[str, str], str] = {
    ("core", "executor"): "the platform runs CeleryExecutor, each colour on its own broker database",
    ("celery", "broker_url"): "each colour's broker URL points at its own Redis database (blue 0, green 1)",
    ("celery", "result_backend"): "it is derived from the metadataDbConnection secret",
    ("celery", "worker_concurrency"): "set it per pool with workerPools[].concurrency",
    ("core", "execution_api_server_url"): "each colour's workers must call their own colour's API server",
    ("database", "sql_alchemy_conn"): "it comes from the metadataDbConnection secret",
    ("core", "fernet_key"): "it comes from the fernetKey secret",
    ("api", "secret_key"): "it comes from the apiSecretKey secret and must be equal on every component",
    ("api_auth", "jwt_secret"): "it comes from the apiSecretKey secret and must be equal on every component",
    ("webserver", "secret_key"): "it comes from the apiSecretKey secret and must be equal on every component",
    ("core", "auth_manager"): "set auth.manager instead (fab, or simple for development only)",
    ("core", "hostname_callable"): "workers report their pod IP so the API server can fetch running tasks' logs",
    ("logging", "worker_log_server_port"): "the log server listens on 8793, the port the NetworkPolicies open",
}

_SUFFIXES = ("", "_cmd", "_secret")


def owned_reason(section: str, key: str) -> str | None:
    """Why the platform owns ``[section] key`` (or its ``_cmd``/``_secret`` form); None when users may set it."""
    for suffix in _SUFFIXES:
        if suffix and key.endswith(suffix):
            base = key[: -len(suffix)]
        elif not suffix:
            base = key
        else:
            continue
        reason = OWNED_OPTIONS.get((section, base))
        if reason is not None:
            return reason
    return None


def env_name(section: str, key: str) -> str:
    """``("logging", "remote_logging")`` -> ``AIRFLOW__LOGGING__REMOTE_LOGGING``."""
    return f"AIRFLOW__{section.upper()}__{key.upper()}"


def option_text(value: OptionValue) -> str:
    """An option value as Airflow parses it from the environment."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def merged_options(
    stack: Mapping[str, Mapping[str, OptionValue]], color: Mapping[str, Mapping[str, OptionValue]]
) -> dict[tuple[str, str], OptionValue]:
    """The stack's options with the colour's on top, key by key."""
    merged: dict[tuple[str, str], OptionValue] = {}
    for layer in (stack, color):
        for section, options in layer.items():
            for key, value in options.items():
                merged[(section, key)] = value
    return merged


def options_env(options: Mapping[tuple[str, str], OptionValue]) -> list[dict[str, str]]:
    """``AIRFLOW__SECTION__KEY`` variables, sorted so the rendered pod template is stable."""
    return [
        {"name": env_name(section, key), "value": option_text(value)}
        for (section, key), value in sorted(options.items())
    ]
