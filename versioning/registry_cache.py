"""Verdicts on registry subjects, remembered by the content of their files, so history is checked once.

Checking a subject (every schema, every step, every version against its mode) costs milliseconds per version;
a registry of hundreds of subjects with long histories takes a minute. The files rarely change, so a subject
whose files hash to a digest already checked clean is taken as checked: the verdict is stored under
``${VERSIONING_CACHE_DIR}``, else ``${XDG_CACHE_HOME:-~/.cache}/pipeline-platform/verdicts``, one small file per
digest.

The cache is only an optimisation: deleting it changes no answer. Only clean verdicts are stored (problems are
always found again, so their messages are always current); the digest covers the library's own checking code,
so a new rule re-checks everything; an entry that cannot be read or does not say what it should is ignored; a
cache folder that cannot be written is not used.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

CACHE_ENV = "VERSIONING_CACHE_DIR"
FORMAT = 2
"""Bumped when the entry format or the meaning of a verdict changes."""

_RULES = (
    "registry.py",
    "registry_cache.py",
    "schema.py",
    "values.py",
    "input_limits.py",
    "compatibility/reference.py",
    "compatibility/cached.py",
    "upgrade/operations.py",
)
"""The modules whose code decides a subject's verdict: a change to any re-checks every subject."""


def cache_dir() -> Path:
    """Where verdicts are kept: ``$VERSIONING_CACHE_DIR``, else the user's cache folder."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pipeline-platform" / "verdicts"


@cache
def rules_digest() -> str:
    """A digest of the checking code, so that verdicts made by other code are not taken."""
    package = Path(__file__).resolve().parent
    digest = hashlib.blake2b(f"format {FORMAT}".encode(), digest_size=16)
    for name in _RULES:
        path = package / name
        if path.is_file():  # a module not there (yet) decides nothing
            digest.update(name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class SubjectFiles:
    """A subject folder's files and their digests, as read once."""

    name: str
    digests: dict[str, str]
    """File name -> digest of its bytes (every regular file of the folder, hidden ones excepted)."""
    contents: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    """File name -> the very bytes hashed, when read with ``keep``: checking them needs no second read (and
    cannot see other bytes than the digest names). Emptied by whoever is done with them."""

    @classmethod
    def read(cls, folder: Path, *, keep: bool = False) -> SubjectFiles:
        """Hash every file of a subject folder (its schemas, subject.yaml, any steps module).

        ``keep``: also keep each file's bytes in :attr:`contents` (a subject about to be checked).
        """
        digests: dict[str, str] = {}
        contents: dict[str, bytes] = {}
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                with open(entry.path, "rb") as handle:
                    data = handle.read()
                digests[entry.name] = file_digest(data)
                if keep:
                    contents[entry.name] = data
        return cls(folder.name, digests, contents)

    @cached_property
    def key(self) -> str:
        """The digest naming this exact content of the subject under this exact checking code."""
        digest = hashlib.blake2b(rules_digest().encode(), digest_size=20)
        digest.update(self.name.encode())
        for name in sorted(self.digests):
            digest.update(b"\0" + name.encode() + b"\0" + self.digests[name].encode())
        return digest.hexdigest()


def file_digest(data: bytes) -> str:
    """The digest :class:`SubjectFiles` records for a file's bytes (SHA-256: CPUs hash it in hardware, about
    twice BLAKE2's speed here, and a warm check is mostly hashing)."""
    return hashlib.sha256(data).hexdigest()


class VerdictCache:
    """Clean verdicts by content digest, in a folder; every failure to read or write is a miss, never an error."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else cache_dir()

    def _entry(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def lookup(self, files: SubjectFiles) -> dict[str, Any] | None:
        """The entry of exactly these files if they were checked clean before (by this checking code), else None.

        The entry may carry ``config``: the subject's ``subject.yaml`` as it was read then (same digest, same
        document), so a clean subject is opened without parsing its YAML again.
        """
        key = files.key
        try:
            entry = json.loads(self._entry(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if isinstance(entry, dict) and entry.get("key") == key and entry.get("verdict") == "clean":
            return entry
        return None

    def is_clean(self, files: SubjectFiles) -> bool:
        """Whether exactly these files were checked clean before (by this checking code)."""
        return self.lookup(files) is not None

    def remember_clean(self, files: SubjectFiles, config: Any = None) -> None:
        """Record that a subject was checked clean (with its parsed ``subject.yaml`` when it is plain JSON data);
        a folder that cannot be written is skipped."""
        key = files.key
        entry: dict[str, Any] = {"key": key, "verdict": "clean", "subject": files.name}
        try:
            text = json.dumps({**entry, "config": config}, allow_nan=False)
            if json.loads(text)["config"] != config:  # YAML dates, tuples...: not kept, read again next time
                raise ValueError
        except (TypeError, ValueError):
            text = json.dumps(entry)
        path = self._entry(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".verdict.", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.replace(temp, path)  # readers see a whole entry or none
            finally:
                Path(temp).unlink(missing_ok=True)
        except OSError:
            return  # read-only home, full disk: the cache is an optimisation only
