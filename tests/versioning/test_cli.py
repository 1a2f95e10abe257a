"""The versioning CLI end to end: real files in, real files out, exit codes and messages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import fastavro
import pyarrow.parquet as pq
import pytest

from versioning.cli import main

V1_ROWS = [
    {"id": "u1", "name": "Ana", "created_at": "2024-01-01T00:00:00Z"},
    {"id": "u2", "name": "Bo", "created_at": "2024-02-01T00:00:00Z", "schema_version": 1},
    {
        "id": "u3",
        "name": "Cy",
        "created_at": "2024-03-01T00:00:00Z",
        "email": "c@y.io",
        "updated_at": "2024-03-02T00:00:00Z",
        "schema_version": 2,
    },
]


@pytest.fixture
def registry(tmp_path: Path, users_registry_dir: Path) -> Path:
    return Path(shutil.copytree(users_registry_dir, tmp_path / "schemas"))


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def avsc(path: Path, *fields: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"type": "record", "name": "User", "fields": list(fields)}))
    return path


class TestCompat:
    def test_should_exit_0_for_compatible_files(self, tmp_path: Path, capsys) -> None:
        old = avsc(tmp_path / "old.avsc", {"name": "a", "type": "int"})
        new = avsc(
            tmp_path / "new.avsc",
            {"name": "a", "type": "long"},
            {"name": "b", "type": ["null", "string"], "default": None},
        )
        code, out, _ = run(capsys, "compat", old, new)
        assert (code, out.split(":")[0]) == (0, "compatible (backward)")

    def test_should_exit_1_with_one_line_per_incompatibility(self, tmp_path: Path, capsys) -> None:
        old = avsc(tmp_path / "old.avsc", {"name": "a", "type": "long"})
        new = avsc(tmp_path / "new.avsc", {"name": "a", "type": "int"}, {"name": "b", "type": "string"})
        code, out, _ = run(capsys, "compat", old, new)
        assert code == 1
        assert [line.split(" at ")[0] for line in out.splitlines()] == [
            "TYPE_MISMATCH",
            "READER_FIELD_MISSING_DEFAULT_VALUE",
        ]
        assert "/fields/0/type" in out and "/fields/1" in out

    def test_should_check_forward_as_old_reading_new(self, tmp_path: Path, capsys) -> None:
        old = avsc(tmp_path / "old.avsc", {"name": "a", "type": "int"})
        new = avsc(tmp_path / "new.avsc", {"name": "a", "type": "int"}, {"name": "b", "type": "string"})
        assert run(capsys, "compat", old, new)[0] == 1
        assert run(capsys, "compat", old, new, "--mode", "forward")[0] == 0

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (None, "cannot read the file"),
            ("{not json", "not valid JSON at line 1, column 2"),
            (
                '{"type": "record", "name": "X", "fields": [{"name": "a", "type": "int", "default": "x"}]}',
                "#/fields/0/default",
            ),
        ],
    )
    def test_should_exit_2_for_bad_schema_files(
        self, tmp_path: Path, capsys, content: str | None, message: str
    ) -> None:
        good = avsc(tmp_path / "good.avsc", {"name": "a", "type": "int"})
        bad = tmp_path / "bad.avsc"
        if content is not None:
            bad.write_text(content)
        code, _, err = run(capsys, "compat", good, bad)
        assert code == 2
        assert "bad.avsc" in err and message in err
        assert "Traceback" not in err


class TestCompatPairs:
    """``compat --pairs``: many pairs in one process, each answered as ``compat OLD NEW`` answers it."""

    @pytest.fixture
    def schemas(self, tmp_path: Path) -> dict[str, Path]:
        return {
            "v1": avsc(tmp_path / "v1.avsc", {"name": "a", "type": "int"}),
            "v2": avsc(tmp_path / "v2.avsc", {"name": "a", "type": "long"}),
            "v3": avsc(tmp_path / "v3.avsc", {"name": "a", "type": "long"}, {"name": "b", "type": "string"}),
        }

    def test_should_answer_every_pair_as_the_single_pair_command_does(
        self, tmp_path: Path, schemas: dict[str, Path], capsys
    ) -> None:
        lines = [("v1", "v2", None), ("v2", "v3", None), ("v2", "v3", "forward"), ("v2", "v1", "full")]
        pairs = tmp_path / "pairs.txt"
        pairs.write_text(
            "# old new [mode]\n\n" + "".join(f"{schemas[o]} {schemas[n]}{' ' + m if m else ''}\n" for o, n, m in lines)
        )
        code, out, err = run(capsys, "compat", "--pairs", pairs, "--format", "json")
        document = json.loads(out)
        assert (code, err) == (1, "")  # v2 -> v3 adds a field without a default: not backward
        assert (document["compatible"], document["checked"], document["errors"]) == (False, 4, 0)
        for found, (old, new, mode) in zip(document["pairs"], lines, strict=True):
            single_code, single_out, _ = run(
                capsys, "compat", schemas[old], schemas[new], "--mode", mode or "backward", "--json"
            )
            assert {k: v for k, v in found.items() if k != "line"} == json.loads(single_out)
            assert found["compatible"] is (single_code == 0)
        assert [p["line"] for p in document["pairs"]] == [3, 4, 5, 6]

        code, out, _ = run(capsys, "compat", "--pairs", pairs)
        assert code == 1
        assert out.splitlines()[0] == f"compatible (backward): {schemas['v2']} with {schemas['v1']}"
        assert out.splitlines()[1].startswith("READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1")

    def test_should_exit_0_when_all_are_compatible(self, tmp_path: Path, schemas: dict[str, Path], capsys) -> None:
        pairs = tmp_path / "pairs.txt"
        pairs.write_text(f"{schemas['v1']} {schemas['v2']}\n{schemas['v2']} {schemas['v3']} forward\n")
        code, out, _ = run(capsys, "compat", "--pairs", pairs)
        assert code == 0 and out.splitlines()[-1] == "2 pairs checked: all compatible"

    def test_should_check_every_pair_and_name_the_lines_it_cannot(
        self, tmp_path: Path, schemas: dict[str, Path], capsys
    ) -> None:
        pairs = tmp_path / "pairs.txt"
        pairs.write_bytes(
            f"{schemas['v1']} {tmp_path / 'missing.avsc'}\n"
            f"{schemas['v1']}\n"
            f"{schemas['v1']} {schemas['v2']} sideways\n"
            f"{schemas['v1']} {schemas['v2']}\n".encode()
            + b"caf\xe9.avsc v2.avsc\n"
            + f"{schemas['v2']} {schemas['v3']} forward\n".encode()
        )
        code, out, err = run(capsys, "compat", "--pairs", pairs)
        assert code == 2 and "Traceback" not in err
        assert f"compatible (backward): {schemas['v2']} with {schemas['v1']}" in out  # line 4 still checked
        assert f"{pairs}:1: {tmp_path / 'missing.avsc'}: cannot read the file" in err
        assert f"{pairs}:2: expected 'OLD NEW [MODE]', got 1 words" in err
        assert f"{pairs}:3: unknown mode 'sideways'" in err
        assert f"{pairs}:5: not UTF-8 text" in err
        assert f"compatible (forward): {schemas['v3']} with {schemas['v2']}" in out  # after the bad line too
        assert err.splitlines()[-1] == f"error: {pairs}: 4 of 6 pairs could not be checked (listed above)"

    def test_should_refuse_pairs_beside_old_and_new_and_neither(self, schemas: dict[str, Path], capsys) -> None:
        assert run(capsys, "compat", schemas["v1"], "--pairs", "-")[0] == 2
        code, _, err = run(capsys, "compat")
        assert code == 2 and "give OLD and NEW, or --pairs FILE" in err


class TestCheck:
    def test_should_pass_the_projects_registry(self, registry: Path, capsys) -> None:
        code, out, _ = run(capsys, "check", "--registry", registry)
        assert (code, out.strip()) == (0, "ok  users: v1, v2, v3 (BACKWARD, table users)")

    def test_should_exit_1_and_list_problems(self, registry: Path, capsys) -> None:
        (registry / "users" / "v2.avsc").unlink()
        code, out, _ = run(capsys, "check", "--registry", registry)
        assert code == 1
        assert "users/v2.avsc: missing: version numbers must have no gaps" in out


class TestValidate:
    def test_should_report_every_error_with_line_and_field(self, registry: Path, tmp_path: Path, capsys) -> None:
        rows = [V1_ROWS[0], {"id": 5, "name": "x"}, V1_ROWS[2], {**V1_ROWS[0], "schema_version": 9}]
        data = write_jsonl(tmp_path / "users.jsonl", rows)
        data.write_text(data.read_text().replace("\n", "\n\n", 1))  # a blank line 2 still counts as a line
        code, out, err = run(capsys, "validate", "users", data, "--registry", registry)
        assert (code, err) == (1, "")
        assert out.splitlines() == [
            f"{data}, line 3: id: expected string, got int 5",
            f"{data}, line 3: created_at: missing required field",
            f"{data}, line 5: subject 'users' has no version 9; known versions: 1, 2, 3",
            f"{data}: 4 records, 2 invalid (users)",
        ]

    def test_should_exit_0_for_valid_avro(self, registry: Path, tmp_path: Path, capsys) -> None:
        schema = json.loads((registry / "users" / "v1.avsc").read_text())
        path = tmp_path / "users.avro"
        with path.open("wb") as handle:
            fastavro.writer(handle, fastavro.parse_schema(schema), [V1_ROWS[0]] * 5)
        code, out, _ = run(capsys, "validate", "users", path, "--version", "1", "--registry", registry)
        assert (code, out.strip()) == (0, f"{path}: 5 records, 0 invalid (users)")

    def test_should_report_a_malformed_line_as_invalid_and_check_the_rest(
        self, registry: Path, tmp_path: Path, capsys
    ) -> None:
        data = tmp_path / "users.jsonl"
        data.write_text(json.dumps(V1_ROWS[0]) + "\n{broken\n" + json.dumps({"id": "x"}) + "\n")
        code, out, err = run(capsys, "validate", "users", data, "--version", "1", "--registry", registry)
        assert code == 1
        assert f"{data}, line 2: not valid JSON" in out and f"{data}, line 3: name:" in out
        assert "Traceback" not in err


class TestUpgrade:
    @pytest.mark.parametrize("suffix", [".jsonl", ".avro", ".parquet"])
    def test_should_upgrade_a_file_to_v3(self, registry: Path, tmp_path: Path, capsys, suffix: str) -> None:
        data = write_jsonl(tmp_path / "in.jsonl", V1_ROWS)
        out_path = tmp_path / f"out{suffix}"
        code, out, _ = run(
            capsys, "upgrade", "users", data, out_path, "--to", "3", "--from", "1", "--registry", registry
        )
        assert code == 0, out
        rows = read_back(out_path)
        assert [r["updated_at"] for r in rows] == [
            "2024-01-01T00:00:00Z",
            "2024-02-01T00:00:00Z",
            "2024-03-02T00:00:00Z",
        ]
        assert [r["email"] for r in rows] == [None, None, "c@y.io"]
        assert {r.get("phone") for r in rows} == {None}

    @pytest.mark.parametrize("suffix", [".avro", ".parquet"])
    def test_should_upgrade_same_format_files_through_the_file_fast_path(
        self, registry: Path, tmp_path: Path, capsys, suffix: str
    ) -> None:
        v1_rows = [{k: r[k] for k in ("id", "name", "created_at")} for r in V1_ROWS]
        source = tmp_path / f"in{suffix}"
        assert (
            run(
                capsys,
                "upgrade",
                "users",
                write_jsonl(tmp_path / "in.jsonl", v1_rows),
                source,
                "--to",
                "1",
                "--from",
                "1",
                "--registry",
                registry,
            )[0]
            == 0
        )
        code, out, _ = run(
            capsys,
            "upgrade",
            "users",
            source,
            tmp_path / f"out{suffix}",
            "--to",
            "3",
            "--from",
            "1",
            "--registry",
            registry,
        )
        assert (code, out.strip()) == (0, f"{tmp_path / f'out{suffix}'}: 3 records at users v3 (0 rejected)")
        rows = read_back(tmp_path / f"out{suffix}")
        assert [(r["updated_at"], r["email"], r["phone"]) for r in rows] == [
            (r["created_at"], None, None) for r in v1_rows
        ]

    def test_should_list_every_error_when_the_file_fast_path_refuses(
        self, registry: Path, tmp_path: Path, capsys
    ) -> None:
        # A v1 Avro file whose names are null: valid Avro for its own writer schema, invalid for users v1.
        schema = {
            "type": "record",
            "name": "User",
            "namespace": "platform.users",
            "fields": [
                {"name": "id", "type": "string"},
                {"name": "name", "type": ["null", "string"]},
                {"name": "created_at", "type": "string"},
            ],
        }
        source = tmp_path / "in.avro"
        with source.open("wb") as handle:
            fastavro.writer(handle, fastavro.parse_schema(schema), [{"id": "a", "name": None, "created_at": "t"}] * 2)
        code, out, err = run(
            capsys,
            "upgrade",
            "users",
            source,
            tmp_path / "out.avro",
            "--to",
            "3",
            "--from",
            "1",
            "--registry",
            registry,
        )
        assert code in (1, 2)
        assert "record 1" in out + err and "name" in out + err
        assert not (tmp_path / "out.avro").exists()

    def test_should_downgrade_back_to_the_original(self, registry: Path, tmp_path: Path, capsys) -> None:
        data = write_jsonl(tmp_path / "in.jsonl", V1_ROWS[:2])
        run(capsys, "upgrade", "users", data, tmp_path / "v3.jsonl", "--to", "3", "--from", "1", "--registry", registry)
        code, _, _ = run(
            capsys,
            "upgrade",
            "users",
            tmp_path / "v3.jsonl",
            tmp_path / "v1.jsonl",
            "--to",
            "1",
            "--registry",
            registry,
        )
        assert code == 0
        assert read_back(tmp_path / "v1.jsonl") == [{**r, "schema_version": 1} for r in V1_ROWS[:2]]

    def test_should_write_nothing_when_a_record_is_invalid(self, registry: Path, tmp_path: Path, capsys) -> None:
        data = write_jsonl(tmp_path / "in.jsonl", [V1_ROWS[0], {"id": "x"}])
        out_path = tmp_path / "out.parquet"
        code, out, _ = run(
            capsys, "upgrade", "users", data, out_path, "--to", "3", "--from", "1", "--registry", registry
        )
        assert code == 1
        assert f"{data}, line 2: v1: name: missing required field" in out
        assert not out_path.exists()
        assert list(tmp_path.iterdir()) == [registry, data] or sorted(p.name for p in tmp_path.iterdir()) == [
            "in.jsonl",
            "schemas",
        ]

    def test_should_split_invalid_records_into_rejects(self, registry: Path, tmp_path: Path, capsys) -> None:
        data = write_jsonl(tmp_path / "in.jsonl", [V1_ROWS[0], {"id": "x"}])
        args = [
            "upgrade",
            "users",
            data,
            tmp_path / "out.jsonl",
            "--to",
            "3",
            "--from",
            "1",
            "--rejects",
            tmp_path / "bad.jsonl",
        ]
        code, _, _ = run(capsys, *args, "--registry", registry)
        assert code == 1
        assert [r["id"] for r in read_back(tmp_path / "out.jsonl")] == ["u1"]
        (reject,) = read_back(tmp_path / "bad.jsonl")
        assert reject["position"] == 2 and reject["record"] == {"id": "x"}
        assert reject["errors"][0] == "v1: name: missing required field"


def read_back(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    if path.suffix == ".avro":
        with path.open("rb") as handle:
            return list(fastavro.reader(handle))
    return pq.read_table(path).to_pylist()


class TestExport:
    @pytest.mark.parametrize(
        ("fmt", "probe"),
        [
            ("avro", lambda doc: [f["name"] for f in doc["fields"]][-1] == "phone"),
            ("bigquery", lambda doc: {f["name"]: f["mode"] for f in doc}["phone"] == "NULLABLE"),
            ("json-schema", lambda doc: "phone" not in doc["required"] and "id" in doc["required"]),
        ],
    )
    def test_should_export_a_version(self, registry: Path, tmp_path: Path, capsys, fmt: str, probe) -> None:
        out_path = tmp_path / "users.json"
        code, _, _ = run(capsys, "export", "users", "3", "--format", fmt, "-o", out_path, "--registry", registry)
        assert code == 0
        assert probe(json.loads(out_path.read_text()))

    def test_should_name_known_versions_for_an_unknown_one(self, registry: Path, capsys) -> None:
        code, _, err = run(capsys, "export", "users", "4", "--registry", registry)
        assert (code, err.strip()) == (2, "error: subject 'users' has no version 4; known versions: 1, 2, 3")


def test_should_run_as_a_module_with_help_on_every_command(registry: Path) -> None:
    commands = ["compat", "check", "subjects", "validate", "upgrade", "migrate", "export", "demo"]
    for command in [[], *([c] for c in commands)]:
        done = subprocess.run([sys.executable, "-m", "versioning", *command, "--help"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "Usage: python -m versioning" in done.stdout


def test_should_run_the_demo(registry: Path, capsys) -> None:
    code, out, _ = run(capsys, "demo", "--registry", registry)
    assert code == 0
    assert "round trip identical: True" in out
    assert "ALTER TABLE" in out.upper()


def test_should_report_an_unknown_subject_as_bad_input(registry: Path, capsys) -> None:
    code, _, err = run(capsys, "migrate", "orders", "--from", "1", "--to", "2", "--registry", registry)
    assert (code, err.strip()) == (2, "error: unknown subject 'orders'; the registry holds: users")
