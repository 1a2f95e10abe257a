"""The engine-time flip guard: a resource hook that re-checks the flip just before the router Service moves.

The program's gate (:func:`infra.gate.enforce_flip`) decides from config. This hook decides from what the
engine is about to do: an object's *old* inputs (the colour and schema versions actually deployed) against its
*new* inputs. It runs ``before_update``, on preview and on `pulumi up`, on every object that follows the active
colour: the active router Service and the scheduler, triggerer and DAG processor Deployments. So a flip the
program's gate could not see (an unknown live colour, an edited old release) is refused before traffic moves
and before the schedulers change colour, whichever of them the engine reaches first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pulumi

from infra.config import Color
from infra.gate import FlipRefused, check_flip, load_registry
from infra.labels import COLOR_LABEL, SCHEMAS_ANNOTATION_PREFIX

HOOK_NAME = "pipeline-platform-flip-guard"


class FlipGuardError(pulumi.RunError):
    """The hook could not read what it needs from the router Service's inputs, so it will not allow a flip."""


def selected_color(inputs: Mapping[str, Any], which: str) -> Color:
    """The colour an object that follows the active colour points at.

    The router Service selects it (``spec.selector``); the scheduler, triggerer and DAG processor Deployments
    run it (``spec.template.metadata.labels``).
    """
    spec = inputs.get("spec") if isinstance(inputs, Mapping) else None
    try:
        if isinstance(spec, Mapping) and "template" in spec:
            return Color(spec["template"]["metadata"]["labels"][COLOR_LABEL])
        return Color(inputs["spec"]["selector"][COLOR_LABEL])
    except (KeyError, TypeError, ValueError) as error:
        raise FlipGuardError(
            f"flip guard: the {which} inputs have no valid {COLOR_LABEL} in spec.selector or the pod template "
            f"({error!r}); refusing to move to another colour without knowing which colour it leaves"
        ) from None


def declared_schemas(inputs: Mapping[str, Any], color: Color, which: str) -> dict[str, int]:
    """The schema versions the router Service's annotation records for ``color``."""
    key = f"{SCHEMAS_ANNOTATION_PREFIX}{color.value}"
    try:
        raw = inputs["metadata"]["annotations"][key]
        parsed = json.loads(raw)
        return {str(subject): int(version) for subject, version in parsed.items()}
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise FlipGuardError(
            f"flip guard: the {which} inputs have no readable metadata.annotations[{key!r}] "
            f"({error!r}); the schema versions of {color.value} are unknown, so the flip cannot be checked. "
            "Deploy once without changing activeColor to record them, then flip."
        ) from None


def check_router_update(
    registry_dir: Path, old_inputs: Mapping[str, Any] | None, new_inputs: Mapping[str, Any] | None
) -> None:
    """Raise :class:`FlipRefused` when the update moves the selector to an incompatible colour."""
    if not old_inputs or not new_inputs:
        return
    live = selected_color(old_inputs, "old")
    candidate = selected_color(new_inputs, "new")
    if live is candidate:
        return
    live_schemas = declared_schemas(old_inputs, live, "old")
    candidate_schemas = declared_schemas(new_inputs, candidate, "new")
    incompatibilities = check_flip(load_registry(registry_dir), live_schemas, candidate_schemas)
    if incompatibilities:
        raise FlipRefused(live, candidate, incompatibilities)


def make_flip_guard(registry_dir: Path) -> Callable[[pulumi.ResourceHookArgs], None]:
    """The hook function, bound to the registry folder it checks against."""

    def flip_guard(args: pulumi.ResourceHookArgs) -> None:
        check_router_update(registry_dir, args.old_inputs, args.new_inputs)

    return flip_guard


def flip_guard_hook(registry_dir: Path) -> pulumi.ResourceHook:
    """The registered hook; it also runs on preview so `pulumi preview` shows a refusal early.

    Make it once per program run and bind that one hook to every object that follows the active colour.
    """
    return pulumi.ResourceHook(HOOK_NAME, make_flip_guard(registry_dir), pulumi.ResourceHookOptions(on_dry_run=True))
