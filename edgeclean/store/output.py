"""Stage 4b: the finished text, written so that no reader ever sees a half-written file."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from ..container import check_outlives_container, unwritable_hint
from ..errors import OutputError
from ..paths import STDOUT

# Scratch files are named .NAME.edgeclean-PID.tmp (or .probe): a later run in the folder can tell them from the
# user's files and remove those whose process is gone.
_SCRATCH = re.compile(r"\..+\.edgeclean-(\d+)\.(?:tmp|probe)")


def write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    if path == STDOUT:
        _write_stdout(text)
        return
    temporary = _scratch(path, "tmp")
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


def _write_stdout(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null so Python's own flush at exit does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise OutputError(
            "stdout was closed before all the text was written (a reader such as head quit early); "
            "run the command again to write it all"
        ) from None


def _scratch(path: Path, kind: str) -> Path:
    return path.with_name(f".{path.name}.edgeclean-{os.getpid()}.{kind}")


def check_writable(path: Path) -> None:
    """Fail now, not after an hour of cleaning, if ``path`` is not a file or nothing can be written beside it."""
    if path == STDOUT:
        return
    if path.is_dir():
        raise OutputError(f"{path} is a directory; -o must name a file (or '-' for stdout)")
    if path.exists() and not path.is_file():
        raise OutputError(f"{path} is not a regular file (a device, pipe or socket); -o must name a file")
    directory = path.parent
    if not directory.is_dir():
        raise OutputError(f"cannot write {path}: the directory {directory} does not exist")
    check_outlives_container(directory)
    probe = _scratch(path, "probe")
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        hint = unwritable_hint(directory, error)
        raise OutputError(f"cannot write in {directory}: {error.strerror or error}{hint}") from None


def remove_stale_temporaries(directory: Path) -> None:
    """Remove the scratch files that runs killed mid-write left in ``directory``, for any output there.

    Each run names its own by pid; one whose process still lives is another run's write in progress and is kept.
    """
    for stale in directory.glob(".*.edgeclean-*"):
        match = _SCRATCH.fullmatch(stale.name)
        if match and not _alive(int(match.group(1))):
            stale.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftovers (from a failed write) are stale by now
    if os.name == "nt":
        return True  # os.kill(pid, 0) would terminate it there; leave other runs' files alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, run by someone else
    return True


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
