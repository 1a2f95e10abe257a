"""``datapipe init``: a new migration project folder with a commented ``config.yaml`` template."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jinja2

from datapipe.config import WAREHOUSES, Cloud
from datapipe.errors import ConfigError, ConfigProblem, ProjectExistsError, UnsupportedTargetError


def init_project(folder: str | Path, cloud: Cloud, today: dt.date | None = None) -> Path:
    """Create ``folder/config.yaml`` for ``cloud``; the project is named after the folder. Returns the file.

    Only ``gcp`` is supported: datapipe generates BigQuery pipelines; Redshift and Synapse ones are refused here,
    before any project exists, rather than after a migration has been set up around them."""
    if cloud is not Cloud.GCP:
        raise UnsupportedTargetError(cloud.value, WAREHOUSES[cloud], [Cloud.GCP.value], at="init")
    path = Path(folder)
    name = path.name
    if not name or not name[0].isalpha() or not all(c.isalnum() or c == "-" for c in name) or name != name.lower():
        raise ConfigError(
            str(path),
            [ConfigProblem("project.name", "use lower case letters, digits and dashes, starting with a letter")],
        )
    config = path / "config.yaml"
    if config.exists():
        raise ProjectExistsError(str(config))
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("datapipe", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # YAML, not HTML
    )
    text = env.get_template("config.yaml.j2").render(
        name=name, cloud=cloud.value, start_date=(today or dt.date.today()).isoformat()
    )
    path.mkdir(parents=True, exist_ok=True)
    config.write_text(text, encoding="utf-8")
    return config
