"""Whole-document arms of bench.speed: ``edgeclean clean`` run as a user runs it, one process per mode.

Each arm runs the installed CLI on the whole PDF (or --doc-pages) in a scratch folder, model load included,
and reads what happened from the checkpoint it keeps: chunks asked, answer tokens, decisions. Fidelity is
bench.quality's, against the raw text of the same pages.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

WHOLE_ARMS = {"Wr": "rules", "Ws": "select", "Ww": "rewrite"}


def arm_whole(job: dict, mode: str) -> dict:
    from bench.quality import scores
    from edgeclean.stages.extract import PdfDocument, parse_page_ranges
    from edgeclean.store.checkpoint import Checkpoint

    cli = shutil.which("edgeclean") or str(Path(sys.executable).with_name("edgeclean"))
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "out.txt"
        command = [cli, "clean", job["pdf"], "-o", str(output), "--mode", mode, "--threads", str(job["threads"])]
        command += ["--model", job["model"]] + (["--pages", job["doc_pages"]] if job["doc_pages"] else [])
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            return {"skipped": f"clean failed: {done.stderr.strip().splitlines()[-1:]}"}
        results = Checkpoint.read(output.with_name(output.name + ".ckpt")).ordered_results()
        text = output.read_text()
    document = PdfDocument(Path(job["pdf"]))
    numbers = parse_page_ranges(job["doc_pages"], document.page_count) if job["doc_pages"] else None
    source = "\n".join(page.text for page in document.pages(numbers))
    asked = [r for r in results if r.attempts]
    return {
        "wall": wall,
        "chunks": len(results),
        "asked": len(asked),
        "prompt_tokens": sum(r.prompt_tokens for r in results),
        "answer_tokens": sum(r.completion_tokens for r in results),
        "answer_counts": [r.completion_tokens for r in results],
        "decisions": dict(Counter(r.decision for r in results)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "fidelity": {k: round(v, 3) for k, v in scores(source, text).items()},
    }


def whole_lines(best: dict[str, dict]) -> list[str]:
    """One line per whole-document arm: its mode, time, what the model was asked, and fidelity."""
    lines = []
    for arm, mode in WHOLE_ARMS.items():
        if arm in best:
            r = best[arm]
            fidelity = " ".join(f"{k} {v}" for k, v in r["fidelity"].items())
            lines.append(
                f"{arm}: whole document, --mode {mode}: {r['wall']:.1f} s ({r['wall'] / 60:.1f} min), "
                f"{r['asked']} of {r['chunks']} chunks asked, decisions {r['decisions']}; {fidelity}"
            )
    return lines
