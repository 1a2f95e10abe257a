"""The registry at scale gives exactly the answers of the full reference load: lazily, from cached verdicts, and
with transitive histories summarised.

The reference here is the specification itself: every version checked with the reference walk
(:func:`versioning.compatibility.check_compatibility`) against its earlier versions, and a flip checked pair by
pair with :func:`versioning.compatibility.check_reader_writer`.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from versioning import Compatibility, Registry, RegistryError, check_compatibility, check_reader_writer
from versioning.compatibility import CompatibilityChecker
from versioning.registry_cache import VerdictCache
from versioning.schema import Schema, parse_schema

TYPES: list[Any] = [
    "int",
    "long",
    "double",
    "string",
    "bytes",
    ["null", "string"],
    ["null", "long"],
    {"type": "array", "items": "int"},
    {"type": "array", "items": "long"},
    {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]},
    {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN", "BLUE"], "default": "RED"},
    {"type": "record", "name": "Point", "fields": [{"name": "x", "type": "int"}]},
    {"type": "record", "name": "Point", "fields": [{"name": "x", "type": "long"}]},
]
DEFAULTS: dict[str, Any] = {"int": 0, "long": 0, "double": 0.0, "string": "", "bytes": ""}
MODES = [m for m in Compatibility if m is not Compatibility.NONE]


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Versions of one record subject: fields come and go and change type, as long histories do."""
    out = []
    for _ in range(draw(st.integers(2, 7))):
        fields = []
        for name in draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=5, unique=True)):
            kind = draw(st.sampled_from(TYPES))
            if isinstance(kind, dict) and "name" in kind:
                kind = {**kind, "name": f"{kind['name']}_{name}"}  # a named type is defined once per schema
            field: dict[str, Any] = {"name": name, "type": kind}
            if draw(st.integers(0, 3)) > 0:  # mostly with defaults, so that many histories are compatible
                if isinstance(kind, list):
                    field["default"] = None
                elif isinstance(kind, str):
                    field["default"] = DEFAULTS[kind]
                elif kind["type"] == "array":
                    field["default"] = []
                elif kind["type"] == "enum":
                    field["default"] = "RED"
            if draw(st.integers(0, 7)) == 0:
                field["aliases"] = [draw(st.sampled_from("abcdef"))]
            fields.append(field)
        name = draw(st.sampled_from(["Thing", "Thing", "Thing", "Other"]))
        out.append({"type": "record", "name": name, "fields": fields})
    return out


def reference_problems(schemas: list[Schema], mode: Compatibility, subject: str | None = None) -> list[str]:
    """Each version against its earlier ones with the reference walk: what loading must report."""
    found = []
    for k in range(1, len(schemas)):
        result = check_compatibility(schemas[k], schemas[:k], mode, subject=subject, new_version=k + 1)
        found += [str(i) for i in result.incompatibilities]
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), mode=st.sampled_from(MODES))
def test_should_check_a_history_exactly_as_the_reference_with_one_remembering_checker(
    history: list[dict[str, Any]], mode: Compatibility
) -> None:
    schemas = [parse_schema(s) for s in history]
    checker = CompatibilityChecker()  # one per subject, as the registry keeps it: the history summary grows
    found = []
    for k in range(1, len(schemas)):
        result = checker.check(schemas[k], schemas[:k], mode, new_version=k + 1)
        found += [str(i) for i in result.incompatibilities]
    assert found == reference_problems(schemas, mode)


def write_subject(root: Path, name: str, history: list[dict[str, Any]], mode: Compatibility) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    for version, schema in enumerate(history, start=1):
        (folder / f"v{version}.avsc").write_text(json.dumps(schema))
    steps = []
    for version in range(1, len(history)):
        before = {f["name"] for f in history[version - 1]["fields"]}
        # A field added without a default gets a value, so that the steps themselves are always valid.
        add = [
            {"add": {"field": f["name"], "value": _value(f["type"])}}
            for f in history[version]["fields"]
            if f["name"] not in before and "default" not in f
        ]
        steps.append({"from": version, "to": version + 1, "upgrade": add})
    (folder / "subject.yaml").write_text(yaml.safe_dump({"compatibility": mode.value, "steps": steps}))


def _value(kind: Any) -> Any:
    if isinstance(kind, list):
        return None
    if isinstance(kind, str):
        return DEFAULTS[kind]
    return {"array": [], "enum": "RED", "record": {"x": 0}}[kind["type"]]


def answers(registry: Registry, name: str, count: int) -> dict[tuple[int, int], list[str]]:
    return {
        (live, candidate): [str(i) for i in registry.check_transition(name, live, candidate).incompatibilities]
        for live in range(1, count + 1)
        for candidate in range(1, count + 1)
    }


def reference_transition(schemas: list[Schema], mode: Compatibility, live: int, candidate: int) -> list[str]:
    """A flip checked pair by pair with the reference walk (the candidate takes the new version's role)."""
    if live == candidate or mode is Compatibility.NONE:
        return []
    if mode.transitive:
        low, high = sorted((live, candidate))
        others = sorted((v for v in range(low, high + 1) if v != candidate), key=lambda v: abs(v - candidate))
    else:
        others = [live]
    found = []
    new = schemas[candidate - 1]
    for version in others:
        old = schemas[version - 1]
        if mode.backward:
            found += check_reader_writer(
                new, old, subject="things", reader_version=candidate, writer_version=version
            ).incompatibilities
        if mode.forward:
            found += check_reader_writer(
                old, new, subject="things", reader_version=version, writer_version=candidate
            ).incompatibilities
    return [str(i) for i in found]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(history=histories(), mode=st.sampled_from(MODES))
def test_should_answer_cold_warm_and_lazy_exactly_as_the_reference(
    tmp_path_factory: pytest.TempPathFactory, history: list[dict[str, Any]], mode: Compatibility
) -> None:
    root = tmp_path_factory.mktemp("registry")
    write_subject(root, "things", history, mode)
    cache = VerdictCache(tmp_path_factory.mktemp("verdicts"))
    schemas = [parse_schema(s) for s in history]
    expected = [f"breaks {mode.value}: {i}" for i in reference_problems(schemas, mode, "things")]
    if expected:
        for attempt in ("cold", "again"):  # problems are never cached: the same list every time
            with pytest.raises(RegistryError) as raised:
                Registry.load(root, verdicts=cache)
            assert [p.message for p in raised.value.problems] == expected, attempt
        return
    cold = Registry.load(root, verdicts=cache)
    warm = Registry.load(root, verdicts=cache)  # every verdict taken from the cache
    lazy = Registry.open(root, verdicts=VerdictCache(tmp_path_factory.mktemp("empty")))
    count = len(history)
    reference = {
        (live, candidate): reference_transition(schemas, mode, live, candidate)
        for live in range(1, count + 1)
        for candidate in range(1, count + 1)
    }
    assert answers(cold, "things", count) == reference
    assert answers(warm, "things", count) == reference
    assert answers(lazy, "things", count) == reference


def test_should_check_only_the_subjects_named(tmp_path: Path) -> None:
    write_subject(tmp_path, "good", [{"type": "record", "name": "A", "fields": []}], Compatibility.BACKWARD)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "v1.avsc").write_text("{not json")
    registry = Registry.load(tmp_path, ["good"], verdicts=VerdictCache(tmp_path / ".cache"))
    assert registry.subject("good").versions == [1]
    assert sorted(registry.subjects) == ["broken", "good"]  # known by name, never read
    with pytest.raises(RegistryError, match=r"broken/v1.avsc: not valid JSON"):
        registry.subject("broken")
    with pytest.raises(RegistryError, match=r"broken/v1.avsc: not valid JSON"):
        Registry.load(tmp_path, verdicts=VerdictCache(tmp_path / ".cache"))


ADD = [
    {"type": "record", "name": "A", "fields": [{"name": "id", "type": "string"}]},
    {"type": "record", "name": "A", "fields": [{"name": "id", "type": "string"}, {"name": "n", "type": "int"}]},
]
"""v2 adds a field without a default: BACKWARD breaks (v2 cannot read v1's records)."""


def test_should_recheck_a_subject_whose_files_changed_after_a_clean_verdict(tmp_path: Path) -> None:
    cache = VerdictCache(tmp_path / "verdicts")
    write_subject(tmp_path / "reg", "a", ADD[:1], Compatibility.BACKWARD)
    Registry.load(tmp_path / "reg", verdicts=cache)
    (tmp_path / "reg" / "a" / "v2.avsc").write_text(json.dumps(ADD[1]))
    step = {"from": 1, "to": 2, "upgrade": [{"add": {"field": "n", "value": 0}}]}
    (tmp_path / "reg" / "a" / "subject.yaml").write_text(yaml.safe_dump({"steps": [step]}))
    with pytest.raises(RegistryError, match="READER_FIELD_MISSING_DEFAULT_VALUE"):
        Registry.load(tmp_path / "reg", verdicts=cache)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_text("{not json"), id="not JSON"),
        pytest.param(lambda p: p.write_bytes(b"\xff\xfe\x00"), id="not text"),
        pytest.param(lambda p: p.write_text(json.dumps({"key": "other", "verdict": "clean"})), id="another key"),
        pytest.param(lambda p: p.write_text(json.dumps([1, 2])), id="not an object"),
        pytest.param(lambda p: p.unlink(), id="deleted"),
    ],
)
def test_should_ignore_a_damaged_or_missing_cache_entry(tmp_path: Path, damage: Any) -> None:
    cache = VerdictCache(tmp_path / "verdicts")
    write_subject(tmp_path / "reg", "a", ADD, Compatibility.NONE)
    Registry.load(tmp_path / "reg", verdicts=cache)
    entries = list((tmp_path / "verdicts").rglob("*.json"))
    assert len(entries) == 1
    damage(entries[0])
    # A damaged entry is a miss: the subject is checked again and a good entry written in its place.
    registry = Registry.load(tmp_path / "reg", verdicts=cache)
    assert registry.subject("a").versions == [1, 2]
    assert len(list((tmp_path / "verdicts").rglob("*.json"))) == 1
    assert json.loads(next((tmp_path / "verdicts").rglob("*.json")).read_text())["verdict"] == "clean"


def test_should_refuse_a_version_file_changed_after_the_subject_was_taken_as_checked(tmp_path: Path) -> None:
    cache = VerdictCache(tmp_path / "verdicts")
    write_subject(tmp_path / "reg", "a", ADD, Compatibility.NONE)
    Registry.load(tmp_path / "reg", verdicts=cache)
    subject = Registry.load(tmp_path / "reg", verdicts=cache).subject("a")  # checked clean before: read lazily
    (tmp_path / "reg" / "a" / "v1.avsc").write_text(json.dumps({"type": "record", "name": "A", "fields": []}))
    with pytest.raises(RegistryError, match=r"a/v1.avsc: changed since the registry was loaded"):
        subject.schema(1)
    assert subject.schema(2) == ADD[1]


def test_should_not_write_verdicts_where_it_cannot(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    write_subject(tmp_path / "reg", "a", ADD, Compatibility.NONE)
    registry = Registry.load(tmp_path / "reg", verdicts=VerdictCache(blocker / "verdicts"))
    assert registry.subject("a").versions == [1, 2]


@pytest.mark.parametrize("enabled", [True, False])
def test_should_leave_the_garbage_collector_as_it_found_it(tmp_path: Path, enabled: bool) -> None:
    write_subject(tmp_path / "reg", "a", ADD, Compatibility.NONE)
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        Registry.load(tmp_path / "reg", verdicts=VerdictCache(tmp_path / "v"))
        Registry.open(tmp_path / "reg", verdicts=VerdictCache(tmp_path / "v")).subject("a")
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_should_let_a_command_about_one_subject_ignore_a_broken_other(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from versioning.cli import cli

    write_subject(tmp_path / "reg", "good", [{"type": "record", "name": "A", "fields": []}], Compatibility.BACKWARD)
    (tmp_path / "reg" / "broken").mkdir()
    (tmp_path / "reg" / "broken" / "v1.avsc").write_text("{not json")
    data = tmp_path / "good.jsonl"
    data.write_text("{}\n")
    done = CliRunner().invoke(cli, ["validate", "good", str(data), "--registry", str(tmp_path / "reg")])
    assert done.exit_code == 0, done.output
    checked = CliRunner().invoke(cli, ["check", "--registry", str(tmp_path / "reg")])
    assert checked.exit_code == 1 and "broken/v1.avsc" in checked.output  # the whole registry: every problem
