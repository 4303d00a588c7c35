"""One run's files as a whole: the checks before a checkpoint is opened or resumed, and the final write.

Nothing a user wrote is overwritten: not the input, not an output without a checkpoint, not an output edited
after edgeclean wrote it. The output appears in one atomic step, from the checkpoint's records in chunk order.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import OutputError
from ..hashing import file_sha256
from ..paths import STDOUT, RunPaths
from .checkpoint import Checkpoint
from .output import check_writable, join_chunks, remove_stale_temporaries, write_atomically


def open_checkpoint(
    paths: RunPaths, fingerprint: dict, source_sha256s: list[str], *, restart: bool, notes: dict | None = None
) -> Checkpoint:
    """Resume or start the checkpoint for chunks with these source hashes, after every check on the paths."""
    check_writable(paths.output)
    _refuse_overwriting_the_input(paths)
    if not (restart or paths.to_stdout or paths.checkpoint.exists()) and paths.output.exists():
        raise OutputError(f"{paths.output} already exists and has no checkpoint; pass --restart to overwrite it")
    remove_stale_temporaries(paths.checkpoint.parent)
    checkpoint = Checkpoint.open(paths.checkpoint, fingerprint, len(source_sha256s), restart=restart, notes=notes)
    try:
        for index, result in checkpoint.results.items():
            if index >= len(source_sha256s) or result.source_sha256 != source_sha256s[index]:
                raise OutputError(f"{paths.checkpoint} does not match this PDF's chunks; pass --restart")
        _refuse_a_changed_output(checkpoint, paths.output)
    except BaseException:
        checkpoint.close()
        raise
    return checkpoint


def _refuse_overwriting_the_input(paths: RunPaths) -> None:
    for path in (paths.output, paths.checkpoint):
        if path != STDOUT and path.exists() and path.samefile(paths.pdf):
            raise OutputError(f"{path} is the input PDF; choose another output with -o")


def _refuse_a_changed_output(checkpoint: Checkpoint, output: Path) -> None:
    """A finished output that no longer has the sha256 it was written with holds someone's edits: keep them."""
    if output == STDOUT or checkpoint.output_sha256 is None or not output.exists():
        return
    if not checkpoint.output_matches(output):
        raise OutputError(
            f"{output} was changed after edgeclean wrote it; move it away to have it written again, "
            "or pass --restart to clean the PDF again"
        )


def already_written(checkpoint: Checkpoint, output: Path) -> bool:
    """Every chunk is cleaned and the output file is exactly what was written from them."""
    return checkpoint.complete and output != STDOUT and checkpoint.output_matches(output)


def write_output(checkpoint: Checkpoint, output: Path) -> None:
    """Write the output from the checkpoint, in chunk order, in one atomic step, and record its sha256."""
    if not checkpoint.complete:
        missing = checkpoint.total - len(checkpoint.results)
        raise OutputError(f"{missing} chunks are not cleaned yet; the output was not written")
    write_atomically(output, join_chunks([r.text for r in checkpoint.ordered_results()]))
    if output != STDOUT:
        # After the rename: a kill in between leaves no record, and the next run just writes the file again.
        checkpoint.record_output(file_sha256(output))
