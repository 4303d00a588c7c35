"""Inside the edgeclean image: what a user typed was a `docker run` line, and only mounted folders outlive it.

The Dockerfile sets EDGECLEAN_CONTAINER=1; outside the image every function here changes nothing.
"""

from __future__ import annotations

import errno
import os
import shlex
from pathlib import Path

from .errors import OutputError

MARKER = "EDGECLEAN_CONTAINER"
DATA = Path("/data")


def in_container() -> bool:
    return os.environ.get(MARKER, "") not in ("", "0")


def resume_hint(args: list[str]) -> str:
    """How to continue an interrupted run: the command itself, or in the image the same `docker run` line."""
    if in_container():
        return (
            f"To resume, run the same `docker run … {shlex.join(args)}` (or podman run) command again; "
            "the checkpoint is in the mounted folder."
        )
    return f"To resume, run: {shlex.join(['edgeclean', *args])}"


def unwritable_hint(directory: Path, error: OSError) -> str:
    """What to do when the image's user may not write in a mounted folder (empty outside the image)."""
    if not in_container() or error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ""
    if error.errno == errno.EROFS:
        return f"; {directory.resolve()} is mounted read-only: mount it without :ro"
    uid = os.getuid()
    return (
        f"; the container runs as uid {uid}, which may not write in {directory.resolve()}: add "
        f'--user "$(id -u):$(id -g)" to docker run, or give the mounted folder to uid {uid} (chown)'
    )


def check_outlives_container(directory: Path) -> None:
    """Refuse output inside the container's own filesystem when a folder is mounted on /data for it.

    Such a file, and the checkpoint beside it, are gone with the container (`docker run --rm`), so neither the
    result nor a resume would survive. A folder on another device than / is a mount (or a tmpfs the user asked for).
    """
    if not in_container():
        return
    try:
        root, target, data = os.stat("/").st_dev, os.stat(directory).st_dev, os.stat(DATA).st_dev
    except OSError:
        return  # check_writable reports a missing or unreadable folder itself
    if target == root and data != root:
        raise OutputError(
            f"{directory.resolve()} is inside the container and vanishes with it (and so would the checkpoint); "
            f'write into a mounted folder, e.g. -o {DATA}/NAME.clean.txt with -v "$PWD:{DATA}"'
        )
