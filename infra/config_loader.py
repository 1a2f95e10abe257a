"""Read the stack's configuration once, at the edge, and report every problem in one error.

Pulumi hands structured config values (lists, maps) to the program as JSON strings; this module decodes
them, validates the whole :class:`~infra.config.StackConfig` at once, checks that each secret is set *as a
Pulumi secret*, and turns pydantic's errors into ``key: message`` lines (``workerPools[1].replicas: must be
>= 0 (got -1)``) inside a single :class:`~infra.errors.ConfigError`.
"""

from __future__ import annotations

import base64
import binascii
import json
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import BaseModel, ValidationError

from infra.config import AuthManager, StackConfig
from infra.errors import ConfigError, ConfigProblem

PROJECT = "pipeline-platform"
"""The project name, which is also the namespace of every config key (``pipeline-platform:activeColor``)."""


@dataclass(frozen=True)
class SecretKey:
    """A config key that must be a Pulumi secret."""

    key: str
    description: str
    example: str
    needed: Callable[[StackConfig], bool] = lambda config: True
    """Whether a config needs it (checked only when the config parsed; otherwise it is assumed needed)."""


SECRET_KEYS: tuple[SecretKey, ...] = (
    SecretKey("redisPassword", "password of the Redis broker", "$(openssl rand -hex 24)"),
    SecretKey(
        "metadataDbConnection",
        "SQLAlchemy URL of the Airflow metadata database",
        "'postgresql+psycopg2://airflow:PASSWORD@db.example.com:5432/airflow'",
    ),
    SecretKey(
        "fernetKey",
        "Airflow Fernet key that encrypts connections and variables",
        "$(python -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())')",
    ),
    SecretKey("apiSecretKey", "secret key that signs Airflow API/webserver sessions", "$(openssl rand -hex 32)"),
    SecretKey(
        "adminPassword",
        "password of the Airflow admin user (auth.manager: fab)",
        "$(openssl rand -base64 24)",
        needed=lambda config: config.auth.manager is AuthManager.FAB,
    ),
)


@dataclass(frozen=True)
class StackSecrets:
    """The stack's secrets, only ever as secret Outputs: never plain values, outputs or annotations."""

    redis_password: pulumi.Output[str]
    metadata_db_connection: pulumi.Output[str]
    fernet_key: pulumi.Output[str]
    api_secret_key: pulumi.Output[str]
    admin_password: pulumi.Output[str] | None = None
    """Set when the config uses the FAB auth manager."""


def load_stack(
    stack: str | None = None,
    more_checks: Callable[[StackConfig], list[ConfigProblem]] | None = None,
) -> tuple[StackConfig, StackSecrets]:
    """Parse the running stack's config and secrets; raise :class:`ConfigError` listing every problem.

    ``more_checks`` runs on a parsed config (e.g. schema references against the registry) so its problems
    join the same single error as the secrets' problems.
    """
    stack_name = stack or pulumi.get_stack()
    raw = read_raw_config()
    plain = {key: value for key, value in raw.items() if key not in {s.key for s in SECRET_KEYS}}
    problems: list[ConfigProblem] = []
    parsed: StackConfig | None = None
    try:
        parsed = StackConfig.model_validate(plain)
    except ValidationError as error:
        problems.extend(problems_from_validation(error))
    problems.extend(_secret_problems(raw, parsed))
    if parsed is not None:
        problems.extend(_keda_problems(parsed, str(raw.get("metadataDbConnection") or "")))
        problems.extend(_pgbouncer_problems(parsed, str(raw.get("metadataDbConnection") or "")))
    if parsed is not None and more_checks is not None:
        problems.extend(more_checks(parsed))
    if problems or parsed is None:
        raise ConfigError(problems, stack_name)
    config = pulumi.Config(PROJECT)
    secrets = StackSecrets(
        redis_password=config.require_secret("redisPassword"),
        metadata_db_connection=config.require_secret("metadataDbConnection"),
        fernet_key=config.require_secret("fernetKey"),
        api_secret_key=config.require_secret("apiSecretKey"),
        admin_password=config.require_secret("adminPassword") if parsed.auth.manager is AuthManager.FAB else None,
    )
    return parsed, secrets


def read_raw_config() -> dict[str, Any]:
    """Every config value under ``pipeline-platform:``, with JSON-encoded structured values decoded."""
    # The SDK keeps config in two places: what the language host passed (PULUMI_CONFIG) and what was set
    # in-process (set_all_config, used by mocks). Reading both lets us find keys the model does not know.
    merged: dict[str, Any] = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    prefix = f"{PROJECT}:"
    values: dict[str, Any] = {}
    for full_key, value in merged.items():
        if full_key.startswith(prefix):
            values[full_key[len(prefix) :]] = _decode(value)
    return values


def _decode(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value  # a plain string such as "blue"


def _is_secret(key: str) -> bool:
    full_key = f"{PROJECT}:{key}"
    return runtime_config.is_config_secret(full_key) or full_key in runtime_config.get_config_secret_keys_env()


def _secret_problems(raw: Mapping[str, Any], parsed: StackConfig | None) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for secret in SECRET_KEYS:
        if parsed is not None and not secret.needed(parsed):
            continue
        how = f"`pulumi config set --secret {secret.key} {secret.example}`"
        if secret.key not in raw or raw[secret.key] in (None, ""):
            problems.append(ConfigProblem(secret.key, f"is required ({secret.description}); set it with {how}"))
        elif not _is_secret(secret.key):
            problems.append(ConfigProblem(secret.key, f"is stored in plain text; it must be a Pulumi secret: {how}"))
        else:
            # Checked here so a bad value fails before any resource exists; the value is never echoed.
            problem = _secret_value_problem(secret.key, str(raw[secret.key]))
            if problem:
                problems.append(ConfigProblem(secret.key, f"{problem}; set it with {how}"))
    return problems


def _keda_problems(config: StackConfig, db_url: str) -> list[ConfigProblem]:
    # KEDA's trigger counts task instances with PostgreSQL SQL (the metadata database); the value is not echoed.
    if not db_url.startswith("mysql"):
        return []
    return [
        ConfigProblem(
            f"workerPools[{index}].autoscaling",
            "kind keda counts running and queued task instances in the metadata database with PostgreSQL's "
            "scaler, but metadataDbConnection is MySQL; use kind: hpa",
        )
        for index, pool in enumerate(config.worker_pools)
        if pool.autoscaling is not None and pool.autoscaling.kind == "keda"
    ]


def _pgbouncer_problems(config: StackConfig, db_url: str) -> list[ConfigProblem]:
    # PgBouncer speaks PostgreSQL's protocol only; the value is not echoed.
    if not config.pgbouncer.enabled or not db_url.startswith("mysql"):
        return []
    return [
        ConfigProblem(
            "pgbouncer.enabled",
            "PgBouncer pools PostgreSQL connections, but metadataDbConnection is MySQL; set pgbouncer.enabled: false",
        )
    ]


def _secret_value_problem(key: str, value: str) -> str | None:
    if key == "fernetKey":
        try:
            if len(base64.urlsafe_b64decode(value.encode())) == 32:
                return None
        except (binascii.Error, ValueError):
            pass
        return "is not a Fernet key (32 bytes, url-safe base64 encoded)"
    if key == "metadataDbConnection" and not value.startswith(("postgresql", "mysql")):
        return "is not a PostgreSQL or MySQL SQLAlchemy URL (postgresql+psycopg2://user:pass@host/db)"
    if key == "redisPassword" and (set(value) & {'"', "\\", "\n", "\r"} or value != value.strip()):
        # Redis reads it from a config file on standard input (never its command line), as a quoted string.
        return "must not contain double quotes, backslashes, line breaks or leading/trailing spaces"
    if key == "adminPassword" and len(value) < 12:
        return "is shorter than 12 characters"
    return None


def problems_from_validation(error: ValidationError) -> list[ConfigProblem]:
    """One :class:`ConfigProblem` per pydantic error, keyed by the config path users write."""
    problems = []
    for item in error.errors(include_url=False):
        location = tuple(item["loc"])
        problems.append(ConfigProblem(format_key(location), _message(item, location)))
    return problems


def format_key(location: Sequence[int | str]) -> str:
    """``('workerPools', 1, 'replicas')`` -> ``workerPools[1].replicas``; a bad map key names the key."""
    key = ""
    for part in location:
        if part == "[key]":
            continue
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += f".{part}" if key else str(part)
    return key


_PATTERN_HINTS = {
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "must be a DNS label: lowercase letters, digits and '-', "
    "starting and ending with a letter or digit",
    r"^sha256:[0-9a-f]{64}$": "must be an image digest like sha256:<64 hex digits>",
    r"^[A-Za-z0-9_.:-]+$": "must be a queue name of letters, digits, '_', '.', ':' or '-'",
}


def _message(item: Mapping[str, Any], location: tuple[int | str, ...]) -> str:
    kind = item["type"]
    ctx = item.get("ctx") or {}
    text: str
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        allowed = allowed_keys(location[:-1])
        listed = f"; known keys here: {', '.join(allowed)}" if allowed else ""
        return f"is not a known key (check the spelling){listed}"
    if location and location[-1] == "[key]":
        text = f"{location[-2]!r} is not a colour; releases are keyed by 'blue' and 'green'"
        return text
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        operator, bound = {
            "greater_than_equal": (">=", "ge"),
            "greater_than": (">", "gt"),
            "less_than_equal": ("<=", "le"),
            "less_than": ("<", "lt"),
        }[kind]
        text = f"must be {operator} {ctx[bound]}"
    elif kind in {"enum", "literal_error"}:
        text = f"must be one of {ctx.get('expected')}"
    elif kind == "too_short":
        text = f"must have at least {ctx['min_length']} item{'s' if ctx['min_length'] != 1 else ''}"
    elif kind == "string_too_long":
        text = f"must be at most {ctx['max_length']} characters"
    elif kind == "string_pattern_mismatch":
        text = _PATTERN_HINTS.get(str(ctx.get("pattern")), f"must match {ctx.get('pattern')}")
    elif kind in {"int_parsing", "int_type", "int_from_float"}:
        text = "must be a whole number"
    elif kind in {"bool_parsing", "bool_type"}:
        text = "must be true or false"
    elif kind in {"model_type", "dict_type", "model_attributes_type"}:
        return "must be a map of keys to values"
    elif kind == "list_type":
        return "must be a list"
    elif kind == "string_type":
        text = "must be a string"
    elif kind == "value_error":
        return str(item["msg"]).removeprefix("Value error, ")
    else:
        text = str(item["msg"])
    value = item.get("input")
    if isinstance(value, str | int | float | bool):
        text += f" (got {value!r})"
    return text


def allowed_keys(location: Sequence[int | str]) -> list[str]:
    """The config keys valid at ``location`` (for 'unknown key' messages); empty when it cannot tell."""
    annotation: Any = StackConfig
    for part in location:
        model = _model_in(annotation)
        if model is None:
            return []
        if isinstance(part, int):
            annotation = _item_type(annotation, list)
            continue
        field = next(
            (f for name, f in model.model_fields.items() if part in (name, f.alias)),
            None,
        )
        if field is None:
            annotation = _item_type(annotation, dict)  # a map key, e.g. releases.blue
            continue
        annotation = field.annotation
    model = _model_in(annotation)
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _item_type(annotation: Any, container: type) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        for arg in typing.get_args(annotation):
            if typing.get_origin(arg) is container:
                return _item_type(arg, container)
        return annotation
    args = typing.get_args(annotation)
    return args[-1] if args else annotation
