"""Data files on object storage (``s3://``, ``gs://``, ``abfs://``) as well as local paths, through pyarrow's
filesystems, for the per-file upgrade that Airflow fans out over worker pods that share no disk.

- :func:`list_data_files` lists the Parquet and Avro files under a folder or object prefix;
- :func:`upgrade_one_file` upgrades one of them into the output folder or prefix, at the same relative path.

On object storage a file is copied to a private temporary folder of the worker, upgraded there by the same
local path every other caller takes (:func:`versioning.datafiles.service.upgrade_one_file`), and the result
published so that it **appears atomically**: it is uploaded under a hidden temporary key beside its final name
(``.<name>.<random>.tmp``, which listings skip), then copied server-side to its final key (an object store
shows an object only once its write completes: never half of it) and the temporary key deleted. A retried
task writes the same final key again; a task killed mid-upload leaves at most a hidden temporary key (or an
incomplete multipart upload, which a bucket lifecycle rule should abort). Local outputs are written atomically
by the upgrade itself (a temporary file renamed into place).

Credentials come from the environment, as each store's own client library looks for them (pyarrow uses the
AWS SDK's chain: web identity/IRSA, ``AWS_*`` variables, instance profile; Google's application default
credentials: Workload Identity; Azure's default credential chain: workload identity): a worker pool's
Kubernetes service account annotations grant them (``docs/versioning.md``). ``AWS_ENDPOINT_URL`` points S3 at an
S3-compatible server (MinIO, or the tests' local server). Azure URLs name the account:
``abfs://container@account.dfs.core.windows.net/path``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shutil
import tempfile
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow.fs as pafs

from versioning.datafiles.errors import DataFileError

REMOTE_SCHEMES = ("s3", "gs", "gcs", "abfs", "abfss")
"""URL schemes read and written through pyarrow's object-store filesystems."""
DATA_SUFFIXES = (".parquet", ".pq", ".avro")
"""The files the upgrade takes (as :func:`versioning.datafiles.service.list_data_files` does)."""
COPY_BUFFER = 8 << 20
"""Bytes per read when copying between a store and the local disk."""


def is_remote(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is an object-store URL (``s3://``, ``gs://``, ``abfs://``) rather than a local path."""
    scheme, sep, _ = str(location).partition("://")
    return bool(sep) and scheme.lower() in REMOTE_SCHEMES


def _split(url: str) -> tuple[str, str]:
    """(``scheme://`` prefix to put back on listed paths, the rest as the filesystem path)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://", rest.rstrip("/")


def open_filesystem(url: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem serving an object-store URL, and the URL's path within it.

    Raises :class:`DataFileError` naming the URL when the store cannot be reached or the URL is malformed.
    """
    try:
        filesystem, path = pafs.FileSystem.from_uri(url)
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise DataFileError(Path(url), f"cannot open the object store: {err}") from None
    return filesystem, path.rstrip("/")


def list_data_files(input_folder: str, pattern: str = "*") -> list[str]:
    """The Parquet and Avro files under a folder or object prefix whose names match ``pattern``, sorted.

    Object-store results are full URLs (``s3://bucket/prefix/part-0.parquet``). Hidden names (``.name``: the
    temporary objects of writes in progress) are left out, at any depth.
    """
    if not is_remote(input_folder):
        from versioning.datafiles.service import list_data_files as list_local

        return list_local(input_folder, pattern)
    prefix, _ = _split(input_folder)
    filesystem, base = open_filesystem(input_folder)
    try:
        infos = filesystem.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    except OSError as err:
        raise DataFileError(Path(input_folder), f"cannot list the input: {err}") from None
    found = []
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        relative = PurePosixPath(info.path[len(base) :].lstrip("/"))
        if any(part.startswith(".") for part in relative.parts):
            continue
        if relative.suffix.lower() in DATA_SUFFIXES and fnmatch.fnmatch(relative.name, pattern):
            found.append(f"{prefix}{info.path}")
    if not found and not infos:
        raise DataFileError(Path(input_folder), "nothing under this input prefix; check the 'input' parameter")
    return sorted(found)


def relative_key(source: str, input_folder: str) -> str:
    """The path of an object (or file) relative to the input folder or prefix it was listed under."""
    if not is_remote(source):
        return Path(source).resolve().relative_to(Path(input_folder).resolve()).as_posix()
    source_path, input_path = _split(source)[1], _split(input_folder)[1]
    if not source_path.startswith(input_path + "/"):
        raise DataFileError(Path(source), f"is not under the input {input_folder}; list it from there")
    return source_path[len(input_path) + 1 :]


def output_location(source: str, input_folder: str, output_folder: str) -> str:
    """Where the upgraded form of a file goes: the same relative path under ``output_folder``."""
    return f"{output_folder.rstrip('/')}/{relative_key(source, input_folder)}"


def download(url: str, target: Path) -> None:
    """Copy an object to a local file."""
    filesystem, path = open_filesystem(url)
    try:
        with filesystem.open_input_stream(path) as source, target.open("wb") as out:
            shutil.copyfileobj(source, out, COPY_BUFFER)
    except FileNotFoundError:
        raise DataFileError(Path(url), "no such object; was it deleted after the listing?") from None
    except OSError as err:
        raise DataFileError(Path(url), f"cannot read the object: {err}") from None


def publish(local: Path, url: str) -> None:
    """Put a local file at ``url`` so that the object appears whole or not at all (see the module docs)."""
    filesystem, path = open_filesystem(url)
    parent, _, name = path.rpartition("/")
    temporary = f"{parent}/.{name}.{uuid.uuid4().hex}.tmp"
    try:
        with local.open("rb") as source, filesystem.open_output_stream(temporary) as out:
            shutil.copyfileobj(source, out, COPY_BUFFER)
        try:
            filesystem.move(temporary, path)  # S3 and GCS: a server-side copy then a delete
        except (NotImplementedError, OSError):
            filesystem.copy_file(temporary, path)  # stores whose move is not a copy (Azure without HNS)
    except OSError as err:
        raise DataFileError(Path(url), f"cannot write the object: {err}") from None
    finally:
        with contextlib.suppress(OSError):  # moved already (or gone): nothing left behind
            filesystem.delete_file(temporary)


def upgrade_one_file(
    source: str,
    *,
    registry: str,
    subject: str,
    from_version: int,
    to_version: int,
    input_folder: str,
    output_folder: str,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """The Airflow task: upgrade one file, local or on an object store, into ``output_folder``.

    Local to local is :func:`versioning.datafiles.service.upgrade_one_file` itself. Otherwise the source is
    copied into a temporary folder, upgraded there the same way, and the result published atomically at the
    same relative path under ``output_folder``; the temporary folder is removed whatever happens. Returns the
    JSON-ready summary (source, target, format, rows, versions) with the locations as given.
    """
    from versioning.datafiles.service import upgrade_one_file as upgrade_local

    options: dict[str, Any] = {"batch_size": batch_size} if batch_size is not None else {}
    remote_in, remote_out = is_remote(source), is_remote(output_folder)
    if not remote_in and not remote_out:
        return upgrade_local(
            source,
            registry=registry,
            subject=subject,
            from_version=from_version,
            to_version=to_version,
            input_folder=input_folder,
            output_folder=output_folder,
            **options,
        )
    with tempfile.TemporaryDirectory(prefix="versioning-upgrade-") as scratch:
        work = Path(scratch)
        relative = relative_key(source, input_folder)
        local_source = work / "in" / relative if remote_in else Path(source)
        if remote_in:
            local_source.parent.mkdir(parents=True, exist_ok=True)
            download(source, local_source)
        local_in = work / "in" if remote_in else Path(input_folder)
        local_out = work / "out" if remote_out else Path(output_folder)
        summary = upgrade_local(
            str(local_source),
            registry=registry,
            subject=subject,
            from_version=from_version,
            to_version=to_version,
            input_folder=str(local_in),
            output_folder=str(local_out),
            **options,
        )
        target = f"{output_folder.rstrip('/')}/{relative}"
        if remote_out:
            publish(Path(summary["target"]), target)
        return {**summary, "source": source, "target": target}
