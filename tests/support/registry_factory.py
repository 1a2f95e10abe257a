"""Builds registry folders on disk for tests: real files, written the way users write them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def write_subject(
    root: Path,
    name: str,
    versions: list[Any],
    *,
    steps: list[dict[str, Any]] | None = None,
    compatibility: str = "BACKWARD",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``root/name/`` with v1.avsc.. from ``versions`` and a subject.yaml (empty steps by default)."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for number, schema in enumerate(versions, 1):
        text = schema if isinstance(schema, str) else json.dumps(schema, indent=2)
        (folder / f"v{number}.avsc").write_text(text)
    if steps is None:
        steps = [{"from": v, "to": v + 1, "upgrade": []} for v in range(1, len(versions))]
    document = {"compatibility": compatibility, "steps": steps, **(extra or {})}
    (folder / "subject.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return folder


def record(*fields: dict[str, Any], name: str = "Thing") -> dict[str, Any]:
    """An Avro record schema."""
    return {"type": "record", "name": name, "fields": list(fields)}


def field(name: str, kind: Any, **extra: Any) -> dict[str, Any]:
    """An Avro record field."""
    return {"name": name, "type": kind, **extra}


def optional(name: str, kind: str = "string") -> dict[str, Any]:
    """A nullable field with default null."""
    return {"name": name, "type": ["null", kind], "default": None}
