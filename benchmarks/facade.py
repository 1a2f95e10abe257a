"""``DataVersionManager`` record by record, as legacy code calls it, beside the naive manager it replaces.

``python -m benchmarks.facade`` times each call of the familiar interface on the project's ``users`` subject,
one record per call (the way legacy code calls it), for three contenders, interleaved round by round:

- ``naive``: :class:`NaiveManager` below does what the naive in-process manager did: per-version field lists with
  Python types checked by ``isinstance``, missing fields reported, dict updates one version step at a time;
- ``reference``: the registry's reference answers the facade used to give (``Subject.validate`` /
  ``Subject.convert``), every error listed;
- ``facade``: :class:`versioning.DataVersionManager` as it is now.

Prints the median time per call of each and its ratio to the naive manager (below 1.00x: faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from versioning import DataVersionManager, Registry, VersioningError

ROOT = Path(__file__).resolve().parent.parent
NoneType = type(None)


class NaiveManager:
    """What the naive manager did: field lists per version, isinstance checks, dict updates step by step."""

    SCHEMAS: dict[int, list[tuple[str, tuple[type, ...], bool]]] = {
        1: [("id", (str,), True), ("name", (str,), True), ("created_at", (str,), True)],
        2: [
            ("id", (str,), True),
            ("name", (str,), True),
            ("created_at", (str,), True),
            ("email", (str, NoneType), False),
            ("updated_at", (str, NoneType), False),
        ],
        3: [
            ("id", (str,), True),
            ("name", (str,), True),
            ("created_at", (str,), True),
            ("email", (str, NoneType), False),
            ("updated_at", (str, NoneType), False),
            ("phone", (str, NoneType), False),
        ],
    }

    NAMES = {version: {f[0] for f in fields} for version, fields in SCHEMAS.items()}

    def validate_schema(self, data: dict[str, Any], version: int | None = None) -> dict[str, Any]:
        version = version or data.get("schema_version") or 1
        fields = self.SCHEMAS.get(version)
        if fields is None:
            return {"valid": False, "version": version, "errors": [f"unknown version {version}"]}
        errors = []
        names = self.NAMES[version]
        for name, types, required in fields:
            if name not in data:
                if required:
                    errors.append(f"{name}: missing required field")
                continue
            if not isinstance(data[name], types):
                errors.append(f"{name}: expected {' or '.join(t.__name__ for t in types)}")
        for name in data:
            if name != "schema_version" and name not in names:
                errors.append(f"{name}: unknown field")
        return {"valid": not errors, "version": version, "errors": errors}

    def upgrade_data(self, data: dict[str, Any], target_version: int) -> dict[str, Any]:
        out = dict(data)
        current = out.get("schema_version") or 1
        while current < target_version:
            if current == 1:
                out.update({"email": None, "updated_at": out.get("created_at")})
            elif current == 2:
                out.update({"phone": None})
            current += 1
        out["schema_version"] = target_version
        return out


class ReferenceManager:
    """The answers the facade used to give, straight from the registry's reference paths."""

    def __init__(self, registry: Registry) -> None:
        self.subject = registry.subject("users")

    def validate_schema(self, data: dict[str, Any], version: int | None = None) -> dict[str, Any]:
        if version is None and data.get("schema_version") is None:
            version = 1
        try:
            used, errors = self.subject.validate(data, version)
        except VersioningError as err:
            return {"valid": False, "version": version, "errors": [str(err)]}
        return {"valid": not errors, "version": used, "errors": [str(e) for e in errors]}

    def upgrade_data(self, data: dict[str, Any], target_version: int) -> dict[str, Any]:
        return self.subject.convert(data, target_version, from_version=data.get("schema_version") or 1)


def records(count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Legacy v1 records, filled v3 records, and invalid v1 records (two errors each)."""
    v1 = [{"id": str(i), "name": f"user {i}", "created_at": "2024-01-02T03:04:05Z"} for i in range(count)]
    v3 = [
        {**r, "email": f"u{i}@example.com", "updated_at": r["created_at"], "phone": "+1 555 0100", "schema_version": 3}
        for i, r in enumerate(v1)
    ]
    bad = [{"id": i, "created_at": "2024-01-02"} for i in range(count)]
    return v1, v3, bad


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    registry = Registry.load(ROOT / "schemas")
    managers: dict[str, Any] = {
        "naive": NaiveManager(),
        "reference": ReferenceManager(registry),
        "facade": DataVersionManager(registry),
    }
    v1, v3, bad = records(args.records)
    calls: dict[str, Callable[[Any], Any]] = {
        "validate_schema(v1 record, version=1)": lambda m: [m.validate_schema(r, version=1) for r in v1],
        "upgrade_data(v1 record, 3)": lambda m: [m.upgrade_data(r, 3) for r in v1],
        "validate_schema(filled v3 record)": lambda m: [m.validate_schema(r) for r in v3],
        "validate_schema(invalid v1 record, version=1)": lambda m: [m.validate_schema(r, version=1) for r in bad],
    }
    # The answers first: the facade must give the reference's answers (and report every error).
    for call in calls.values():
        assert call(managers["facade"]) == call(managers["reference"])
    print(f"# {args.records} records per call, {args.rounds} interleaved rounds, load {os.getloadavg()}")
    for title, call in calls.items():
        times: dict[str, list[float]] = {name: [] for name in managers}
        for _ in range(args.rounds):
            for name, manager in managers.items():
                started = time.perf_counter()
                call(manager)
                times[name].append((time.perf_counter() - started) / args.records)
        naive = statistics.median(times["naive"])
        print(f"\n{title}")
        for name, runs in times.items():
            per_call = statistics.median(runs)
            print(f"  {name:10s} {per_call * 1e6:7.2f} us/call  {per_call / naive:5.2f}x naive")
    print(f"\n# load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
