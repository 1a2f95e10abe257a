"""The flip gate's behaviour table: every compatibility mode x {upgrade, rollback} x {compatible, incompatible}.

Each row builds a one-subject registry with the versioning library, declares blue (live) and green
(candidate) on two of its versions, and runs the real program under the mock runtime with blue live and
``activeColor: green``. The verdict is what the program does:

- ``allowed``: the program declares the platform and the router selects green;
- ``refused``: :class:`~infra.gate.FlipRefused` before any resource, listing every incompatibility's kind;
- ``invalid registry``: the registry itself breaks the subject's mode (a transitive mode guarantees every
  pair of its versions, so an incompatible pair cannot exist in a valid registry); the program stops with a
  config error on ``schemaRegistry`` before any gate runs.

An upgrade moves to a newer version, a rollback to an older one; the candidate always takes the role of the
new version (BACKWARD: the candidate reads what live wrote; FORWARD: live reads what the candidate writes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from infra_fixtures import base_config, run_stack

from infra.errors import ConfigError
from infra.gate import FlipRefused
from versioning import Compatibility

ID = {"name": "id", "type": "string"}


def record(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": "Order", "fields": [ID, *fields]}


ADD_OPTIONAL = [record(), record({"name": "email", "type": ["null", "string"], "default": None})]
"""v2 adds a field with a default: compatible in every direction."""
SKIP = [
    record({"name": "n", "type": "int", "default": 0}),
    record(),
    record({"name": "n", "type": "string", "default": ""}),
]
"""Each step is FULL-compatible (the field leaves, then returns with another type), v1 and v3 are not."""
DROP_REQUIRED = [record({"name": "amount", "type": "int"}), record()]
"""v2 drops a field v1 requires: v2 reads v1 (BACKWARD), v1 cannot read v2."""
ADD_REQUIRED = [record(), record({"name": "amount", "type": "int"})]
"""v2 adds a field without default: v1 reads v2 (FORWARD), v2 cannot read v1."""

ALLOWED = ("allowed", [])
INVALID = ("invalid registry", [])


def refused(*kinds: str) -> tuple[str, list[str]]:
    return ("refused", sorted(kinds))


MISMATCH = "TYPE_MISMATCH"
MISSING = "READER_FIELD_MISSING_DEFAULT_VALUE"

B, BT, F, FT, FU, FUT, N = (
    Compatibility.BACKWARD,
    Compatibility.BACKWARD_TRANSITIVE,
    Compatibility.FORWARD,
    Compatibility.FORWARD_TRANSITIVE,
    Compatibility.FULL,
    Compatibility.FULL_TRANSITIVE,
    Compatibility.NONE,
)

# mode, direction, case, schemas, live version -> candidate version, expected (verdict, kinds)
TABLE: list[tuple[Compatibility, str, str, list[dict[str, Any]], int, int, tuple[str, list[str]]]] = [
    *((mode, "upgrade", "compatible", ADD_OPTIONAL, 1, 2, ALLOWED) for mode in Compatibility),
    *((mode, "rollback", "compatible", ADD_OPTIONAL, 2, 1, ALLOWED) for mode in Compatibility),
    (B, "upgrade", "incompatible", SKIP, 1, 3, refused(MISMATCH)),
    (BT, "upgrade", "incompatible", SKIP, 1, 3, INVALID),
    (F, "upgrade", "incompatible", SKIP, 1, 3, refused(MISMATCH)),
    (FT, "upgrade", "incompatible", SKIP, 1, 3, INVALID),
    (FU, "upgrade", "incompatible", SKIP, 1, 3, refused(MISMATCH, MISMATCH)),
    (FUT, "upgrade", "incompatible", SKIP, 1, 3, INVALID),
    (N, "upgrade", "incompatible", SKIP, 1, 3, ALLOWED),
    (B, "rollback", "incompatible", DROP_REQUIRED, 2, 1, refused(MISSING)),
    (BT, "rollback", "incompatible", DROP_REQUIRED, 2, 1, refused(MISSING)),
    (F, "rollback", "incompatible", ADD_REQUIRED, 2, 1, refused(MISSING)),
    (FT, "rollback", "incompatible", ADD_REQUIRED, 2, 1, refused(MISSING)),
    (FU, "rollback", "incompatible", SKIP, 3, 1, refused(MISMATCH, MISMATCH)),
    (FUT, "rollback", "incompatible", DROP_REQUIRED, 2, 1, INVALID),
    (N, "rollback", "incompatible", DROP_REQUIRED, 2, 1, ALLOWED),
]


def build_registry(folder: Path, mode: Compatibility, schemas: list[dict[str, Any]]) -> Path:
    """A registry folder, as a person writes it, with one subject ``orders`` under ``mode``.

    Written by hand rather than with ``Registry.add_version``, which refuses a version breaking the mode:
    the invalid rows need exactly such a folder.
    """
    subject = folder / "orders"
    subject.mkdir(parents=True)
    steps = []
    for version, schema in enumerate(schemas, start=1):
        (subject / f"v{version}.avsc").write_text(json.dumps(schema))
        if version > 1:
            before = {f["name"] for f in schemas[version - 2]["fields"]}
            # A field added without a default needs a value for the records being upgraded.
            upgrade = [
                {"add": {"field": f["name"], "value": 0}}
                for f in schema["fields"]
                if f["name"] not in before and "default" not in f
            ]
            steps.append({"from": version - 1, "to": version, "upgrade": upgrade})
    (subject / "subject.yaml").write_text(yaml.safe_dump({"compatibility": mode.value, "steps": steps}))
    return folder


def verdict(registry: Path, live: int, candidate: int) -> tuple[str, list[str]]:
    config = base_config(activeColor="green", schemaRegistry=str(registry))
    config["releases"]["blue"]["schemas"] = {"orders": live}
    config["releases"]["green"]["schemas"] = {"orders": candidate}
    try:
        run = run_stack(config, live="blue")
    except FlipRefused as error:
        assert all(i.subject == "orders" for i in error.incompatibilities)
        assert {(i.live_version, i.candidate_version) for i in error.incompatibilities} == {(live, candidate)}
        return "refused", sorted(i.kind for i in error.incompatibilities)
    except ConfigError as error:
        assert [p.key for p in error.problems] == ["schemaRegistry"], str(error)
        return "invalid registry", []
    assert run.find("Service", "airflow-api")["spec"]["selector"]["pipeline-platform.io/color"] == "green"
    return "allowed", []


def test_should_cover_every_mode_direction_and_case() -> None:
    cells = {(mode, direction, case) for mode, direction, case, *_ in TABLE}
    assert len(cells) == len(TABLE) == 7 * 2 * 2


@pytest.mark.parametrize(
    ("mode", "direction", "case", "schemas", "live", "candidate", "expected"),
    TABLE,
    ids=[f"{mode.value}-{direction}-{case}" for mode, direction, case, *_ in TABLE],
)
def test_should_gate_the_flip_as_the_table_says(
    tmp_path: Path,
    mode: Compatibility,
    direction: str,
    case: str,
    schemas: list[dict[str, Any]],
    live: int,
    candidate: int,
    expected: tuple[str, list[str]],
) -> None:
    assert (candidate > live) == (direction == "upgrade")
    assert verdict(build_registry(tmp_path / "registry", mode, schemas), live, candidate) == expected
