"""`edgeclean corpus` on this machine (--engine local): outputs as `clean` writes them, failures as rows, resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from edgeclean.corpus import list_documents, run_corpus
from edgeclean.errors import InputError, SettingsError

from .conftest import NOTES, PAPER, run_cli
from .corpusfiles import checkpoint_records, make_corpus, reference

RULES = ["--mode", "rules"]


def manifest(out) -> list[dict]:
    lines = (out / "_manifest.jsonl").read_text().splitlines()
    return [row for row in map(json.loads, lines) if "id" in row]


def test_local_corpus_matches_clean_and_a_bad_pdf_is_a_failed_row(tmp_path):
    pdfs = make_corpus(tmp_path / "in")
    result = run_cli("corpus", "in", "-o", "out", *RULES)
    assert result.returncode == 1, result.stderr
    failed = [line for line in result.stderr.splitlines() if "failed:" in line]
    assert failed == ["corrupted: failed: in/corrupted.pdf: not a PDF (it does not start with %PDF-)"]
    for pdf in pdfs:
        doc_id = pdf.relative_to(tmp_path / "in").with_suffix("").as_posix()
        expected = reference(pdf, tmp_path / "ref" / f"{pdf.stem}.txt", *RULES)
        assert (tmp_path / "out" / f"{doc_id}.clean.txt").read_bytes() == expected, doc_id
    rows = {row["id"]: row for row in manifest(tmp_path / "out")}
    assert rows["corrupted"]["status"] == "failed" and "not a PDF" in rows["corrupted"]["error"]
    assert {rows[i]["status"] for i in rows if i != "corrupted"} == {"done"} and "more/prose2" in rows

    status = run_cli("status", "out")
    assert status.returncode == 0
    assert "done        6" in status.stdout and "left        0" in status.stdout
    assert "failed      corrupted: in/corrupted.pdf: not a PDF" in status.stdout

    again = run_cli("corpus", "in", "-o", "out", *RULES)
    assert again.returncode == 1 and again.stderr.count("skipped (already complete)") == 6
    assert "corpus: 0 done, 6 skipped, 1 failed" in again.stderr


def test_inputs_are_files_folders_globs_and_lists(tmp_path):
    make_corpus(tmp_path / "in", corrupted=False)
    (tmp_path / "list.txt").write_text("# papers\nin/paper.pdf\n\nin/notes.pdf\n")
    ids = [d.id for d in list_documents([tmp_path / "list.txt", str(tmp_path / "in" / "prose*.pdf")], tmp_path)]
    assert ids == ["notes", "paper", "prose0", "prose1"]
    folder = list_documents([tmp_path / "in"], tmp_path / "out")
    assert [d.id for d in folder] == ["languages", "more/prose2", "notes", "paper", "prose0", "prose1"]
    assert folder[1].output == tmp_path / "out" / "more" / "prose2.clean.txt"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "paper.pdf").write_bytes(PAPER.read_bytes())
    with pytest.raises(SettingsError, match="would both write"):
        list_documents([tmp_path / "b" / "paper.pdf", tmp_path / "in"], tmp_path / "out")
    with pytest.raises(InputError, match="no such file"):
        list_documents([tmp_path / "missing.pdf"], tmp_path / "out")


def test_engine_ray_without_ray_says_which_extra_in_one_line(tmp_path):
    hide_ray = (
        "import sys\n"
        "class NoRay:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'ray' or name.startswith('ray.'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, NoRay())\n"
        "from edgeclean.cli.app import main\n"
        "sys.argv = ['edgeclean', 'corpus', sys.argv[1], '-o', 'out', '--engine', 'ray']\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", hide_ray, str(PAPER)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --engine ray needs Ray, which is not installed: pip install 'edgeclean[ray]'"
    ]
    assert not (tmp_path / "out").exists()


def test_a_bad_or_missing_model_fails_every_row_with_the_fix(tmp_path):
    (tmp_path / "bad.gguf").write_bytes(b"not a model" * 100)
    rows = run_corpus([NOTES, PAPER], tmp_path / "out", model=str(tmp_path / "bad.gguf"))
    assert [row.status for row in rows] == ["failed", "failed"]
    assert all("is not a GGUF model file" in row.error for row in rows)
    (missing,) = run_corpus([NOTES], tmp_path / "out2", model="smollm2-135m-instruct")
    assert missing.status == "failed" and "edgeclean models pull smollm2-135m-instruct" in missing.error
    assert not list((tmp_path / "out").glob("*.clean.txt"))


def test_a_damaged_model_copy_fails_every_row_with_the_pull_command(tiny_model_path, tmp_path):
    """The per-node check: the size and header are whole, one byte inside the weights is not."""
    copy = tmp_path / "node" / tiny_model_path.name
    copy.parent.mkdir()
    data = bytearray(tiny_model_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    rows = run_corpus([NOTES, PAPER], tmp_path / "out", model=str(copy))
    assert [row.status for row in rows] == ["failed", "failed"]
    for row in rows:
        assert "has sha256" in row.error and "(damaged or changed)" in row.error
        assert row.error.endswith("delete it and run edgeclean models pull smollm2-135m-instruct"), row.error
    assert not list((tmp_path / "out").glob("*.clean.txt"))


@pytest.mark.model
def test_local_driver_killed_mid_document_resumes_byte_identical(tiny_model_path, tmp_path):
    """SIGKILL to the CLI while it cleans the second document: the rerun skips the first, resumes the second."""
    (tmp_path / "in").mkdir()
    for pdf in (NOTES, PAPER):
        (tmp_path / "in" / pdf.name).write_bytes(pdf.read_bytes())
    args = ["--model", str(tiny_model_path), "--pages", "1", "--chunk-tokens", "100"]
    command = [sys.executable, "-m", "edgeclean", "corpus", "in", "-o", "out", *args]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "out" / "paper.clean.txt.ckpt"
    deadline = time.monotonic() + 300
    while checkpoint_records(checkpoint) < 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "out" / "paper.clean.txt").exists(), "the kill must land mid-document"

    again = run_cli("corpus", "in", "-o", "out", *args)
    assert again.returncode == 0, again.stderr
    assert "notes: skipped (already complete)" in again.stderr
    paper = [row for row in manifest(tmp_path / "out") if row["id"] == "paper"]
    assert [row["status"] for row in paper] == ["done"] and paper[0]["chunks_resumed"] >= 1
    assert (tmp_path / "out" / "paper.clean.txt").read_bytes() == reference(PAPER, tmp_path / "ref.txt", *args)
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_worker_pools_keep_one_cpu_free_and_parse():
    from edgeclean.cli.corpus import parse_workers
    from edgeclean.corpus.ray_engine import Pool, pool_for

    assert pool_for((2, 2), 1, 8) == Pool(2, 2, 1.0)  # fits beside the free CPU: a whole CPU per thread
    assert pool_for((4, 4), 1, 4) == Pool(4, 4, 0.75)  # the workers asked for, each reserving its share
    assert pool_for((1, 8), 2, 16) == Pool(1, 8, 1.875)
    assert pool_for((1, 8), 1, 4) == Pool(1, 6, 0.5)  # under half a CPU per thread: fewer workers instead
    assert pool_for((2, 2), 4, 4) == Pool(1, 1, 3.0)  # never below one actor
    assert pool_for((1, 1), 1, 1) == Pool(1, 1, 0.5)  # a 1-CPU cluster still leaves Ray half of it
    for cpus in (2, 3, 4, 7, 16, 64):
        for threads in (1, 2, 3, 4):
            for high in (1, 2, 3, 4, 8, 32):
                pool = pool_for((1, high), threads, cpus)
                assert 1 <= pool.high <= high and pool.cpus_each >= min(threads / 2, (cpus - 1))
                assert pool.high * pool.cpus_each <= cpus - 1 + 1e-9, (cpus, threads, high, pool)
    assert parse_workers("3") == (3, 3) and parse_workers("2:8") == (2, 8)
    for bad in ("0", "4:2", "x"):
        with pytest.raises(SettingsError):
            parse_workers(bad)


def test_corpus_help_has_the_cleaning_options():
    result = run_cli("corpus", "--help", env={"COLUMNS": "200"})
    assert result.returncode == 0
    for option in ("--engine", "--workers", "--threads-per-worker", "--gpus-per-worker", "--mode", "--pages"):
        assert option in result.stdout, option


def test_an_unreadable_input_or_unwritable_outdir_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "out").write_text("a file where the output folder should be")
    result = run_cli("corpus", str(NOTES), "-o", "out", *RULES)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: out: cannot write the corpus manifest there")
    import pathlib

    real_is_dir = pathlib.Path.is_dir

    def no_entry(self):  # what a folder behind one this user may not enter does (root may enter any here)
        if self.name == "locked":
            raise PermissionError(13, "Permission denied", str(self))
        return real_is_dir(self)

    monkeypatch.setattr(pathlib.Path, "is_dir", no_entry)
    with pytest.raises(InputError, match=r"locked: cannot read it \(Permission denied\)"):
        list_documents([tmp_path / "locked"], tmp_path / "out2")


def test_a_ray_client_address_is_refused_in_one_line_saying_what_to_do(tmp_path):
    """Ray Data's executor needs a cluster worker, which a Ray Client driver is not (Ray 2.60: it failed inside the
    executor, reaching for the worker's core_worker); refused before anything is written, Ray installed or not."""
    result = run_cli("corpus", str(NOTES), "-o", "out", "--engine", "ray", "--address", "ray://head:10001")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: --address ray://head:10001: Ray Data cannot run this job's driver through Ray")
    assert "--address auto" in line
    assert not (tmp_path / "out").exists()
