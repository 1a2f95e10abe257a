"""Generate a schema registry of a given size in a folder: subjects x versions x fields, compatible throughout.

Each subject starts with ``fields`` fields of mixed types (strings, longs, doubles, booleans, nullable strings,
arrays, enums, nested records, decimals, timestamps); each next version drops one optional field and adds a new
one with a default, so every version keeps ``fields`` fields and stays compatible with all earlier ones under
FULL_TRANSITIVE. Written once per size into a temporary folder by the registry benchmark; never committed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def _field(i: int, subject: int) -> dict[str, Any]:
    """Field ``i`` of a subject: a mix of the types real pipelines use, with a default on every optional one."""
    name = f"f{i}"
    kind = i % 10
    if kind == 0:
        return {"name": name, "type": "string"}
    if kind == 1:
        return {"name": name, "type": "long"}
    if kind == 2:
        return {"name": name, "type": ["null", "string"], "default": None}
    if kind == 3:
        return {"name": name, "type": "double", "default": 0.0}
    if kind == 4:
        return {"name": name, "type": "boolean", "default": False}
    if kind == 5:
        return {"name": name, "type": {"type": "array", "items": "string"}, "default": []}
    if kind == 6:
        symbols = ["A", "B", "C"]
        return {
            "name": name,
            "type": {"type": "enum", "name": f"E{subject}_{i}", "symbols": symbols, "default": "A"},
            "default": "A",
        }
    if kind == 7:
        return {
            "name": name,
            "type": [
                "null",
                {
                    "type": "record",
                    "name": f"R{subject}_{i}",
                    "fields": [
                        {"name": "a", "type": "string"},
                        {"name": "b", "type": ["null", "long"], "default": None},
                    ],
                },
            ],
            "default": None,
        }
    if kind == 8:
        return {
            "name": name,
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2},
            "default": "\u0000",
        }
    return {"name": name, "type": {"type": "long", "logicalType": "timestamp-micros"}, "default": 0}


def _optional(i: int) -> bool:
    return i % 10 not in (0, 1)


def generate(root: Path, subjects: int, versions: int, fields: int, mode: str = "FULL_TRANSITIVE") -> Path:
    """Write the registry under ``root`` (created); returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for s in range(subjects):
        folder = root / f"subject_{s:04d}"
        folder.mkdir(exist_ok=True)
        current = list(range(fields))
        next_index = fields
        for v in range(1, versions + 1):
            if v > 1:
                # Drop the oldest optional field, add a new optional one: compatible both ways.
                drop = next(i for i in current if _optional(i))
                current.remove(drop)
                while not _optional(next_index):
                    next_index += 1
                current.append(next_index)
                next_index += 1
            schema = {
                "type": "record",
                "name": f"Subject{s}",
                "namespace": "bench",
                "fields": [_field(i, s) for i in current],
            }
            (folder / f"v{v}.avsc").write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
        document = {
            "compatibility": mode,
            "table": f"subject_{s:04d}",
            "steps": [{"from": v, "to": v + 1, "upgrade": []} for v in range(1, versions)],
        }
        (folder / "subject.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return root
