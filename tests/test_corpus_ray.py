"""`edgeclean corpus --engine ray` on a local 4-CPU Ray cluster, with the real tiny model and real SIGKILLs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from .conftest import PAPER, run_cli
from .corpusfiles import checkpoint_records, lock_holder, make_corpus, reference

pytestmark = pytest.mark.model
SHORT = ["--max-chars", "300", "--chunk-tokens", "100"]  # a few chunks a document: the plumbing, quickly


def manifest(out: Path) -> list[dict]:
    return [row for row in map(json.loads, (out / "_manifest.jsonl").read_text().splitlines()) if "id" in row]


def ray_args(address: str, model: Path, *more: str) -> list[str]:
    return ["--engine", "ray", "--address", address, "--model", str(model), "--threads-per-worker", "1", *more]


@pytest.fixture(scope="module")
def corpus_in(tmp_path_factory) -> tuple[Path, list[Path]]:
    folder = tmp_path_factory.mktemp("corpus") / "in"
    return folder, make_corpus(folder)


@pytest.fixture(scope="module")
def references(corpus_in, tiny_model_path, tmp_path_factory) -> dict[str, bytes]:
    """`edgeclean clean` on each PDF with the same options, by document id."""
    folder, pdfs = corpus_in
    out = tmp_path_factory.mktemp("reference")
    ids = [pdf.relative_to(folder).with_suffix("").as_posix() for pdf in pdfs]
    return {
        i: reference(pdf, out / f"{pdf.stem}.txt", "--model", str(tiny_model_path), *SHORT)
        for i, pdf in zip(ids, pdfs, strict=True)
    }


def test_ray_corpus_matches_clean_and_a_bad_pdf_is_a_failed_row(
    ray_cluster, tiny_model_path, corpus_in, references, tmp_path
):
    folder, _ = corpus_in
    result = run_cli(
        "corpus", str(folder), "-o", "out", *ray_args(ray_cluster, tiny_model_path, "--workers", "2", *SHORT)
    )
    assert result.returncode == 1, result.stderr
    assert "corrupted: failed: " in result.stderr and "not a PDF" in result.stderr
    for doc_id, expected in references.items():
        assert (tmp_path / "out" / f"{doc_id}.clean.txt").read_bytes() == expected, doc_id
    rows = {row["id"]: row for row in manifest(tmp_path / "out")}
    assert rows["corrupted"]["status"] == "failed" and len(rows) == 7
    assert len({row["worker"] for row in rows.values()}) == 2, "two actors, each loading the model once"


def test_ray_worker_killed_mid_document_is_retried_byte_identical(ray_cluster, tiny_model_path, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "paper.pdf").write_bytes(PAPER.read_bytes())
    args = ["--pages", "1", "--chunk-tokens", "100"]
    command = [
        sys.executable,
        "-m",
        "edgeclean",
        "corpus",
        "in",
        "-o",
        "out",
        *ray_args(ray_cluster, tiny_model_path, *args),
    ]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    checkpoint = tmp_path / "out" / "paper.clean.txt.ckpt"
    deadline = time.monotonic() + 240
    while checkpoint_records(checkpoint) < 1 and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    actor = lock_holder(Path(f"{checkpoint}.lock"))
    assert actor is not None and actor != driver.pid, "the actor's process holds the checkpoint's lock"
    os.kill(actor, signal.SIGKILL)
    _, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 0, stderr
    (row,) = manifest(tmp_path / "out")
    assert row["status"] == "done" and row["chunks_resumed"] >= 1, row
    assert not row["worker"].endswith(f":{actor}"), "a restarted actor finished it"
    assert (tmp_path / "out" / "paper.clean.txt").read_bytes() == reference(
        PAPER, tmp_path / "ref.txt", "--model", str(tiny_model_path), *args
    )


def test_ray_driver_killed_rerun_does_only_the_rest(ray_cluster, tiny_model_path, corpus_in, references, tmp_path):
    folder, _ = corpus_in
    args = ray_args(ray_cluster, tiny_model_path, "--workers", "2", *SHORT)
    command = [sys.executable, "-m", "edgeclean", "corpus", str(folder), "-o", "out", *args]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = tmp_path / "out"
    deadline = time.monotonic() + 240
    while len(list(out.rglob("*.clean.txt"))) < 2 and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    finished = {p.relative_to(out).as_posix().removesuffix(".clean.txt") for p in out.rglob("*.clean.txt")}
    assert 2 <= len(finished) < 6, finished

    again = run_cli("corpus", str(folder), "-o", "out", *args)
    assert again.returncode == 1, again.stderr  # the corrupted PDF
    rerun = [row for row in manifest(out) if row["id"] in references][-6:]
    skipped = {row["id"] for row in rerun if row["status"] == "skipped"}
    assert finished <= skipped, "what the killed run finished is not cleaned again"
    done = Counter(row["id"] for row in manifest(out) if row["status"] == "done")
    assert max(done.values()) == 1, "no document cleaned twice to completion"
    for doc_id, expected in references.items():
        assert (out / f"{doc_id}.clean.txt").read_bytes() == expected, doc_id
    assert not [p for p in out.rglob(".*") if p.suffix in (".tmp", ".probe")], "no temp files left"
