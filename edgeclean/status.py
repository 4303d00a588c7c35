"""What `edgeclean status` reports about a checkpoint, as label/value rows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from .checkpoint import Checkpoint, describe_fallbacks
from .errors import OutputError
from .pipeline import CHECKPOINT_SUFFIX


def checkpoint_for(path: Path) -> Path:
    """The checkpoint of an output file (OUT.ckpt), or the path itself if it names one."""
    checkpoint_file = path if path.name.endswith(CHECKPOINT_SUFFIX) else path.with_name(path.name + CHECKPOINT_SUFFIX)
    if not checkpoint_file.is_file():
        raise OutputError(f"no checkpoint at {checkpoint_file}")
    return checkpoint_file


def describe_checkpoint(path: Path) -> list[tuple[str, str]]:
    checkpoint_file = checkpoint_for(path)
    output = checkpoint_file.with_name(checkpoint_file.name[: -len(CHECKPOINT_SUFFIX)])
    checkpoint = Checkpoint.read(checkpoint_file)
    results = checkpoint.ordered_results()
    fingerprint = checkpoint.fingerprint
    done, total = len(results), checkpoint.total
    state = (
        "complete"
        if output.exists() and checkpoint.complete
        else "all chunks cleaned, output not written yet"
        if checkpoint.complete
        else "in progress or interrupted; rerun the same command to resume"
    )
    answer_tokens = sum(r.completion_tokens for r in results)
    seconds = sum(r.seconds for r in results)
    rows = [
        ("output", f"{output} ({state})"),
        ("progress", f"{done}/{total} chunks ({100 * done / max(total, 1):.0f}%)"),
        ("pages done", _pages(results)),
        ("model", str(fingerprint.get("model", "?"))),
        ("device", str(fingerprint.get("device", "?"))),
        ("settings", _settings(fingerprint)),
        ("started", str(checkpoint.header.get("started", "?"))),
        ("updated", _updated(checkpoint_file)),
        (
            "tokens",
            f"{answer_tokens:,} answer tokens, {answer_tokens / seconds:.0f} tok/s per chunk"
            if seconds
            else "none yet",
        ),
    ]
    cut = [str(r.index + 1) for r in results if r.cut_off]
    if cut:
        rows.append(("cut off", f"chunks {', '.join(cut)} hit the answer limit"))
    if fallbacks := describe_fallbacks(results):
        rows.append(("fell back", f"{fallbacks}: rule-cleaned text kept"))
    return rows


def _pages(results) -> str:
    if not results:
        return "none"
    return f"{min(r.first_page for r in results)}-{max(r.last_page for r in results)}"


def _settings(fingerprint: dict) -> str:
    keys = ("mode", "n_ctx", "chunk_tokens", "temperature", "seed", "pages", "max_chars")
    return ", ".join(f"{key}={json.dumps(fingerprint.get(key))}" for key in keys)


def _updated(path: Path) -> str:
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
    return stamp.isoformat(timespec="seconds")
