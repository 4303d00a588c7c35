"""What `edgeclean status` reports about a checkpoint, as label/value rows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ..errors import OutputError
from ..paths import STDOUT, checkpoint_of, output_of
from .checkpoint import Checkpoint, check_checkpoint_file


def checkpoint_for(path: Path) -> Path:
    """The checkpoint of an output file (OUT.ckpt), or the path itself if it names one; it must exist."""
    checkpoint_file = checkpoint_of(path)
    check_checkpoint_file(checkpoint_file)
    if not checkpoint_file.is_file():
        raise OutputError(f"no checkpoint at {checkpoint_file}")
    return checkpoint_file


def describe_checkpoint(path: Path) -> list[tuple[str, str]]:
    checkpoint_file = checkpoint_for(path)
    checkpoint = Checkpoint.read(checkpoint_file)
    fingerprint = checkpoint.fingerprint
    output = output_of(checkpoint_file, to_stdout=fingerprint.get("output") == "stdout")
    summary = checkpoint.summary()
    rows = [
        ("output", f"{'stdout' if output == STDOUT else output} ({_state(checkpoint, output)})"),
        ("progress", f"{summary.done}/{summary.total} chunks ({100 * summary.done / max(summary.total, 1):.0f}%)"),
        ("pages done", summary.pages),
        ("model", str(fingerprint.get("model", "?"))),
        ("device", str(fingerprint.get("device", "?"))),
        ("settings", _settings(fingerprint)),
        ("started", str(checkpoint.header.get("started", "?"))),
        ("updated", _updated(checkpoint_file)),
        (
            "tokens",
            f"{summary.answer_tokens:,} answer tokens, {summary.tokens_per_chunk_second:.0f} tok/s per chunk"
            if summary.model_seconds
            else "none yet",
        ),
    ]
    if summary.cut_off:
        rows.append(("cut off", f"chunks {', '.join(map(str, summary.cut_off))} hit the answer limit"))
    if fallbacks := summary.describe_fallbacks():
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


def _settings(fingerprint: dict) -> str:
    keys = ("mode", "n_ctx", "chunk_tokens", "temperature", "seed", "pages", "max_chars")
    return ", ".join(f"{key}={json.dumps(fingerprint.get(key))}" for key in keys)


def _updated(path: Path) -> str:
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
    return stamp.isoformat(timespec="seconds")
