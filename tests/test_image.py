"""The built image, run as an air-gapped server runs it: --network none, real podman (or docker), real model.

`bash .ci/image` builds the image and runs this file with EDGECLEAN_IMAGE set (and EDGECLEAN_IMAGE_WITH_MODEL
for the build with MODEL baked in); without them these tests skip, since a plain test run builds no image.
EDGECLEAN_ENGINE picks the engine (default podman).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import ROOT, TINY_MODEL

pytestmark = pytest.mark.image

IMAGE = os.environ.get("EDGECLEAN_IMAGE")
IMAGE_WITH_MODEL = os.environ.get("EDGECLEAN_IMAGE_WITH_MODEL")
ENGINE = os.environ.get("EDGECLEAN_ENGINE", "podman")
PAPER = ROOT / "tests" / "fixtures" / "paper.pdf"
HOST_USER = 4321  # a non-root owner for the mounted folder, as a user's home folder on a server would be
TINY = "smollm2-135m-instruct"
# Small chunks make page 1 of the fixture 8 chunks: enough to stop a run twice in the middle, and short.
CLEAN = ["clean", "paper.pdf", "--pages", "1", "--model", TINY, "--chunk-tokens", "96", "--threads", "2"]
# Stopped and killed runs rewrite: every chunk then takes model time, so a run is still going when it is stopped or
# killed (in select mode most chunks of this page are "rules-only: no candidates", and a resumed run ended before
# its kill could land: CI, 0.2.1).
INTERRUPTED = [*CLEAN, "--mode", "rewrite"]


@pytest.fixture(scope="module")
def image() -> str:
    if not IMAGE:
        pytest.skip("no image to test: bash .ci/image builds one and sets EDGECLEAN_IMAGE")
    if not TINY_MODEL.is_file():
        pytest.fail(f"{TINY_MODEL} is missing: run .ci/test-model first")
    return IMAGE


def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([ENGINE, *args], capture_output=True, text=True, timeout=timeout)


def offline(
    image: str, *args: str, user: int | None = None, data: Path | None = None, detached: str | None = None
) -> list[str]:
    """`run --rm --network none` with the tiny model mounted read-only, and ``data`` on /data.

    ``detached`` names a container started in the background and kept after it exits, for `wait` and `logs`.
    """
    mounts = ["-v", f"{TINY_MODEL.parent}:/models:ro"]
    if data:
        mounts += ["-v", f"{data}:/data"]
    users = ["--user", f"{user}:{user}"] if user is not None else []
    lifetime = ["--detach", "--name", detached] if detached else ["--rm"]
    return ["run", *lifetime, "--network", "none", *users, *mounts, image, *args]


def user_folder(tmp_path: Path, name: str) -> Path:
    """A folder owned by the non-root host user, holding the fixture PDF, as a user's own folder would."""
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(PAPER, folder / "paper.pdf")
    for path in (folder, folder / "paper.pdf"):
        os.chown(path, HOST_USER, HOST_USER)
    folder.chmod(0o755)
    return folder


def test_help_with_no_network(image):
    result = run(*offline(image, "--help"))
    assert result.returncode == 0, result.stderr
    assert "clean" in result.stdout and "doctor" in result.stdout


def test_doctor_probe_with_the_model_mounted_read_only(image):
    result = run(*offline(image, "doctor", "--probe", "--model", TINY))
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"offline +yes \(HF_HUB_OFFLINE=1\)", result.stdout)
    assert "will use         /models/SmolLM2-135M-Instruct.Q4_1.gguf (--model)" in result.stdout
    speed = re.search(r"probe speed +([\d.]+) tokens/s", result.stdout)
    assert speed and float(speed.group(1)) > 0


def uninterrupted(image: str, folder: Path, args: list[str]) -> Path:
    """A whole run as the host user, into that user's folder; its output."""
    folder = user_folder(folder, "papers")
    result = run(*offline(image, *args, user=HOST_USER, data=folder))
    assert result.returncode == 0, result.stderr
    return folder / "paper.clean.txt"


@pytest.fixture(scope="module")
def cleaned(image, tmp_path_factory) -> Path:
    """The default mode's uninterrupted run."""
    return uninterrupted(image, tmp_path_factory.mktemp("reference"), CLEAN)


def test_clean_into_a_folder_owned_by_a_non_root_user(cleaned):
    assert cleaned.stat().st_uid == HOST_USER
    assert cleaned.with_name("paper.clean.txt.ckpt").stat().st_uid == HOST_USER
    text = cleaned.read_text()
    assert "Open models have changed who can build language technology." in text and len(text) > 1000


def test_an_unwritable_folder_says_to_run_as_the_user(image, tmp_path):
    folder = user_folder(tmp_path, "papers")
    result = run(*offline(image, *CLEAN, data=folder))  # the image's own uid 10001 may not write there
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot write in .: Permission denied; the container runs as uid 10001")
    assert "may not write in /data" in lines[0]
    assert '--user "$(id -u):$(id -g)"' in lines[0] and "chown" in lines[0]


def test_output_inside_the_container_is_refused(image, tmp_path):
    folder = user_folder(tmp_path, "papers")
    result = run(*offline(image, *CLEAN, "-o", "/tmp/paper.txt", user=HOST_USER, data=folder))
    assert result.returncode == 1
    assert "/tmp is inside the container and vanishes with it" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def rewritten(image, tmp_path_factory) -> Path:
    """The uninterrupted rewrite run: the reference for the stopped and killed ones."""
    return uninterrupted(image, tmp_path_factory.mktemp("rewritten"), INTERRUPTED)


def test_stopped_then_killed_container_resumes_to_the_same_bytes(image, rewritten, tmp_path):
    folder = user_folder(tmp_path, "interrupted")
    checkpoint = folder / "paper.clean.txt.ckpt"

    name = f"edgeclean-test-{os.getpid()}"
    stopped = interrupt(image, folder, name, checkpoint, "stop")  # SIGTERM, as docker stop sends
    assert stopped.returncode == 143, stopped.stderr
    assert "terminated; finished chunks are saved. To resume, run the same `docker run … clean" in stopped.stderr
    killed = interrupt(image, folder, name, checkpoint, "kill")  # SIGKILL: nothing runs on the way out
    assert killed.returncode == 137

    resumed = run(*offline(image, *INTERRUPTED, user=HOST_USER, data=folder))
    assert resumed.returncode == 0, resumed.stderr
    assert re.search(r"resumed: \d+/\d+ chunks", resumed.stderr)
    assert (folder / "paper.clean.txt").read_bytes() == rewritten.read_bytes()


def interrupt(image: str, folder: Path, name: str, checkpoint: Path, how: str) -> subprocess.CompletedProcess:
    """Start a detached container, let it save one more chunk, then `stop` or `kill` it; its exit and its log."""
    saved_before = chunk_lines(checkpoint)
    started = run(*offline(image, *INTERRUPTED, user=HOST_USER, data=folder, detached=name))
    assert started.returncode == 0, started.stderr
    try:
        deadline = time.monotonic() + 300
        while chunk_lines(checkpoint) < saved_before + 1:
            assert time.monotonic() < deadline, run("logs", name).stderr
            time.sleep(0.2)
        assert run(how, name).returncode == 0
        code = int(run("wait", name).stdout.strip())
        log = run("logs", name)
        return subprocess.CompletedProcess([how], code, log.stdout, log.stderr)
    finally:
        run("rm", "--force", name)


def chunk_lines(checkpoint: Path) -> int:
    """Finished chunks in the checkpoint (its first line is the run's fingerprint)."""
    if not checkpoint.exists():
        return 0
    return max(0, len(checkpoint.read_bytes().splitlines()) - 1)


def test_no_compiler_no_pip_and_not_root(image):
    inspect = run("image", "inspect", image, "--format", "{{.Config.User}}")
    assert inspect.stdout.strip() == "10001:10001"
    probe = "id -u; for tool in gcc cc g++ c++ clang make ld; do command -v $tool; done; python -c 'import pip'"
    result = run("run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", probe)
    assert result.stdout.split() == ["10001"], result.stdout  # no compiler, linker or make on the PATH
    assert "No module named 'pip'" in result.stderr


def test_a_baked_in_model_is_the_default():
    if not IMAGE_WITH_MODEL:
        pytest.skip("no image with a baked-in model: bash .ci/image builds one and sets EDGECLEAN_IMAGE_WITH_MODEL")
    doctor = run("run", "--rm", "--network", "none", IMAGE_WITH_MODEL, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert re.search(
        r"will use +/models/SmolLM2-135M-Instruct\.Q4_1\.gguf \(EDGECLEAN_MODEL: the model built into this image\)",
        doctor.stdout,
    )
