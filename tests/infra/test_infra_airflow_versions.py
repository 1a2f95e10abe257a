"""Both colours share one metadata database: while a colour is live, the other may not run another Airflow.

A release's migration Job runs ``airflow db migrate`` for its own Airflow version against the shared
database, so a candidate on another version would migrate the schema under the live colour. The program
refuses that before declaring anything, unless ``allowAirflowVersionChange`` acknowledges it (the
maintenance-window release described in docs/deploying.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from infra_fixtures import ROOT, base_config, run_stack

from infra.gate import AirflowVersionRefused
from infra.offline.render import EXIT_REFUSED


def draw(args: list[str]) -> int:
    """``pipeline-platform render ARGS`` in this process; returns the exit code."""
    from infra.cli import main

    return main(["render", *args])


def _config(active: str, blue: str, green: str, allow: bool) -> dict[str, object]:
    config = base_config(activeColor=active, allowAirflowVersionChange=allow)
    config["releases"]["blue"]["airflowVersion"] = blue
    config["releases"]["blue"]["image"]["tag"] = f"{blue}-python3.12"
    config["releases"]["green"]["airflowVersion"] = green
    return config


VERSION_TABLE = [
    # live, active, blue, green, allowAirflowVersionChange, verdict
    ("none", "blue", "3.0.2", "3.1.0", False, "allowed"),
    ("blue", "blue", "3.0.2", "3.0.2", False, "allowed"),
    ("blue", "green", "3.0.2", "3.0.2", False, "allowed"),
    ("blue", "blue", "3.0.2", "3.1.0", False, "refused"),
    ("blue", "green", "3.0.2", "3.1.0", False, "refused"),
    ("green", "green", "3.0.2", "3.1.0", False, "refused"),
    ("blue", "blue", "3.0.2", "3.0.3", False, "refused"),
    ("blue", "blue", "2.10.5", "3.0.2", False, "refused"),
    ("blue", "blue", "3.0.2", "3.1.0", True, "allowed"),
    ("blue", "green", "3.0.2", "3.1.0", True, "allowed"),
]


@pytest.mark.parametrize(
    ("live", "active", "blue", "green", "allow", "expected"),
    VERSION_TABLE,
    ids=[f"live-{r[0]}-active-{r[1]}-{r[2]}-{r[3]}{'-allowed' if r[4] else ''}" for r in VERSION_TABLE],
)
def test_should_refuse_two_airflow_versions_on_the_shared_database_while_a_colour_is_live(
    live: str, active: str, blue: str, green: str, allow: bool, expected: str
) -> None:
    config = _config(active, blue, green, allow)
    if expected == "allowed":
        run = run_stack(config, live=live)
        assert run.find("Job", "airflow-green-migrate")
        return
    with pytest.raises(AirflowVersionRefused) as raised:
        run_stack(config, live=live)
    other = "green" if live == "blue" else "blue"
    assert (raised.value.live.value, raised.value.other.value) == (live, other)
    message = str(raised.value)
    versions = {"blue": blue, "green": green}
    assert message.startswith(
        f"refusing to deploy releases.{other}.airflowVersion {versions[other]} beside {live} (live) "
        f"on Airflow {versions[live]}: both colours share one metadata database"
    )
    assert "`pulumi up --config allowAirflowVersionChange=true`" in message
    assert f"Keep releases.{other}.airflowVersion at {versions[live]}" in message


def test_should_exit_1_from_the_render_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    stack["config"]["pipeline-platform:releases"]["green"]["airflowVersion"] = "3.1.0"
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml",):
        (project / name).write_text((ROOT / name).read_text())
    for name in ("infra", "schemas", "Dockerfile"):
        (project / name).symlink_to(ROOT / name)
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack))
    out = tmp_path / "out"
    code = draw(["--stack", "dev", "--out", str(out), "--live-color", "blue", "--project-dir", str(project)])
    assert code == EXIT_REFUSED
    assert "refusing to deploy releases.green.airflowVersion 3.1.0 beside blue (live)" in capsys.readouterr().err
    assert not out.exists()
