"""Jobs and what became of them: which PDFs go where, the typed outcome of each, and what a run reports as it goes.

A ``Watcher`` is told what happens (model loading, a run starting, each chunk, notes, the end); the library's
default one stays quiet, the CLI's draws a progress bar or prints a line per chunk.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError, SettingsError
from .paths import STDOUT, RunPaths

if TYPE_CHECKING:
    from .results import ChunkResult


class Outcome(enum.Enum):
    WRITTEN = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class JobOutcome:
    job: RunPaths
    outcome: Outcome
    detail: str
    """The file written ("stdout" for -o -), why it was skipped, or the one-line error."""
    run: Any = None
    """The CleaningRun, when the job got that far."""

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAILED

    def __str__(self) -> str:
        return f"{self.outcome.value}: {self.detail}"


class Watcher:
    """What a run tells whoever shows its progress. This one shows nothing; subclass it to show more."""

    def loading(self, model: str) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def started(self, run) -> None:
        """A run is ready: chunks made, checkpoint opened (``run.done_at_start`` chunks already cleaned)."""

    @contextlib.contextmanager
    def cleaning(self, run) -> Iterator[Callable[[ChunkResult], None]]:
        """Around the chunks' cleaning; the callable it gives is called with each finished chunk."""
        yield lambda result: None

    def note(self, message: str) -> None:
        """Something the user should know, in one line."""

    def finished(self, outcome: JobOutcome, seconds: float) -> None:
        """A run wrote its output; ``seconds`` of this process's work."""

    def failed(self, outcome: JobOutcome) -> None:
        """One of several jobs failed; the others go on."""


def plan_jobs(inputs: list[Path], output: Path | None, report: Path | None) -> list[RunPaths]:
    """One job per PDF. Several PDFs (or a folder) write NAME.clean.txt into the -o folder (default: here)."""
    pdfs: list[Path] = []
    for path in inputs:
        pdfs.extend(sorted(p for p in path.iterdir() if p.suffix.lower() == ".pdf") if path.is_dir() else [path])
    if len(inputs) == 1 and not inputs[0].is_dir():
        return [RunPaths.of(inputs[0], output, report)]
    if not pdfs:
        raise InputError(f"no PDF files in {', '.join(map(str, inputs))}")
    folder = output or Path(".")
    if folder == STDOUT or folder.is_file():
        raise SettingsError("with several PDFs, -o must name a folder")
    jobs = [RunPaths.in_folders(pdf, folder, report) for pdf in pdfs]
    seen: dict[Path, Path] = {}
    for job in jobs:
        if job.output in seen:
            raise SettingsError(f"{seen[job.output]} and {job.pdf} would both write {job.output}; rename one")
        seen[job.output] = job.pdf
    for folder_needed in {folder, *([report] if report else [])}:
        folder_needed.mkdir(parents=True, exist_ok=True)
    return jobs
