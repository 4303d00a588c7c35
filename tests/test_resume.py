"""Interrupted runs, with real processes, real signals and the real tiny model, end byte-identical."""

import os
import re
import shutil
import signal
import subprocess

import pytest

from bench.kill_resume import _Child, clean_command, kill_until_done, reference_output

from .conftest import run_cli

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model_path) -> bytes:
    return reference_output(tmp_path_factory.mktemp("reference"))


def test_kill_nine_at_every_kind_of_moment_then_resume(reference, tmp_path):
    report = kill_until_done(tmp_path, kills_wanted=6, seed=1)
    assert report.total == 6 and set(report.kills) == {"model-load", "mid-chunk", "after-fsync"}
    assert report.torn >= 1
    assert report.output == reference


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_progress_says_how_to_resume_and_resume_matches(reference, tmp_path, signum, code):
    output = tmp_path / "out.txt"
    child = _Child(clean_command(output), tmp_path)
    assert child.wait_for_line("2/", timeout=120)  # "2/9 done, chunk 4 (pages ...)": chunks finish out of order
    os.kill(child._process.pid, signum)
    assert child.wait() == code, child.stderr_text()
    message = child.stderr_text()
    assert "finished chunks are saved. To resume, run: edgeclean clean" in message
    assert "Traceback" not in message
    assert not output.exists()

    status = run_cli("status", str(output))
    assert status.returncode == 0
    saved = int(re.search(r"progress +(\d+)/", status.stdout).group(1))
    assert "interrupted" in status.stdout and saved >= 2  # a chunk finishing beside the 2nd may be saved too

    resumed = subprocess.run(clean_command(output), cwd=tmp_path, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed: {saved}/" in resumed.stderr
    assert output.read_bytes() == reference


def test_a_checkpoint_from_another_model_is_refused(reference, tmp_path, tiny_model_path):
    output = tmp_path / "out.txt"
    child = _Child(clean_command(output), tmp_path)
    assert child.wait_for_line("1/", timeout=120)
    child.kill9()
    other = tmp_path / "other-model.gguf"
    shutil.copy(tiny_model_path, other)
    result = subprocess.run(clean_command(output, model=other), cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1
    assert "made with a different model" in result.stderr and "--restart" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unwritable_output_fails_before_any_work(tmp_path, tiny_model_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = subprocess.run(clean_command(blocker / "out.txt"), cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr
