"""Atomic saves: the file appears complete or not at all, and never clobbers by accident."""

from __future__ import annotations

import errno
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO

from denoiser.errors import ImageWriteError

log = logging.getLogger(__package__)


def _atomic_write(
    path: Path, encode: Callable[[IO[bytes]], None], overwrite: bool, fmt: str
) -> None:
    """Encode into a temporary file beside ``path``, fsync, then move it into place.

    The temporary file is removed on any failure (KeyboardInterrupt included), so neither a
    partial image nor a stray temporary is ever left. Without ``overwrite`` the final step is
    a hard link, which fails atomically if the name was taken meanwhile.
    """
    folder = path.parent
    if path.is_dir():
        raise ImageWriteError(f"Cannot save to '{path}' because it is a folder.")
    if not overwrite and os.path.lexists(path):
        raise ImageWriteError(f"Cannot save '{path}' because a file with that name already exists.")
    if not folder.is_dir():
        raise ImageWriteError(f"Cannot save '{path}' because the folder '{folder}' does not exist.")
    try:
        temp, fd = _create_temp(folder, path.name)
    except OSError as exc:
        raise ImageWriteError(_os_error_message(path, exc)) from exc
    try:
        with os.fdopen(fd, "wb") as fp:
            encode(fp)
            fp.flush()
            os.fsync(fp.fileno())
        _move_into_place(temp, path, overwrite)
    except BaseException as exc:
        _remove_quietly(temp)
        if isinstance(exc, ImageWriteError) or not isinstance(exc, Exception):
            raise
        if isinstance(exc, OSError) and exc.errno is not None:
            raise ImageWriteError(_os_error_message(path, exc)) from exc
        raise ImageWriteError(f"Cannot save '{path}' as {fmt}: {exc}.") from exc


def _create_temp(folder: Path, name: str) -> tuple[Path, int]:
    """Exclusive new file with the user's default permissions (mkstemp's 0600 would stick)."""
    for _ in range(8):
        temp = folder / f".{name[:100]}.{secrets.token_hex(4)}.part"
        try:
            return temp, os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "could not create a temporary file", str(folder))


_O_BINARY = getattr(os, "O_BINARY", 0)


def _move_into_place(temp: Path, path: Path, overwrite: bool) -> None:
    """os.replace, or a no-clobber hard link when existing files must be kept."""
    if overwrite:
        os.replace(temp, path)
        return
    try:
        os.link(temp, path)
    except FileExistsError as exc:
        raise ImageWriteError(
            f"Cannot save '{path}' because a file with that name already exists."
        ) from exc
    except OSError:  # file system without hard links: check, then replace
        if os.path.lexists(path):
            raise ImageWriteError(
                f"Cannot save '{path}' because a file with that name already exists."
            ) from None
        os.replace(temp, path)
        return
    os.unlink(temp)


def _remove_quietly(temp: Path) -> None:
    """Delete a temporary file that may already be gone; other failures are logged."""
    try:
        os.unlink(temp)
    except FileNotFoundError:
        return
    except OSError as exc:
        log.warning("Could not remove temporary file %s: %s", temp, exc)


def _os_error_message(path: Path, exc: OSError) -> str:
    """One sentence for the common reasons a save fails."""
    reasons = {
        errno.EACCES: f"you do not have permission to write in '{path.parent}'",
        errno.EPERM: f"you do not have permission to write in '{path.parent}'",
        errno.EROFS: f"'{path.parent}' is on a read-only disk",
        errno.ENOSPC: "the disk is full",
        getattr(errno, "EDQUOT", -1): "your disk quota is used up",
        errno.ENAMETOOLONG: "the file name is too long",
    }
    reason = reasons.get(exc.errno or 0, (exc.strerror or str(exc)).rstrip(".").lower())
    return f"Cannot save '{path}' because {reason}."
