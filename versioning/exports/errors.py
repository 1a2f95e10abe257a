"""The error an export raises when a schema cannot be written in the chosen format."""

from __future__ import annotations

from versioning.errors import VersioningError


class ExportError(VersioningError):
    """A schema (or a part of it) that the chosen export format cannot represent.

    :attr:`path` is a JSON pointer to the offending part, written with field *names* rather than indexes so a
    person can find it in the ``.avsc`` file: ``/fields/address/fields/lines`` is the ``lines`` field of the
    record in the ``address`` field; ``/items`` and ``/values`` step into array items and map values. The empty
    string is the whole schema. :attr:`message` says what is wrong and what to do about it.
    """

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        where = f"at {path}" if path else "at the schema root"
        super().__init__(f"{where}: {message}")


def pointer_step(name: str) -> str:
    """``name`` as one JSON-pointer segment (RFC 6901: ``~`` becomes ``~0``, ``/`` becomes ``~1``)."""
    return name.replace("~", "~0").replace("/", "~1")
