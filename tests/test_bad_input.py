"""Every wrong or hostile input ends in one clear line and a non-zero exit, or in clean output; never a hang."""

import shutil
import subprocess
import time

import pytest

from edgeclean.api import CleaningRun, load_model
from edgeclean.errors import InputError, ModelError, OutputError
from edgeclean.settings import CleanSettings
from edgeclean.stages.extract import PdfDocument
from edgeclean.store.checkpoint import Checkpoint

from . import hostile
from .conftest import FIXTURES, PAPER, RecordingModel, run_cli

SMALL = CleanSettings(chunk_tokens=200, mode="rewrite")


def one_line_error(result, fragment):
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert fragment in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_directory(tmp_path):
    one_line_error(run_cli("info", str(tmp_path)), "is a directory")
    one_line_error(run_cli("clean", str(tmp_path), "--model", "x.gguf"), "no PDF files in")


def test_an_empty_file(tmp_path):
    (tmp_path / "empty.pdf").write_bytes(b"")
    one_line_error(run_cli("info", "empty.pdf"), "the file is empty")


def test_the_bytes_decide_not_the_name(tmp_path):
    shutil.copy(PAPER, tmp_path / "really-a-pdf.txt")
    assert run_cli("info", "really-a-pdf.txt").returncode == 0
    (tmp_path / "fake.pdf").write_text("just some words, not a PDF at all")
    one_line_error(run_cli("info", "fake.pdf"), "not a PDF")


@pytest.mark.parametrize("fraction", [0.001, 0.05, 0.3, 0.6, 0.95])
def test_truncated_pdfs_end_in_text_or_one_line(tmp_path, fraction):
    data = PAPER.read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[: max(16, int(len(data) * fraction))])
    started = time.monotonic()
    result = run_cli("info", "cut.pdf", timeout=120)
    assert time.monotonic() - started < 120
    assert "Traceback" not in result.stderr
    if result.returncode:
        one_line_error(result, "cut.pdf")


def test_decompression_bomb_costs_one_page_not_the_run(tmp_path, caplog):
    path = tmp_path / "bomb.pdf"
    path.write_bytes(hostile.decompression_bomb())
    started = time.monotonic()
    with PdfDocument(path, page_seconds=4, memory_limit=1 << 30) as document:
        pages = list(document.pages())
    assert time.monotonic() - started < 30
    assert pages[0].text == "" and "second page survives" in pages[1].text
    assert document.lost_pages == [1]
    assert "page 1:" in caplog.text and "left out" in caplog.text


def test_parser_memory_is_capped(tmp_path, caplog):
    path = tmp_path / "bomb.pdf"
    path.write_bytes(hostile.decompression_bomb(megabytes=60))
    with PdfDocument(path, page_seconds=60, memory_limit=250 << 20) as document:
        pages = list(document.pages())
    assert "second page survives" in pages[1].text
    assert document.lost_pages == [1]


def test_deep_nesting_is_a_clear_error(tmp_path):
    (tmp_path / "deep.pdf").write_bytes(hostile.deep_nesting())
    one_line_error(run_cli("info", "deep.pdf"), "deep.pdf")


@pytest.mark.parametrize("builder", [hostile.cyclic_outline, hostile.lying_page_count])
def test_cycles_and_lies_are_harmless(tmp_path, builder):
    (tmp_path / "x.pdf").write_bytes(builder())
    with PdfDocument(tmp_path / "x.pdf", page_seconds=10) as document:
        assert document.page_count == 2
        assert all(page.text for page in document.pages())


def test_output_may_not_be_the_input(tmp_path):
    pdf = tmp_path / "paper.pdf"
    shutil.copy(PAPER, pdf)
    with pytest.raises(OutputError, match="is the input PDF"):
        CleaningRun(pdf, RecordingModel(), SMALL, output=pdf, restart=True)
    assert pdf.read_bytes() == PAPER.read_bytes()


def test_require_gpu_on_a_cpu_build_fails_clearly():
    with pytest.raises(ModelError, match="--require-gpu"):
        load_model("whatever.gguf", CleanSettings(require_gpu=True, n_gpu_layers=0))


@pytest.fixture
def tiny_disk(tmp_path):
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def test_disk_full_keeps_the_checkpoint_valid_and_a_rerun_resumes(tiny_disk):
    pdf = PAPER
    output = tiny_disk / "out.txt"
    filler = tiny_disk / "filler"
    filler.write_bytes(b"\0" * (256 * 1024 - 12 * 1024))  # leave about 12 KB free
    model = RecordingModel(answer=lambda text: text * 3)
    run = CleaningRun(pdf, model, SMALL, output=output)
    with pytest.raises(OutputError, match="cannot write"):
        for _ in run.results():
            pass
    run.close()
    saved = Checkpoint.read(run.checkpoint_path)
    assert 0 < len(saved.results) < len(run.chunks)
    filler.unlink()
    resumed = CleaningRun(pdf, RecordingModel(answer=lambda text: text * 3), SMALL, output=output)
    assert resumed.done_at_start == len(saved.results)
    list(resumed.results())
    resumed.finish()
    # the guard rejects a tripled answer, so each chunk falls back to its rule-cleaned text
    assert output.read_text() == "\n\n".join(c.text for c in resumed.chunks) + "\n"


def test_every_fixture_gives_text_or_one_line(tmp_path):
    outcomes = {}
    for pdf in sorted(FIXTURES.glob("*.pdf")):
        result = run_cli("info", str(pdf), timeout=120)
        assert "Traceback" not in result.stderr
        outcomes[pdf.name] = result.returncode
        if result.returncode:
            one_line_error(result, pdf.name)
    assert {name for name, code in outcomes.items() if code} == {"corrupted.pdf", "encrypted.pdf"}


def test_every_corpus_file_gives_text_or_one_line(corpus, tmp_path):
    for pdf in sorted(corpus.rglob("*.pdf")):
        result = run_cli("info", str(pdf), timeout=120)
        assert "Traceback" not in result.stderr
        if result.returncode:
            one_line_error(result, pdf.name)


def test_page_problems_are_named_in_the_error_for_wrong_input():
    with pytest.raises(InputError, match="no such file"):
        PdfDocument("/nonexistent/paper.pdf")


def _parser_pid(document: PdfDocument) -> int:
    return document._worker._process.pid


def test_one_parser_child_serves_a_list_of_pdfs_and_a_failed_one_is_never_kept(tmp_path):
    import multiprocessing

    from edgeclean.stages.extract import reusing_pdf_worker

    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(hostile.decompression_bomb())
    pdfs = (PAPER, FIXTURES / "notes.pdf", PAPER)
    fresh = []
    for pdf in pdfs:
        with PdfDocument(pdf) as document:
            fresh.append([page.text for page in document.pages()])
    with reusing_pdf_worker():
        pids = []
        for pdf, expected in zip(pdfs, fresh, strict=True):
            with PdfDocument(pdf) as document:
                assert [page.text for page in document.pages()] == expected  # the same text as a fresh child's
                pids.append(_parser_pid(document))
        assert len(set(pids)) == 1, pids
        with pytest.raises(InputError, match="password"):
            PdfDocument(FIXTURES / "encrypted.pdf")  # a bad PDF: its child is stopped, not kept
        with PdfDocument(PAPER) as document:
            document.info()
            after_bad = _parser_pid(document)
        assert after_bad != pids[0]
        with PdfDocument(bomb, page_seconds=4) as document:  # the default memory cap, so the kept child serves
            opener = _parser_pid(document)
            assert opener == after_bad  # the kept child opened it
            assert "second page survives" in "".join(page.text for page in document.pages())
            assert document.lost_pages == [1]  # page 1 overran: that child was killed, a fresh one read page 2
        with PdfDocument(PAPER) as document:
            document.info()
            assert _parser_pid(document) not in (opener, after_bad)
    assert not multiprocessing.active_children()  # leaving stops the kept child


def test_without_reuse_each_pdf_has_its_own_parser_child():
    import multiprocessing

    pids = []
    for _ in range(2):
        with PdfDocument(PAPER) as document:
            document.info()
            pids.append(_parser_pid(document))
    assert pids[0] != pids[1] and not multiprocessing.active_children()


def test_a_child_that_failed_a_page_is_not_kept(monkeypatch):
    """pypdf raising on a page leaves its child running; it is still not trusted with another document."""
    from edgeclean.stages import extract

    real_ask = extract._Worker.ask
    monkeypatch.setattr(
        extract._Worker,
        "ask",
        lambda self, request, seconds: (
            (
                "failed",
                "boom",
            )
            if request[0] == "page" and request[1] == 1
            else real_ask(self, request, seconds)
        ),
    )
    with extract.reusing_pdf_worker():
        with PdfDocument(PAPER) as document:
            assert document.pages().__next__().text == "" and document.lost_pages == [1]
            failed = _parser_pid(document)
        monkeypatch.setattr(extract._Worker, "ask", real_ask)
        with PdfDocument(PAPER) as document:
            document.info()
            assert _parser_pid(document) != failed
            kept = _parser_pid(document)
        with PdfDocument(PAPER) as document:
            assert _parser_pid(document) == kept
