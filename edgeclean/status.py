"""What `edgeclean status` reports about a checkpoint, as label/value rows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from .checkpoint import Checkpoint, check_checkpoint_file, describe_fallbacks
from .errors import OutputError
from .output import STDOUT
from .pipeline import CHECKPOINT_SUFFIX, STDOUT_CHECKPOINT_SUFFIX


def checkpoint_for(path: Path) -> Path:
    """The checkpoint of an output file (OUT.ckpt), or the path itself if it names one."""
    checkpoint_file = path if path.name.endswith(CHECKPOINT_SUFFIX) else path.with_name(path.name + CHECKPOINT_SUFFIX)
    check_checkpoint_file(checkpoint_file)
    if not checkpoint_file.is_file():
        raise OutputError(f"no checkpoint at {checkpoint_file}")
    return checkpoint_file


def describe_checkpoint(path: Path) -> list[tuple[str, str]]:
    checkpoint_file = checkpoint_for(path)
    checkpoint = Checkpoint.read(checkpoint_file)
    to_stdout = checkpoint.fingerprint.get("output") == "stdout" and checkpoint_file.name.endswith(
        STDOUT_CHECKPOINT_SUFFIX
    )
    output = STDOUT if to_stdout else checkpoint_file.with_name(checkpoint_file.name[: -len(CHECKPOINT_SUFFIX)])
    results = checkpoint.ordered_results()
    fingerprint = checkpoint.fingerprint
    done, total = len(results), checkpoint.total
    state = _state(checkpoint, output)
    answer_tokens = sum(r.completion_tokens for r in results)
    seconds = sum(r.seconds for r in results)
    rows = [
        ("output", f"{'stdout' if output == STDOUT else output} ({state})"),
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


def _state(checkpoint: Checkpoint, output: Path) -> str:
    if not checkpoint.complete:
        return "in progress or interrupted; rerun the same command to resume"
    if output == STDOUT:
        return "all chunks cleaned; rerun the same command to print the text again"
    if checkpoint.output_matches(output):
        return "complete"
    if output.exists() and checkpoint.output_sha256 is not None:
        return "all chunks cleaned, but the output was changed after it was written"
    return "all chunks cleaned, output not written yet; rerun the same command to write it"


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
