"""Run the real program under Pulumi's mock runtime and capture every resource it declares.

The offline render and the tests both use :func:`run_program`: it starts the program the way Pulumi's
language host does (``runpy.run_path(<main>, run_name="__main__")``), with config set through the SDK's own
config store, in a fresh :mod:`contextvars` context so several runs can share one process.

Besides each resource's inputs (what :class:`pulumi.runtime.Mocks` sees), the run records the resource
options the SDK sends the engine in each ``RegisterResourceRequest``: the URN, the dependencies (explicit
``depends_on``, expanded to a component's custom children, plus every Output an input came from), custom
timeouts and delete-before-replace. :class:`RecordingMonitor` reads them from the request itself, so what a
test sees is exactly what the engine would order by.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import json
import os
import runpy
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.config_loader import PROJECT

MOCK_DIGEST_PREFIX = "sha256:"
# How the SDK marks a secret value inside the property maps the mock monitor hands over.
_SIG_KEY = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig


def plain_value(value: Any) -> Any:
    """``value`` with secret markers unwrapped and whole-number floats back to ints.

    Property maps travel as protobuf Structs, where every number is a double: ``8080`` arrives as ``8080.0``.
    """
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return plain_value(value.get("value"))
        return {key: plain_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_value(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def secret_paths(value: Any, path: str = "") -> frozenset[str]:
    """Dotted paths (``stringData.users.txt``) of the values the program passed as secret Outputs."""
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return frozenset({path})
        found: set[str] = set()
        for key, item in value.items():
            found |= secret_paths(item, f"{path}.{key}" if path else str(key))
        return frozenset(found)
    if isinstance(value, list):
        return frozenset().union(*(secret_paths(item, f"{path}[{index}]") for index, item in enumerate(value)))
    return frozenset()


@dataclass(frozen=True)
class DeclaredResource:
    """One resource as the program declared it: its type token, logical name and inputs."""

    type: str
    name: str
    inputs: dict[str, Any]
    urn: str = ""
    secret_paths: frozenset[str] = frozenset()
    """Where the program's inputs were secret Outputs (:func:`secret_paths`)."""

    @property
    def is_kubernetes_object(self) -> bool:
        """True for Kubernetes objects (which the render writes as manifests)."""
        return self.type.startswith("kubernetes:") and "kind" in self.inputs

    @property
    def kind(self) -> str:
        """The Kubernetes kind, e.g. ``Deployment``."""
        return str(self.inputs.get("kind", ""))

    @property
    def object_name(self) -> str:
        """The Kubernetes ``metadata.name``."""
        return str((self.inputs.get("metadata") or {}).get("name", ""))


@dataclass(frozen=True)
class Registration:
    """The options of one resource as the SDK sent them to the engine (``RegisterResourceRequest``)."""

    urn: str
    type: str
    name: str
    parent: str
    dependencies: frozenset[str]
    """URNs this resource waits for: explicit ``depends_on`` (a component expands to its custom children)
    and the resources whose Outputs its inputs use."""
    custom_timeouts: dict[str, str]
    """``create``/``update``/``delete`` as Go durations (``"1920s"``); empty when not set."""
    delete_before_replace: bool
    before_update_hooks: tuple[str, ...] = ()
    """Names of the resource hooks bound ``before_update`` (hooks never run under mocks; their binding is real)."""


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, also keeping every resource's registration options."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        timeouts = request.customTimeouts
        registration = Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            dependencies=frozenset(request.dependencies),
            custom_timeouts={
                key: value
                for key, value in (
                    ("create", timeouts.create),
                    ("update", timeouts.update),
                    ("delete", timeouts.delete),
                )
                if value
            },
            delete_before_replace=bool(request.deleteBeforeReplace),
            before_update_hooks=tuple(request.hooks.before_update) if request.HasField("hooks") else (),
        )
        with self._lock:
            self.registrations[urn] = registration
        return super().RegisterResource(request)


@dataclass
class ProgramRun:
    """What one run of the program declared and exported."""

    resources: list[DeclaredResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    registrations: dict[str, Registration] = field(default_factory=dict)
    """Every registered resource (components too) by URN."""

    def resource(self, kind: str, name: str) -> DeclaredResource:
        """The Kubernetes object of ``kind`` called ``name``; KeyError if absent."""
        for resource in self.kubernetes_objects():
            if resource.kind == kind and resource.object_name == name:
                return resource
        raise KeyError(f"no {kind} named {name!r}; declared: {sorted(r.object_name for r in self.resources)}")

    def registration(self, kind: str, name: str) -> Registration:
        """The registration options of the Kubernetes object of ``kind`` called ``name``."""
        return self.registrations[self.resource(kind, name).urn]

    def waits_for(self, dependent: str, dependency: str) -> bool:
        """Whether the engine starts ``dependent`` only after ``dependency`` is done (both URNs).

        The SDK sends a resource's registration only once the URNs of its dependencies and of its parent
        have resolved, and the engine resolves a URN only when that resource's step is done (a Deployment
        rolled out, a Job complete). So a resource waits for its dependencies and for its parent's
        registration, which itself waited for the parent's ``depends_on``: the closure follows both edges.
        """
        seen: set[str] = set()
        pending = [*self.registrations[dependent].dependencies, self.registrations[dependent].parent]
        while pending:
            urn = pending.pop()
            if urn == dependency:
                return True
            if urn in seen or urn not in self.registrations:
                continue
            seen.add(urn)
            pending.extend(self.registrations[urn].dependencies)
            pending.append(self.registrations[urn].parent)
        return False

    def object_waits_for(self, dependent: tuple[str, str], dependency: tuple[str, str]) -> bool:
        """:meth:`waits_for` between two Kubernetes objects given as ``(kind, name)``."""
        return self.waits_for(self.resource(*dependent).urn, self.resource(*dependency).urn)

    def kubernetes_objects(self) -> list[DeclaredResource]:
        """Every declared Kubernetes object."""
        return [r for r in self.resources if r.is_kubernetes_object]

    def find(self, kind: str, name: str) -> dict[str, Any]:
        """The inputs of the Kubernetes object of ``kind`` called ``name``; KeyError if absent."""
        return self.resource(kind, name).inputs


def mock_repo_digest(image_name: str, build: Mapping[str, Any] | None) -> str:
    """A realistic, deterministic ``repository@sha256:...`` for a mocked docker build."""
    repository = image_name
    last = image_name.rsplit("/", 1)[-1]
    if ":" in last:
        repository = image_name[: image_name.rindex(":")]
    digest = hashlib.sha256(json.dumps([image_name, build], sort_keys=True, default=str).encode()).hexdigest()
    return f"{repository}@{MOCK_DIGEST_PREFIX}{digest}"


class PlatformMocks(pulumi.runtime.Mocks):
    """Mocks that echo inputs as outputs (as a provider would) and give docker builds a digest."""

    def __init__(self) -> None:
        self.declared: list[DeclaredResource] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = plain_value(dict(args.inputs))
        self.declared.append(
            DeclaredResource(args.typ, args.name, inputs, secret_paths=secret_paths(dict(args.inputs)))
        )
        outputs = dict(inputs)
        if args.typ == "docker:index/image:Image":
            outputs["repoDigest"] = mock_repo_digest(str(inputs.get("imageName", "")), inputs.get("build"))
        metadata = inputs.get("metadata") or {}
        resource_id = "/".join(p for p in (metadata.get("namespace"), metadata.get("name")) if p) or args.name
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


@contextmanager
def _environment(overrides: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_program(
    program: Path,
    stack: str,
    config: Mapping[str, str],
    secret_keys: list[str],
    env: Mapping[str, str] | None = None,
    organization: str = "organization",
) -> ProgramRun:
    """Run ``program`` (a file, or a folder with ``__main__.py``) for ``stack`` under mocks.

    ``config`` maps full keys (``pipeline-platform:activeColor``) to strings, structured values as JSON,
    exactly as the Pulumi CLI passes them. ``organization`` is what ``pulumi.get_organization()`` returns
    (a DIY backend's is always ``organization``). Exceptions the program raises (ConfigError,
    FlipRefused...) propagate to the caller.
    """
    return contextvars.Context().run(_run, program, stack, config, secret_keys, env or {}, organization)


def _run_main(program: Path) -> None:
    # Exactly what Pulumi's Python language host does with the project's `main`.
    runpy.run_path(str(program), run_name="__main__")


def _run(
    program: Path,
    stack: str,
    config: Mapping[str, str],
    secret_keys: list[str],
    env: Mapping[str, str],
    organization: str,
) -> ProgramRun:
    mocks = PlatformMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    # preview=False: under preview the mocks leave apply() callbacks unrun and outputs unknown.
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor, organization=organization
    )
    with _environment(env):
        _sync_await(run_pulumi_func(lambda: _run_main(program)))
    urns = {(r.type, r.name): r.urn for r in monitor.registrations.values()}
    result = ProgramRun(
        resources=[dataclasses.replace(r, urn=urns.get((r.type, r.name), "")) for r in mocks.declared],
        registrations=dict(monitor.registrations),
    )
    root = pulumi.runtime.get_root_resource()
    exported: dict[str, Any] = getattr(root, "outputs", {})
    for key, value in exported.items():
        output = pulumi.Output.from_input(value)
        result.outputs[key] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            result.secret_outputs.add(key)
    return result
