"""Messages inside the image (EDGECLEAN_CONTAINER=1) and unchanged ones outside; the real image: test_image.py."""

import errno
import os
from pathlib import Path

import pytest

from edgeclean import container
from edgeclean.errors import OutputError
from edgeclean.store.output import check_writable

from .conftest import TINY_MODEL, run_cli

# A folder on another device than /, as a mount on /data is inside the image.
ANOTHER_DEVICE = next((Path(p) for p in ("/dev/shm", "/proc") if os.path.isdir(p)), None)


@pytest.fixture
def inside(monkeypatch):
    monkeypatch.setenv(container.MARKER, "1")


@pytest.fixture
def outside(monkeypatch):
    monkeypatch.delenv(container.MARKER, raising=False)


def test_resume_hint_outside_is_the_command(outside):
    assert container.resume_hint(["clean", "my paper.pdf"]) == "To resume, run: edgeclean clean 'my paper.pdf'"


def test_resume_hint_inside_is_the_docker_run_line(inside):
    hint = container.resume_hint(["clean", "paper.pdf", "--pages", "1-3"])
    assert hint.startswith("To resume, run the same `docker run … clean paper.pdf --pages 1-3` (or podman run)")
    assert "edgeclean clean" not in hint


def test_permission_denied_inside_names_user_and_chown(inside, tmp_path):
    hint = container.unwritable_hint(tmp_path, PermissionError(errno.EACCES, "Permission denied"))
    assert f'may not write in {tmp_path}: add --user "$(id -u):$(id -g)" to docker run' in hint
    assert f"give the mounted folder to uid {os.getuid()} (chown)" in hint
    read_only = container.unwritable_hint(tmp_path, OSError(errno.EROFS, "Read-only file system"))
    assert read_only == f"; {tmp_path} is mounted read-only: mount it without :ro"


def test_no_hint_outside_or_for_other_errors(outside, tmp_path, monkeypatch):
    assert container.unwritable_hint(tmp_path, PermissionError(errno.EACCES, "Permission denied")) == ""
    monkeypatch.setenv(container.MARKER, "1")
    assert container.unwritable_hint(tmp_path, OSError(errno.ENOSPC, "No space left on device")) == ""


@pytest.mark.skipif(ANOTHER_DEVICE is None, reason="needs /dev/shm or /proc, a file system other than /")
def test_output_on_the_containers_own_file_system_is_refused_when_data_is_mounted(inside, tmp_path, monkeypatch):
    if os.stat(tmp_path).st_dev != os.stat("/").st_dev:
        pytest.skip("the temporary folder is itself on another file system than /")
    monkeypatch.setattr(container, "DATA", ANOTHER_DEVICE)
    with pytest.raises(OutputError, match="is inside the container and vanishes with it") as refused:
        check_writable(tmp_path / "out.txt")
    assert f'-o {ANOTHER_DEVICE}/NAME.clean.txt with -v "$PWD:{ANOTHER_DEVICE}"' in str(refused.value)
    container.check_outlives_container(ANOTHER_DEVICE)  # the mounted folder itself is fine


def test_nothing_is_refused_when_data_is_not_a_mount_or_outside(tmp_path, monkeypatch):
    monkeypatch.setenv(container.MARKER, "1")
    monkeypatch.setattr(container, "DATA", tmp_path)  # same device as /: nothing mounted there
    check_writable(tmp_path / "out.txt")
    monkeypatch.delenv(container.MARKER)
    if ANOTHER_DEVICE:
        monkeypatch.setattr(container, "DATA", ANOTHER_DEVICE)
    check_writable(tmp_path / "out.txt")


def test_doctor_says_the_model_came_from_the_image(tmp_path, tiny_model_path):
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    (models / TINY_MODEL.name).symlink_to(tiny_model_path)
    env = {"EDGECLEAN_MODELS_DIR": str(models), "EDGECLEAN_MODEL": "smollm2-135m-instruct"}
    inside_image = run_cli("doctor", env={**env, container.MARKER: "1"})
    assert inside_image.returncode == 0, inside_image.stdout + inside_image.stderr
    assert f"{models / TINY_MODEL.name} (EDGECLEAN_MODEL: the model built into this image)" in inside_image.stdout
    plain = run_cli("doctor", env={**env, container.MARKER: ""})
    assert f"{models / TINY_MODEL.name} (EDGECLEAN_MODEL)" in plain.stdout
