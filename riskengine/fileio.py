"""Writing output files: atomically into regular files, through into everything else.

A regular file (new or existing, named directly or through a symlink) is replaced atomically: a
temporary file in the same folder, fsync, rename; an existing file keeps its mode (and, for
root, its owner), a new one gets the mode a plain ``open()`` would give it. A failed run never
leaves a half-written file. Anything that is not a regular file -- a device such as
``/dev/null``, a FIFO, ``/dev/stdout`` or a terminal -- is opened and written to, never replaced:
renaming over ``/dev/null`` as root would turn it into a regular file for the whole machine.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path


class OutputError(Exception):
    """The output cannot be written; the message names the path and the reason, on one line."""


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path``: atomically if it is (or will be) a regular file, else
    straight through. Raises :class:`OutputError` with a one-line reason on failure."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        info = os.stat(path)  # follows symlinks: what would receive the bytes
    except FileNotFoundError:
        info = None  # a new file, or a symlink to one not yet created
    except OSError as exc:
        raise OutputError(_reason(exc)) from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise OutputError("is a folder")
    if info is None or (stat.S_ISREG(info.st_mode) and not _is_special_path(path, info)):
        _replace(Path(os.path.realpath(path)), payload, info)
    else:
        _write_through(path, payload)


def _is_special_path(path: Path, info: os.stat_result) -> bool:
    """A regular file reached as a device path (``/dev/stdout`` of a redirected command, a
    ``/proc/self/fd`` link) or that is one of our own standard streams: the shell holds it
    open, so replacing it would lose the output; it is written through instead."""
    if os.path.abspath(path).startswith(("/dev/", "/proc/")):
        return True
    for fd in (1, 2):
        try:
            if os.path.samestat(info, os.fstat(fd)):
                return True
        except OSError:
            continue
    return False


def _write_through(path: Path, payload: bytes) -> None:
    sys.stdout.flush()  # keep order with anything already printed to the same stream
    try:
        # append: a regular file behind /dev/stdout keeps what the shell already wrote there;
        # devices and pipes ignore the flag
        with open(path, "ab") as handle:
            handle.write(payload)
    except OSError as exc:
        raise OutputError(_reason(exc)) from None


def _replace(target: Path, payload: bytes, info: os.stat_result | None) -> None:
    folder = target.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(_reason(exc)) from None
    try:
        # mkstemp makes the file private (0600): give it the existing file's mode, or the one
        # a plain open() would give a new file
        os.fchmod(fd, stat.S_IMODE(info.st_mode) if info else 0o666 & ~_umask())
        if info is not None and (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
            # only root may give a file away; everyone else writes their own
            with contextlib.suppress(PermissionError):
                os.fchown(fd, info.st_uid, info.st_gid)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(_reason(exc)) from None
        raise
    _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    # The rename is durable only once the folder is on disk; not every system allows it.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else str(exc)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
