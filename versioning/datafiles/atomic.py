"""Write a file so that readers see either the old file or the whole new one, never a partial one."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from versioning.datafiles.errors import DataFileError

_OUT_OF_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
"""Errors of a write that mean the disk (or a quota, or the file size limit) is full."""


@contextlib.contextmanager
def atomic_output(path: Path | str) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``path`` for binary writing; on success move it into place.

    The temporary file (``.<name>.<random>.tmp``) lives in the destination's folder, so the final
    ``os.replace`` is a rename within one file system; it is flushed and fsynced before the rename. The new
    file gets the permissions of the file it replaces, or those of any newly created file (0666 less the
    umask). On any exception, including ``KeyboardInterrupt``, the temporary file is removed and the
    destination is left as it was.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise DataFileError(path, f"the folder {str(folder)!r} does not exist; create it first")
    temp, out = _create_temp(path)
    try:
        with out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        if exc.errno in _OUT_OF_ROOM:  # a write into ``out`` failed: say which file, and what to do
            raise DataFileError(
                path, f"cannot be written ({exc.strerror}); free some space or write to another disk"
            ) from exc
        raise
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)


def _create_temp(path: Path) -> tuple[Path, BinaryIO]:
    """Create the temporary file exclusively; ``open`` creates it 0666 less the umask, as usual for new files."""
    for _ in range(100):
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return temp, temp.open("xb")
        except FileExistsError:
            continue
        except OSError as exc:
            raise DataFileError(path, f"cannot create a file in {str(path.parent)!r} ({exc.strerror})") from exc
    raise DataFileError(path, f"cannot find a free temporary file name in {str(path.parent)!r}")


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; some platforms cannot open folders for fsync, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
