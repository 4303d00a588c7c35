"""Stage 4b: the finished text, written so that no reader ever sees a half-written file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .container import check_outlives_container, unwritable_hint
from .errors import OutputError

STDOUT = Path("-")


def write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    if path == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_directory(path.parent)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from None


def check_writable(path: Path) -> None:
    """Fail now, not after an hour of cleaning, if nothing can be written beside ``path``."""
    if path == STDOUT:
        return
    directory = path.parent
    if not directory.is_dir():
        raise OutputError(f"cannot write {path}: the directory {directory} does not exist")
    check_outlives_container(directory)
    probe = directory / f".{path.name}.{os.getpid()}.probe"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        hint = unwritable_hint(directory, error)
        raise OutputError(f"cannot write in {directory}: {error.strerror or error}{hint}") from None


def remove_stale_temporaries(path: Path) -> None:
    """Temporary files left by runs that were killed mid-write; each run writes its own, named by pid."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def join_chunks(texts: list[str]) -> str:
    return "\n\n".join(text.strip() for text in texts if text.strip()) + "\n"


def _fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory or ".", os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open directories; the rename itself is still atomic
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
