"""Issue 20: a careless or hostile user never loses text, never gets two runs in one checkpoint, never hears a
false "complete", and no edited file (checkpoint, model, report input) slips through unnoticed.

Real CLI processes, real shells, real PDFs; ``--mode rules`` where the model is beside the point, so the start race
can be run many times.
"""

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edgeclean.errors import InputError
from edgeclean.results import ChunkResult
from edgeclean.stages.extract import parse_page_ranges
from edgeclean.store.checkpoint import Checkpoint
from edgeclean.store.report import render_report

from .conftest import ROOT, run_cli
from .pdfgen import text_pdf

PROSE = [
    "The river ran low that summer, and the mill stood silent for the first time in forty years. "
    "Farmers brought their grain to the town instead, where the new engine ground it twice as fast. "
    "Nobody in the valley said so aloud, but everyone knew the old mill would not open again.",
    "In the autumn the miller sold his stones to a museum in the capital, where they lie to this day. "
    "His daughter kept the ledgers, which record every sack ground between 1881 and 1921. "
    "They show a trade that grew each year until the railway came, and then fell by half.",
    "Historians have used the ledgers to date the arrival of the new wheat varieties in the region. "
    "The entries change from rye to wheat within three seasons, far faster than anyone had thought. "
    "The miller's own notes in the margins explain why: the new wheat paid twice as well.",
]
RULES = ["--mode", "rules"]


@pytest.fixture
def paper(tmp_path) -> Path:
    return text_pdf(tmp_path / "paper.pdf", PROSE)


def edgeclean(*args: str) -> str:
    """The shell words of a real `edgeclean` command, for bash -c."""
    return shlex.join([sys.executable, "-m", "edgeclean", *args])


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=300)


def one_line_error(result, *fragments):
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def records(checkpoint: Path) -> tuple[dict, list[dict]]:
    lines = checkpoint.read_text().splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def chunk_indices(checkpoint: Path) -> list[int]:
    return [record["index"] for record in records(checkpoint)[1] if "index" in record]


# 1. `-o -` twice (or after a file run, or after a reader quit early) must not leave the user's file empty.


def test_stdout_run_twice_through_a_shell_redirection_writes_the_text_both_times(paper, tmp_path):
    command = edgeclean("clean", "paper.pdf", "-o", "-", *RULES) + " > paper.txt"
    first = shell(command, tmp_path)
    assert first.returncode == 0, first.stderr
    text = (tmp_path / "paper.txt").read_text()
    assert "river ran low" in text
    second = shell(command, tmp_path)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "paper.txt").read_text() == text
    assert "already complete" in second.stderr


def test_stdout_run_after_a_default_file_run_writes_the_text(paper, tmp_path):
    assert run_cli("clean", "paper.pdf", *RULES).returncode == 0
    file_text = (tmp_path / "paper.clean.txt").read_text()
    result = shell(edgeclean("clean", "paper.pdf", "-o", "-", *RULES) + " > paper.txt", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "paper.txt").read_text() == file_text


def test_stdout_run_after_a_reader_quit_early_writes_the_whole_text(paper, tmp_path):
    head = shell(edgeclean("clean", "paper.pdf", "-o", "-", *RULES) + " | head -c 20", tmp_path)
    assert len(head.stdout) == 20
    assert run_cli("clean", "paper.pdf", "-o", "reference.txt", *RULES).returncode == 0
    result = shell(edgeclean("clean", "paper.pdf", "-o", "-", *RULES) + " > paper.txt", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "paper.txt").read_text() == (tmp_path / "reference.txt").read_text()


# 2. Two runs started at the same instant: exactly one cleans, the checkpoint never holds a chunk twice.


def race(pdf: Path, workdir: Path, extra: list[str]) -> tuple[list[subprocess.Popen], list[str]]:
    command = [sys.executable, "-m", "edgeclean", "clean", str(pdf), "-o", "out.txt", *extra]
    runs = [subprocess.Popen(command, cwd=workdir, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    return runs, [run.communicate(timeout=300)[1] for run in runs]


def assert_one_winner(runs, errors, workdir: Path) -> None:
    outcomes = list(zip(runs, errors, strict=True))
    winners = [error for run, error in outcomes if run.returncode == 0 and "wrote out.txt" in error]
    assert len(winners) == 1, errors
    for run, error in outcomes:
        if "wrote out.txt" not in error:
            assert ("another edgeclean run is writing" in error and run.returncode == 1) or (
                "already complete" in error and run.returncode == 0
            ), error
    header, _ = records(workdir / "out.txt.ckpt")
    indices = chunk_indices(workdir / "out.txt.ckpt")
    assert sorted(indices) == list(range(header["chunks"])), "every chunk exactly once"


def test_two_runs_started_together_have_exactly_one_winner_50_times(tmp_path):
    pdf = text_pdf(tmp_path / "paper.pdf", PROSE)
    for attempt in range(50):
        workdir = tmp_path / f"try{attempt}"
        workdir.mkdir()
        runs, errors = race(pdf, workdir, [*RULES, "--chunk-tokens", "40"])
        assert_one_winner(runs, errors, workdir)


@pytest.mark.model
def test_two_model_runs_started_together_have_exactly_one_winner(tmp_path, tiny_model_path):
    pdf = text_pdf(tmp_path / "paper.pdf", PROSE)
    extra = ["--model", str(tiny_model_path), "--pages", "1", "--max-chars", "400", "--threads", "1"]
    for attempt in range(3):
        workdir = tmp_path / f"try{attempt}"
        workdir.mkdir()
        runs, errors = race(pdf, workdir, extra)
        assert_one_winner(runs, errors, workdir)


# 3. An output that is not a file is refused before any work; "complete" means the output is there, unchanged.


@pytest.mark.parametrize("restart", [[], ["--restart"]])
def test_an_output_that_is_a_directory_is_refused_before_any_work(paper, tmp_path, restart):
    (tmp_path / "existdir").mkdir()
    result = run_cli("clean", "paper.pdf", "-o", "existdir", *RULES, *restart)
    one_line_error(result, "existdir is a directory")
    assert not (tmp_path / "existdir.ckpt").exists()
    again = run_cli("clean", "paper.pdf", "-o", "existdir", *RULES)
    one_line_error(again, "existdir is a directory")


def test_an_output_that_is_a_fifo_is_refused(paper, tmp_path):
    os.mkfifo(tmp_path / "pipe")
    one_line_error(run_cli("clean", "paper.pdf", "-o", "pipe", *RULES, "--restart"), "not a regular file")


def test_complete_only_when_the_output_is_what_was_written(paper, tmp_path):
    assert run_cli("clean", "paper.pdf", "-o", "out.txt", *RULES).returncode == 0
    written = (tmp_path / "out.txt").read_text()
    (tmp_path / "out.txt").write_text("my own notes, typed over the output\n")
    changed = run_cli("clean", "paper.pdf", "-o", "out.txt", *RULES)
    one_line_error(changed, "out.txt was changed after edgeclean wrote it", "--restart")
    assert (tmp_path / "out.txt").read_text() == "my own notes, typed over the output\n"
    assert "complete" not in run_cli("status", "out.txt").stdout.splitlines()[0]

    (tmp_path / "out.txt").unlink()
    rewritten = run_cli("clean", "paper.pdf", "-o", "out.txt", *RULES)
    assert rewritten.returncode == 0, rewritten.stderr
    assert "this run cleaned 0" in rewritten.stderr
    assert (tmp_path / "out.txt").read_text() == written
    assert "(complete)" in run_cli("status", "out.txt").stdout


# 4. One line per page is content, not a running header; "looks scanned" is judged on the raw text.


def test_pages_of_one_line_each_are_kept(tmp_path):
    lines = [f"Page {n}: this is a short line of text on a slide of its own." for n in range(1, 6)]
    text_pdf(tmp_path / "slides.pdf", lines)
    result = run_cli("clean", "slides.pdf", "-o", "out.txt", *RULES)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "out.txt").read_text()
    assert all(line in text for line in lines)


def test_text_the_rules_remove_is_not_called_scanned(tmp_path):
    text_pdf(tmp_path / "emails.pdf", [f"someone.number{n}@example.org" for n in range(1, 4)])
    result = run_cli("clean", "emails.pdf", "-o", "out.txt", *RULES)
    one_line_error(result, "emails.pdf")
    assert "scanned" not in result.stderr


# 5. Any change to the model's weights is a different model.


@pytest.mark.model
def test_a_model_changed_in_the_middle_is_a_different_model(paper, tmp_path, tiny_model_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(tiny_model_path.read_bytes())
    args = ["clean", "paper.pdf", "-o", "out.txt", "--model", str(model), "--pages", "1", "--threads", "1"]
    assert run_cli(*args).returncode == 0
    (tmp_path / "out.txt").unlink()
    size = model.stat().st_size
    with model.open("r+b") as handle:  # 12,008 bytes in the middle of the tensor data, the size unchanged
        handle.seek(size // 2)
        middle = handle.read(12_008)
        handle.seek(size // 2)
        handle.write(bytes(byte ^ 0x01 for byte in middle))
    assert model.stat().st_size == size
    one_line_error(run_cli(*args), "made with a different model", "--restart")


# 6. Checkpoint records and header are integrity-checked; a checkpoint that is not a file gets one line.


def multi_chunk_run(tmp_path) -> str:
    result = run_cli("clean", "paper.pdf", "-o", "out.txt", *RULES, "--chunk-tokens", "40")
    assert result.returncode == 0, result.stderr
    assert len(chunk_indices(tmp_path / "out.txt.ckpt")) >= 3
    return (tmp_path / "out.txt").read_text()


def edit_checkpoint_line(path: Path, number: int, edit) -> None:
    lines = path.read_text().splitlines(keepends=True)
    record = json.loads(lines[number])
    edit(record)
    lines[number] = json.dumps(record, ensure_ascii=False) + "\n"
    path.write_text("".join(lines))


def test_an_edited_record_is_dropped_and_redone(paper, tmp_path):
    written = multi_chunk_run(tmp_path)
    edit_checkpoint_line(tmp_path / "out.txt.ckpt", 2, lambda record: record.update(text="EDITED BY HAND"))
    (tmp_path / "out.txt").unlink()
    result = run_cli("clean", "paper.pdf", "-o", "out.txt", *RULES, "--chunk-tokens", "40")
    assert result.returncode == 0, result.stderr
    assert "record 2" in result.stderr and "redone" in result.stderr
    assert (tmp_path / "out.txt").read_text() == written
    assert "EDITED" not in (tmp_path / "out.txt.ckpt").read_text(), "the bad record is dropped from the file too"


def test_a_header_with_an_edited_chunk_count_is_refused(paper, tmp_path):
    multi_chunk_run(tmp_path)
    edit_checkpoint_line(tmp_path / "out.txt.ckpt", 0, lambda header: header.update(chunks=header["chunks"] + 5))
    (tmp_path / "out.txt").unlink()
    one_line_error(run_cli("clean", "paper.pdf", "-o", "out.txt", *RULES, "--chunk-tokens", "40"), "--restart")
    one_line_error(run_cli("status", "out.txt"), "out.txt.ckpt")
    restarted = run_cli("clean", "paper.pdf", "-o", "out.txt", *RULES, "--chunk-tokens", "40", "--restart")
    assert restarted.returncode == 0, restarted.stderr


@pytest.mark.parametrize("restart", [[], ["--restart"]])
def test_a_checkpoint_that_is_a_directory_gets_one_line(paper, tmp_path, restart):
    (tmp_path / "out.txt.ckpt").mkdir()
    message = "out.txt.ckpt is a directory"
    one_line_error(run_cli("clean", "paper.pdf", "-o", "out.txt", *RULES, *restart), message, "move it away")
    one_line_error(run_cli("status", "out.txt"), message)
    one_line_error(run_cli("report", "out.txt"), message)


def test_a_checkpoint_that_links_out_of_the_folder_gets_one_line(paper, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "out.txt.ckpt").symlink_to(elsewhere / "target.ckpt")
    result = run_cli("clean", "paper.pdf", "-o", "work/out.txt", *RULES, "--restart")
    one_line_error(result, "symlink", "move it away")
    assert not (elsewhere / "target.ckpt").exists()


# 7. The report escapes every value it prints, numbers included.


def test_report_escapes_page_numbers_and_every_other_value(tmp_path):
    hostile = '"><script>alert(1)</script>'
    result = ChunkResult(
        index=0,
        first_page=hostile,
        last_page=hostile + "2",
        source_sha256="ab",
        source_tokens=hostile,
        text="cleaned",
        finish_reason=hostile,
        prompt_tokens=1,
        completion_tokens=7,
        seconds=0.0,
        acknowledgement_stripped=False,
        source_text="source",
        decision=hostile,
        attempts=[{hostile: 3, "recall": 0.5}],
    )
    header = {"fingerprint": {"model": hostile, "device": hostile, "mode": hostile}, "chunks": 1, "started": hostile}
    page = render_report(Checkpoint(tmp_path / "x.ckpt", header, {0: result}), tmp_path / "x.ckpt")
    assert "<script>alert" not in page and page.count("<script>") == 1, "only the page's own script"
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 7


# 8. Smaller: stale temporaries, a models "folder" that is a file, page ranges written differently or backwards.


def test_a_killed_final_write_leaves_nothing_behind_after_the_next_run_in_that_folder(paper, tmp_path):
    killed_mid_write = (
        "import os, pathlib; from edgeclean.store import output; "
        "output.os.replace = lambda *a: os.kill(os.getpid(), 9); "
        "output.write_atomically(pathlib.Path('other.txt'), 'half of the text')"
    )
    child = subprocess.run(
        [sys.executable, "-c", killed_mid_write], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    assert child.returncode == -signal.SIGKILL
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".other.txt")], "the killed write left its temporary"
    assert run_cli("clean", "paper.pdf", "-o", "out.txt", *RULES).returncode == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_models_dir_that_is_a_file_is_named_as_such(paper, tmp_path):
    (tmp_path / "models-file").write_text("not a folder")
    result = run_cli("clean", "paper.pdf", env={"EDGECLEAN_MODELS_DIR": str(tmp_path / "models-file")})
    one_line_error(result, "EDGECLEAN_MODELS_DIR", "not a folder")


def test_the_same_pages_written_differently_resume(paper, tmp_path):
    assert run_cli("clean", "paper.pdf", "-o", "out.txt", *RULES, "--pages", "1-2").returncode == 0
    again = run_cli("clean", "paper.pdf", "-o", "out.txt", *RULES, "--pages", "1,2")
    assert again.returncode == 0, again.stderr
    assert "already complete" in again.stderr


def test_a_backwards_page_range_says_so():
    with pytest.raises(InputError, match="2-1 runs backwards"):
        parse_page_ranges("2-1", 43)
    with pytest.raises(InputError, match="the PDF has pages 1-43"):
        parse_page_ranges("40-50", 43)


def test_two_thousand_pages_of_one_line_each_keep_every_line():
    from edgeclean.stages.extract import Page
    from edgeclean.stages.rules import PageRules

    pages = [Page(n, f"Page {n}: this is a short line of text on a label of its own.") for n in range(1, 2001)]
    cleaner = PageRules(pages)
    assert [cleaner.apply(page.text) for page in pages] == [page.text for page in pages]


def test_a_header_beside_other_text_is_still_dropped():
    from edgeclean.stages.extract import Page
    from edgeclean.stages.rules import PageRules

    pages = [Page(n, f"Journal of Mills, vol. 3\n{PROSE[n % 3]}\n{n}") for n in range(1, 6)]
    cleaner = PageRules(pages)
    assert [cleaner.apply(page.text) for page in pages] == [PROSE[n % 3] for n in range(1, 6)]


def test_model_sha256_is_cached_beside_the_file_and_survives_a_read_only_folder(tmp_path, monkeypatch):
    import hashlib

    from edgeclean.model.registry import model_sha256

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + bytes(range(256)) * 4000)
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    assert model_sha256(model) == digest
    cached = [p for p in tmp_path.iterdir() if p.name.startswith("m.gguf.")]
    assert cached, "the hash is cached beside the file"
    with model.open("r+b") as handle:  # same size, new bytes: a new mtime, so the cache no longer applies
        handle.seek(500_000)
        handle.write(b"changed")
    assert model_sha256(model) == hashlib.sha256(model.read_bytes()).hexdigest() != digest


def test_model_sha256_in_a_read_only_folder_is_cached_in_the_user_cache(tmp_path, monkeypatch):
    import hashlib

    from edgeclean.model.registry import model_sha256

    folder = tmp_path / "read-only-models"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        model = folder / "m.gguf"
        model.write_bytes(b"GGUF" + bytes(range(256)) * 4000)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        digest = hashlib.sha256(model.read_bytes()).hexdigest()
        assert model_sha256(model) == digest
        assert [p.name for p in folder.iterdir()] == ["m.gguf"]
        cached = list((tmp_path / "cache" / "edgeclean" / "sha256").iterdir())
        assert len(cached) == 1 and digest in cached[0].read_text()
        assert model_sha256(model) == digest
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)
