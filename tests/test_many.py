"""Several PDFs in one run with the real tiny model: one model load, per-file outputs, failures isolated."""

import shutil

import pytest

from .conftest import FIXTURES, LANGUAGES, NOTES, PAPER, run_cli

pytestmark = pytest.mark.model

SHORT = ["--max-chars", "300", "--chunk-tokens", "100"]


def test_many_pdfs_one_bad_one_folder(tiny_model_path, tmp_path):
    papers = tmp_path / "papers"
    papers.mkdir()
    shutil.copy(NOTES, papers)
    shutil.copy(LANGUAGES, papers)
    args = [
        "clean",
        str(PAPER),
        str(FIXTURES / "corrupted.pdf"),
        str(papers),
        "-o",
        "out",
        "--model",
        str(tiny_model_path),
        "--report",
        "reports",
        *SHORT,
    ]
    result = run_cli(*args)
    assert result.returncode == 1, "one PDF failed, so the run must say so"
    assert "corrupted.pdf: failed: " in result.stderr and "not a PDF" in result.stderr
    assert result.stderr.count("model SmolLM2") == 3, "the model loads once and serves all three PDFs"
    for name in ("paper", "notes", "languages"):
        assert (tmp_path / "out" / f"{name}.clean.txt").read_text().strip()
        assert (tmp_path / "reports" / f"{name}.report.html").is_file()
        assert f"{name}.pdf: ok: out/{name}.clean.txt" in result.stderr
    assert "Traceback" not in result.stderr

    again = run_cli(*args)
    assert again.returncode == 1
    assert again.stderr.count("skipped: already complete") == 3


def test_two_pdfs_that_would_share_an_output_are_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        shutil.copy(PAPER, tmp_path / folder)
    result = run_cli("clean", "a/paper.pdf", "b/paper.pdf", "-o", "out")
    assert result.returncode == 2 and "would both write" in result.stderr


def test_report_command_on_a_finished_run(tiny_model_path, tmp_path):
    assert run_cli("clean", str(PAPER), "--model", str(tiny_model_path), *SHORT).returncode == 0
    result = run_cli("report", "paper.clean.txt")
    assert result.returncode == 0 and (tmp_path / "paper.clean.txt.report.html").is_file()
