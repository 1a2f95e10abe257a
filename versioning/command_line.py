"""One contract for the project's three command lines: ``versioning``, ``datapipe`` and ``pipeline-platform``.

All three are click groups run through :func:`run`, so they share:

* **exit codes** (:class:`ExitCode`): 0 done / compatible / valid / allowed; 1 the answer is no (incompatible,
  invalid records, a registry with problems, a refused flip); 2 bad input (a missing, unreadable or corrupt
  file, a malformed config or schema, bad options); 130 interrupted (Ctrl-C or SIGTERM; nothing half-written is
  left behind);
* **streams**: results (findings, summaries, JSON documents) on standard output, errors and progress on
  standard error, so ``cmd --format json | jq`` always gets one JSON document;
* **flags**: ``--format text|json`` for what is printed, ``-o/--out`` for a file written instead of standard
  output, ``--version`` (the package version), ``-h/--help``;
* **errors**: one ``error: <where>: <what to do>`` line each, never a traceback for bad input.

This module imports only the standard library and click: the CLIs import what a command needs once its
arguments are parsed, so ``--help`` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from enum import IntEnum, StrEnum
from types import FrameType
from typing import Any, TypeVar

import click

PACKAGE = "pipeline-platform"
"""The distribution whose version ``--version`` prints."""

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
"""click context settings every group uses."""


class ExitCode(IntEnum):
    """The exit codes of every command of the three CLIs."""

    OK = 0
    """Done; compatible; every record valid; the flip is allowed."""
    NO = 1
    """The answer is no: incompatible schemas, invalid records, a registry with problems, a refused flip."""
    BAD_INPUT = 2
    """Bad input: a missing, unreadable or corrupt file, a malformed config or schema, bad options."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C or SIGTERM; outputs are written atomically, so nothing partial is left."""


EXIT_CODES_HELP = "Exit codes: 0 ok, 1 no (incompatible, invalid, refused), 2 bad input, 130 interrupted."


class Refused(Exception):
    """The command's answer is no (exit 1); what was found has been printed already."""


class BadInput(Exception):
    """Bad input found by a command itself (exit 2); ``str()`` is the message, naming what and where."""


class Terminated(BaseException):
    """SIGTERM arrived: raised in the main thread so ``finally`` blocks and atomic writers clean up."""


class OutputFormat(StrEnum):
    """How a command prints its result."""

    TEXT = "text"
    """Lines for people."""
    JSON = "json"
    """One JSON document on standard output, for scripts and CI."""


F = TypeVar("F", bound=Callable[..., Any])


def format_option(function: F) -> F:
    """``--format text|json`` (and ``--json``, the same as ``--format json``), passed as ``output_format``."""
    function = click.option(
        "--json",
        "as_json",
        is_flag=True,
        default=False,
        help="Same as --format json.",
    )(function)
    return click.option(
        "--format",
        "output_format",
        type=click.Choice([f.value for f in OutputFormat]),
        default=OutputFormat.TEXT.value,
        show_default=True,
        help="text: lines for people; json: one JSON document on stdout, for scripts.",
    )(function)


def wants_json(output_format: str, as_json: bool = False) -> bool:
    """Whether the command should print JSON."""
    return as_json or output_format == OutputFormat.JSON.value


def version_option(prog_name: str) -> Callable[[F], F]:
    """``--version``: prints ``<prog_name> <package version>``."""
    return click.version_option(package_name=PACKAGE, prog_name=prog_name, message="%(prog)s %(version)s")


def print_json(document: Any) -> None:
    """Print one JSON document on standard output (dates and paths as text)."""
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def print_error(message: str) -> None:
    """Print ``error: <message>`` on standard error."""
    click.echo(f"error: {message}", err=True)


@contextlib.contextmanager
def terminate_as_exception() -> Iterator[None]:
    """Turn SIGTERM (how Kubernetes, Airflow and CI runners stop a process) into :class:`Terminated`.

    Without this the default action ends the process on the spot and a temporary output file stays behind;
    as an exception it unwinds like Ctrl-C, so atomic writers remove their temporary files.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an embedding application): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(
    command: click.Command,
    args: Sequence[str] | None,
    prog_name: str,
    *,
    errors: Sequence[tuple[type[BaseException], Callable[[BaseException], int]]] = (),
) -> int:
    """Run a click command with the shared contract; returns the exit code.

    ``errors`` maps the library's own exception types to an exit code (after printing them); anything they
    do not cover that is an ``OSError`` is printed with its file, and a click usage error is exit 2.
    """
    argv = list(args) if args is not None else sys.argv[1:]
    try:
        with terminate_as_exception():
            try:
                command.main(args=argv, prog_name=prog_name, standalone_mode=False)
            except BaseException as error:
                for kind, handle in errors:
                    if isinstance(error, kind):
                        return handle(error)
                raise
    except Refused:
        return ExitCode.NO
    except BadInput as error:
        print_error(str(error))
        return ExitCode.BAD_INPUT
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.ClickException as error:
        error.show()
        return ExitCode.BAD_INPUT
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted; nothing partial was written", err=True)
        return ExitCode.INTERRUPTED
    except Terminated:
        click.echo("terminated (SIGTERM); nothing partial was written", err=True)
        return ExitCode.INTERRUPTED
    except RecursionError:
        print_error("the input is nested too deeply to read; flatten it")
        return ExitCode.BAD_INPUT
    except MemoryError:
        print_error("the input needs more memory than there is; it may be hostile (an alias or block bomb)")
        return ExitCode.BAD_INPUT
    except OSError as error:
        print_error(os_error_message(error))
        return ExitCode.BAD_INPUT
    return ExitCode.OK


def os_error_message(error: OSError) -> str:
    """``<file>: <reason>`` for an ``OSError``, naming both files of a rename."""
    reason = error.strerror or str(error)
    if error.filename is None:
        return reason
    if getattr(error, "filename2", None):
        return f"{error.filename} -> {error.filename2}: {reason}"
    return f"{error.filename}: {reason}"
