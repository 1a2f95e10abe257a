"""``call`` steps: checked when the registry loads (``check`` names the file and step), and a step function that
fails on one record rejects that record, with its position and the function's message, on every path."""

from __future__ import annotations

import json
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from registry_factory import field, record, write_subject

from versioning import Registry, RegistryError
from versioning.cli import main

V1 = record(field("id", "string"), field("name", "string"))
V2 = record(field("id", "string"), field("name", "string"), field("initial", "string", default=""))

GOOD_STEPS = """
def initial(record):
    if record["name"] == "boom":
        raise ValueError("a name of 'boom' has no initial")
    return {**record, "initial": record["name"][:1]}


def forget(record):
    return {k: v for k, v in record.items() if k != "initial"}
"""


def _registry(
    root: Path, steps_py: str | None, upgrade: str = "steps:initial", downgrade: str = "steps:forget"
) -> Path:
    call = {"upgrade": upgrade, "downgrade": downgrade}
    folder = write_subject(root, "things", [V1, V2], steps=[{"from": 1, "to": 2, "upgrade": [{"call": call}]}])
    if steps_py is not None:
        (folder / "steps.py").write_text(steps_py)
    return root


BROKEN = [
    ("module missing", None, "steps:initial", "cannot import the module of 'steps:initial'"),
    (
        "module raises at import",
        "raise RuntimeError('no config')\n",
        "steps:initial",
        "raised RuntimeError while being imported: no config",
    ),
    ("module does not parse", "def initial(:\n", "steps:initial", "raised SyntaxError while being imported"),
    ("function missing", GOOD_STEPS, "steps:initials", "the module 'steps' has no 'initials'"),
    ("not callable", GOOD_STEPS + "\nNOT_A_FUNCTION = 3\n", "steps:NOT_A_FUNCTION", "names a int, not a function"),
    ("not module:function", GOOD_STEPS, "initial", "'initial' is not 'package.module:function'"),
    ("python path module missing", GOOD_STEPS, "no_such_package.steps:initial", "cannot import the module"),
]


@pytest.mark.parametrize(("case", "steps_py", "upgrade", "words"), BROKEN, ids=[b[0] for b in BROKEN])
def test_should_refuse_a_registry_whose_call_step_cannot_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, steps_py: str | None, upgrade: str, words: str
) -> None:
    root = _registry(tmp_path / "schemas", steps_py, upgrade=upgrade)
    with pytest.raises(RegistryError) as caught:
        Registry.load(root)
    assert "things/subject.yaml:steps[0].upgrade" in str(caught.value)
    assert "call upgrade: " in str(caught.value) and words in str(caught.value)
    code = main(["check", "--registry", str(root)])
    out, err = capsys.readouterr()
    assert code == 1 and words in out and "Traceback" not in err


def test_should_check_the_downgrade_function_too(tmp_path: Path) -> None:
    root = _registry(tmp_path / "schemas", GOOD_STEPS, downgrade="steps:remember")
    with pytest.raises(RegistryError, match="call downgrade: 'steps:remember': the module 'steps' has no 'remember'"):
        Registry.load(root)


def test_should_load_a_registry_whose_call_steps_load(tmp_path: Path) -> None:
    subject = Registry.load(_registry(tmp_path / "schemas", GOOD_STEPS)).subject("things")
    assert subject.convert({"id": "1", "name": "Ana"}, 2, 1)["initial"] == "A"


ROWS = [{"id": "1", "name": "Ana"}, {"id": "2", "name": "boom"}, {"id": "3", "name": "Cy"}]


def _write(path: Path) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif path.suffix == ".avro":
        with path.open("wb") as handle:
            fastavro.writer(handle, fastavro.parse_schema(V1), ROWS)
    else:
        pq.write_table(pa.Table.from_pylist(ROWS), path)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".avro", ".parquet"])
@pytest.mark.parametrize("rejects", [False, True])
def test_should_reject_the_record_a_step_function_fails_on_every_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str, rejects: bool
) -> None:
    root = _registry(tmp_path / "schemas", GOOD_STEPS)
    source = _write(tmp_path / f"in{suffix}")
    target = tmp_path / f"out{suffix}"
    extra = ["--rejects", str(tmp_path / "rejects.jsonl")] if rejects else []
    code = main(
        ["upgrade", "things", str(source), str(target), "--to", "2", "--from", "1", *extra, "--registry", str(root)]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert f"{source}, {'line' if suffix == '.jsonl' else 'record'} 2: " in out
    assert "steps:initial failed on a record: ValueError: a name of 'boom' has no initial" in out
    assert "Traceback" not in err
    if not rejects:
        assert not target.exists()
        return
    entries = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [(e["position"], e["record"]["name"]) for e in entries] == [(2, "boom")]
    assert "a name of 'boom' has no initial" in entries[0]["errors"][0]


def test_should_find_a_call_module_gone_from_the_python_path_even_after_a_clean_check(tmp_path: Path) -> None:
    # The verdict cache keys on the subject's own files; a module elsewhere on the Python path is not among them,
    # so a subject with a call step is never taken as clean from the cache.
    import os
    import subprocess
    import sys

    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "external_steps.py").write_text(GOOD_STEPS)
    root = _registry(tmp_path / "registry", None, "external_steps:initial", "external_steps:forget")
    env = {**os.environ, "PYTHONPATH": str(modules), "VERSIONING_CACHE_DIR": str(tmp_path / "cache")}

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "versioning", "check", "--registry", str(root)],
                              env=env, capture_output=True, text=True, timeout=120, check=False)

    assert check().returncode == 0
    (modules / "external_steps.py").unlink()
    gone = check()
    assert gone.returncode == 1
    assert "cannot import the module of 'external_steps:initial'" in gone.stdout + gone.stderr
