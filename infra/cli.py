"""``pipeline-platform``: the platform's checks and renders without a cluster, for people and for CI.

    pipeline-platform gate --stack dev --live-color blue [--active-color green]     the flip gate alone
    pipeline-platform gate --live users=2 --candidate users=3 [--registry schemas]  the same, from flags
    pipeline-platform render --stack dev --out rendered/dev [--live-color blue] [--active-color green]

``gate`` answers "may traffic move from these schema versions to those?" with the program's own gate
(:mod:`infra.gate`): the same checks, messages and exit codes as ``pulumi up``, so CI can run it before
``pulumi up``. ``render`` runs the program offline under Pulumi's mock runtime (:mod:`infra.offline.render`);
``--active-color`` / ``--set KEY=VALUE`` change the stack's config for this render only, so a flip can be
previewed without editing the stack file.

Exit codes (shared with ``versioning`` and ``datapipe``): 0 allowed / rendered, 1 refused by the gate (schemas,
or Airflow versions on the shared database), 2 bad input (config, registry, stack file, options), 130
interrupted. Results on stdout (``--format json`` for scripts), errors on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from versioning.command_line import (
    CONTEXT_SETTINGS,
    BadInput,
    ExitCode,
    Refused,
    format_option,
    print_error,
    print_json,
    run,
    version_option,
    wants_json,
)

if TYPE_CHECKING:
    from infra.config import StackConfig

COLORS = ["blue", "green"]
PROJECT = "pipeline-platform"


@click.group(context_settings=CONTEXT_SETTINGS)
@version_option("pipeline-platform")
def cli() -> None:
    """The platform without a cluster: the schema gate alone, and the offline render.

    Results go to stdout (--format json for scripts), errors to stderr.
    Exit codes: 0 allowed/rendered, 1 refused by the gate, 2 bad input, 130 interrupted.
    """


def _project_root(given: Path | None) -> Path:
    if given is not None:
        return given.resolve()
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    return Path(__file__).resolve().parents[1]


def _versions(pairs: Sequence[str], flag: str) -> dict[str, int]:
    """``users=2,orders=1`` (repeatable) as ``{"users": 2, "orders": 1}``."""
    found: dict[str, int] = {}
    for text in pairs:
        for item in filter(None, (part.strip() for part in text.split(","))):
            subject, equals, number = item.partition("=")
            if not equals or not subject.strip() or not number.strip().isdigit():
                raise click.BadParameter(f"{item!r} is not SUBJECT=VERSION (e.g. users=3)", param_hint=flag)
            found[subject.strip()] = int(number)
    return found


def _settings(pairs: Sequence[str], active_color: str | None) -> dict[str, str]:
    """``--set key=value`` and ``--active-color`` as config overrides (``pipeline-platform:key`` -> text)."""
    overrides: dict[str, str] = {}
    for item in pairs:
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE (e.g. activeColor=green)", param_hint="--set")
        key = key.strip()
        overrides[key if ":" in key else f"{PROJECT}:{key}"] = value
    if active_color is not None:
        overrides[f"{PROJECT}:activeColor"] = active_color
    return overrides


def _check_stack_files(root: Path, stack: str) -> None:
    """Refuse, naming the file, a Pulumi.yaml or stack file that is not UTF-8, an alias bomb or nested too deeply.

    The render and the gate read these files before the program runs; a hostile one must be a message, not a
    traceback or an exhausted machine.
    """
    import yaml

    from versioning.input_limits import document_problem

    for path in (root / "Pulumi.yaml", root / f"Pulumi.{stack}.yaml"):
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            continue  # read_stack_input says which file is missing and what to do
        except OSError as error:
            raise BadInput(f"{path}: cannot be read ({error.strerror}); check the path and its permissions") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            line = raw.count(b"\n", 0, error.start) + 1
            raise BadInput(
                f"{path}, line {line}: not UTF-8 text (byte 0x{raw[error.start]:02x}); save the file as UTF-8"
            ) from None
        try:
            loaded = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError:
            continue  # read_stack_input reports it with its position
        except RecursionError:
            raise BadInput(f"{path}: nested too deeply to read; flatten it") from None
        hostile = document_problem(loaded)
        if hostile:
            raise BadInput(f"{path}: {hostile}")


def _stack_config(root: Path, stack: str, overrides: dict[str, str]) -> StackConfig:
    """The stack's config as the program parses it (secrets left out: the gate needs none)."""
    from pydantic import ValidationError

    from infra.config import StackConfig
    from infra.config_loader import SECRET_KEYS, problems_from_validation
    from infra.errors import ConfigError
    from infra.offline.render import StackFileError, read_stack_input

    _check_stack_files(root, stack)
    try:
        stack_input = read_stack_input(root, stack)
    except StackFileError as error:
        raise BadInput(str(error)) from None
    secrets = {f"{PROJECT}:{s.key}" for s in SECRET_KEYS}
    plain: dict[str, Any] = {}
    for full_key, text in {**stack_input.config, **overrides}.items():
        if not full_key.startswith(f"{PROJECT}:") or full_key in secrets:
            continue
        try:
            plain[full_key.removeprefix(f"{PROJECT}:")] = json.loads(text)
        except json.JSONDecodeError:
            plain[full_key.removeprefix(f"{PROJECT}:")] = text  # a plain string such as "blue"
    try:
        return StackConfig.model_validate(plain)
    except ValidationError as error:
        raise BadInput(str(ConfigError(problems_from_validation(error), stack))) from None


@cli.command()
@click.option("--stack", help="Read the colours' schema versions from Pulumi.<stack>.yaml.")
@click.option(
    "--live-color",
    type=click.Choice([*COLORS, "none"]),
    help="The colour serving traffic now (with --stack; 'none': first deployment, nothing to gate).",
)
@click.option(
    "--active-color",
    type=click.Choice(COLORS),
    help="The colour traffic would move to [default: the stack's activeColor].",
)
@click.option("--live", "live_pairs", multiple=True, help="Without --stack: the live release's SUBJECT=VERSION list.")
@click.option("--candidate", "candidate_pairs", multiple=True, help="Without --stack: the candidate's SUBJECT=VERSION.")
@click.option(
    "--registry",
    "registry_dir",
    type=click.Path(path_type=Path),
    help="The schema registry [default: the stack's schemaRegistry, else ./schemas].",
)
@click.option(
    "--project-dir", type=click.Path(path_type=Path), help="The folder of Pulumi.yaml [default: found upward]."
)
@format_option
def gate(
    stack: str | None,
    live_color: str | None,
    active_color: str | None,
    live_pairs: tuple[str, ...],
    candidate_pairs: tuple[str, ...],
    registry_dir: Path | None,
    project_dir: Path | None,
    output_format: str,
    as_json: bool,
) -> None:
    """May traffic move from the live schema versions to the candidate's? The program's own gate, alone.

    From a stack: --stack dev --live-color blue [--active-color green]. From flags: --live users=2
    --candidate users=3 [--registry schemas]. Exit 0 allowed, 1 refused (every incompatibility listed), 2 bad
    input (an unknown subject or version, a broken registry, a bad stack file).
    """
    from infra.config import Color
    from infra.errors import ConfigError, ConfigProblem
    from infra.gate import (
        AirflowVersionRefused,
        FlipRefused,
        check_flip,
        enforce_airflow_versions,
        registry_problems,
        schema_reference_problems,
    )

    json_out = wants_json(output_format, as_json)
    if stack is None and (live_color is not None or active_color is not None):
        raise click.UsageError("--live-color and --active-color read a stack: give --stack too")
    if stack is not None and (live_pairs or candidate_pairs):
        raise click.UsageError("give either --stack or --live/--candidate, not both")
    if stack is None and not (live_pairs and candidate_pairs):
        raise click.UsageError("give --stack STACK --live-color COLOUR, or --live SUBJECT=V --candidate SUBJECT=V")
    root = _project_root(project_dir)
    config = None
    if stack is not None:
        if live_color is None:
            raise click.UsageError("--live-color is required with --stack (blue, green, or none)")
        config = _stack_config(root, stack, _settings([], active_color))
        live = None if live_color == "none" else Color(live_color)
        candidate = config.active_color
        registry_path = registry_dir or root / config.schema_registry
        live_schemas = dict(config.releases[live].schemas) if live is not None else {}
        candidate_schemas = dict(config.releases[candidate].schemas)
    else:
        live, candidate = Color.BLUE, Color.GREEN
        registry_path = registry_dir or root / "schemas"
        live_schemas, candidate_schemas = _versions(live_pairs, "--live"), _versions(candidate_pairs, "--candidate")
    subjects = sorted(set(live_schemas) | set(candidate_schemas))
    registry, problems = registry_problems(registry_path, subjects)
    if registry is not None and config is not None:
        problems += schema_reference_problems(config, registry)
    elif registry is not None:
        problems += _flag_reference_problems(registry, {"live": live_schemas, "candidate": candidate_schemas})
    if problems or registry is None:
        found_problems = problems or [ConfigProblem("schemaRegistry", "cannot be loaded")]
        raise BadInput(str(ConfigError(found_problems, stack or "(flags)")))
    moving = live is not None and live is not candidate
    found = check_flip(registry, live_schemas, candidate_schemas) if moving else []
    refusal: str | None = str(FlipRefused(live, candidate, found)) if found and live is not None else None
    if refusal is None and config is not None and moving:
        try:
            enforce_airflow_versions(config, live)
        except AirflowVersionRefused as error:
            refusal = str(error)
    if json_out:
        print_json(
            {
                "allowed": refusal is None,
                "live_color": live.value if live is not None and stack is not None else None,
                "candidate_color": candidate.value if stack is not None else None,
                "live": live_schemas,
                "candidate": candidate_schemas,
                "incompatibilities": [vars(item) for item in found],
                "message": refusal,
            }
        )
    elif refusal is None:
        what = (
            "nothing is live: first deployment, nothing to gate"
            if live is None
            else (
                f"{live.value} is already active: no flip"
                if not moving
                else f"{len(set(live_schemas) & set(candidate_schemas))} shared subject(s) compatible"
            )
        )
        click.echo(f"allowed: {what}")
    else:
        click.echo(refusal)
    if refusal is not None:
        raise Refused


def _flag_reference_problems(registry: Any, sides: dict[str, dict[str, int]]) -> list[Any]:
    """Subjects or versions named on --live/--candidate that the registry lacks, keyed by the flag."""
    from infra.errors import ConfigProblem
    from versioning.errors import VersioningError

    problems = []
    for side, versions in sides.items():
        for name, version in versions.items():
            try:
                subject = registry.subject(name)
            except VersioningError as error:
                problems.append(ConfigProblem(f"--{side} {name}", str(error)))
                continue
            if version not in subject.versions:
                known = ", ".join(str(v) for v in subject.versions)
                problems.append(
                    ConfigProblem(
                        f"--{side} {name}={version}", f"subject {name!r} has no version {version}; known: {known}"
                    )
                )
    return problems


@cli.command()
@click.option("--stack", required=True, help="Stack name: reads Pulumi.<stack>.yaml.")
@click.option(
    "-o", "--out", "out", required=True, type=click.Path(path_type=Path), help="Output folder (replaced atomically)."
)
@click.option(
    "--live-color",
    type=click.Choice([*COLORS, "none"]),
    default="none",
    show_default=True,
    help="The colour serving traffic now ('none': first deployment, nothing to gate).",
)
@click.option(
    "--active-color", type=click.Choice(COLORS), help="Render with this activeColor (a flip), for this run only."
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a top-level config key for this render only (as `pulumi up --config KEY=VALUE`); repeatable.",
)
@click.option(
    "--project-dir", type=click.Path(path_type=Path), help="The folder of Pulumi.yaml [default: found upward]."
)
@format_option
def render(
    stack: str,
    out: Path,
    live_color: str,
    active_color: str | None,
    settings: tuple[str, ...],
    project_dir: Path | None,
    output_format: str,
    as_json: bool,
) -> None:
    """Render the stack's Kubernetes objects offline (Pulumi mock runtime), the gate included.

    Writes one YAML file per object into --out (an existing render folder is replaced atomically; an existing
    file is refused) with Secret values redacted, and prints a summary.
    """
    if out.exists() and not out.is_dir():
        raise BadInput(f"{out}: exists and is a file; --out names the folder the render writes")
    from infra.errors import ConfigError, LiveColorError
    from infra.gate import AirflowVersionRefused, FlipRefused
    from infra.live_color import ENV_VAR
    from infra.offline.mock_runtime import run_program
    from infra.offline.render import StackFileError, read_stack_input, summary, write_manifests

    root = _project_root(project_dir)
    _check_stack_files(root, stack)
    try:
        stack_input = read_stack_input(root, stack)
    except StackFileError as error:
        raise BadInput(str(error)) from None
    config = {**stack_input.config, **_settings(settings, active_color)}
    try:
        result = run_program(stack_input.program, stack, config, stack_input.secret_keys, env={ENV_VAR: live_color})
    except (FlipRefused, AirflowVersionRefused) as error:
        print_error(str(error))
        raise Refused from None
    except (ConfigError, LiveColorError) as error:
        raise BadInput(str(error)) from None
    written = write_manifests(result, out)
    if wants_json(output_format, as_json):
        objects = result.kubernetes_objects()
        print_json(
            {
                "stack": stack,
                "out": str(out),
                "files": [str(p) for p in written],
                "objects": len(objects),
                "active_color": result.outputs.get("activeColor"),
                "live_color": live_color,
                "placeholders": stack_input.placeholders,
            }
        )
        return
    click.echo(summary(result, stack, out, live_color, stack_input.placeholders))


def _config_error(error: BaseException) -> int:
    print_error(str(error))
    return ExitCode.BAD_INPUT


def main(argv: Sequence[str] | None = None, prog_name: str = "pipeline-platform") -> int:
    """Run ``pipeline-platform``; returns the exit code."""
    from versioning.errors import VersioningError

    # Config errors (infra.errors imports pulumi, slow to import) become BadInput inside the commands.
    return run(cli, argv, prog_name, errors=[(VersioningError, _config_error)])


if __name__ == "__main__":
    sys.exit(main(prog_name="python -m infra.cli"))
