"""The library call and the run object: the one path every job takes, from the CLI or from Python.

``clean_pdf`` cleans one PDF; ``clean_pdfs`` cleans several with one loaded model, each PDF's failure reported
and the others going on. Both are the same code, and the CLI calls ``clean_pdfs``. A ``CleaningRun`` is one
PDF being cleaned into one output: built from a resolved plan, prepared chunks and an opened checkpoint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import EdgecleanError, ModelError, SettingsError
from .hashing import text_sha256
from .jobs import JobOutcome, Outcome, Watcher
from .model.llama.adapter import LlamaCppModel, gpu_offload_supported
from .model.protocol import Model
from .model.registry import resolve_model
from .paths import RunPaths
from .plan import RunPlan
from .results import ChunkResult, RunStats
from .settings import CleanSettings
from .stages.chunk import Chunk
from .stages.extract import PdfDocument, PdfInfo, reusing_pdf_worker
from .stages.model_pass import pass_chunks
from .stages.prepare import open_pdf, prepare_chunks
from .store.output import check_writable
from .store.report import write_report
from .store.run_files import already_written, open_checkpoint, write_output

log = logging.getLogger("edgeclean")


def load_model(model: str | None, settings: CleanSettings) -> LlamaCppModel:
    """Resolve a model name or path and load it with the thread count this process may really use."""
    if settings.require_gpu and (settings.n_gpu_layers == 0 or not gpu_offload_supported()):
        raise ModelError(
            "--require-gpu: this llama-cpp-python cannot offload to a GPU (a CPU-only build, or --n-gpu-layers 0); "
            "rebuild it with CMAKE_ARGS=-DGGML_CUDA=on bash .ci/setup"
        )
    threads, _ = RunPlan.threads_for(settings)
    return LlamaCppModel(
        resolve_model(model),
        n_ctx=settings.n_ctx,
        n_gpu_layers=settings.n_gpu_layers,
        threads=threads,
        draft=settings.draft,
    )


class CleaningRun:
    """One PDF being cleaned into one output file, resumable through its checkpoint.

    Construction resolves the plan, extracts, rule-cleans and chunks the text, and opens (or resumes) the
    checkpoint; iterating ``results()`` cleans the chunks still missing; ``finish()`` writes the output
    atomically. ``model`` may be None with ``mode="rules"``, which never uses one.
    """

    def __init__(
        self,
        pdf: str | Path | PdfDocument,
        model: Model | None,
        settings: CleanSettings = CleanSettings(),
        *,
        output: str | Path | None = None,
        password: str | None = None,
        restart: bool = False,
    ):
        document = open_pdf(pdf, password)
        if model is None and settings.needs_model:
            document.close()
            raise SettingsError(f"--mode {settings.mode} needs a model")
        self.model = model if settings.needs_model else None
        self.settings = settings
        self.paths = RunPaths.of(document.path, output)
        self.stats = RunStats()
        try:
            self.plan = RunPlan.resolve(settings, self.model, document.page_count)
        except BaseException:
            document.close()
            raise
        prepared = prepare_chunks(
            document, self.model, settings, chunk_tokens=self.plan.chunk_tokens, page_numbers=self.plan.page_numbers
        )
        self.chunks: list[Chunk] = prepared.chunks
        self.lost_pages = prepared.lost_pages
        self.removed = prepared.removed
        """What each rule removed before the model saw the text (references, citations, figures, ...)."""
        fingerprint = self.plan.fingerprint(self.pdf, self.model, to_stdout=self.paths.to_stdout)
        sources = [text_sha256(chunk.text) for chunk in self.chunks]
        notes = {"rules_removed": dict(self.removed), "rules_removed_examples": self.removed.examples}
        self.checkpoint = open_checkpoint(self.paths, fingerprint, sources, restart=restart, notes=notes)
        self.done_at_start = len(self.checkpoint.results)

    # The paths and choices callers read most, by their old names.
    pdf = property(lambda self: self.paths.pdf)
    output = property(lambda self: self.paths.output)
    checkpoint_path = property(lambda self: self.paths.checkpoint)
    chunk_tokens = property(lambda self: self.plan.chunk_tokens)
    parallel = property(lambda self: self.plan.parallel)
    page_count = property(lambda self: self.plan.page_count)

    @property
    def already_written(self) -> bool:
        return already_written(self.checkpoint, self.output)

    @property
    def pending(self) -> list[Chunk]:
        return [chunk for chunk in self.chunks if chunk.index not in self.checkpoint.results]

    def results(self) -> Iterator[ChunkResult]:
        """Clean the chunks not yet in the checkpoint, ``parallel`` at a time, each made durable as it finishes.

        Chunks finish out of order; the checkpoint keeps them by index and the output is written in order.
        """
        self.stats.started = time.perf_counter()
        for result in pass_chunks(self.model, self.pending, self.settings, parallel=self.plan.parallel):
            self.checkpoint.record(result)
            self.stats.add(result)
            yield result

    def finish(self, *, keep_checkpoint: bool = True) -> Path:
        """Write the output from the checkpoint, in chunk order, in one atomic step."""
        write_output(self.checkpoint, self.output)
        if not keep_checkpoint:
            self.checkpoint_path.unlink(missing_ok=True)  # while still locked
        self.checkpoint.close()
        return self.output

    def run_to_end(self) -> Path:
        """Clean every missing chunk and write the output; the checkpoint is released either way."""
        try:
            if self.already_written:
                return self.output
            for _ in self.results():
                pass
            return self.finish()
        finally:
            self.close()

    def close(self) -> None:
        """Release the checkpoint; the run can be resumed later by a new CleaningRun."""
        self.checkpoint.close()


def clean_pdf(
    pdf: str | Path,
    output: str | Path | None = None,
    *,
    model: str | Model | None = None,
    settings: CleanSettings = CleanSettings(),
    password: str | None = None,
    restart: bool = False,
    keep_checkpoint: bool = True,
    report: str | Path | None = None,
    watch: Watcher | None = None,
) -> CleaningRun:
    """Clean ``pdf`` into ``output`` (default ``NAME.clean.txt`` in the current directory) and return the run.

    ``model`` is a loaded Model, a GGUF path, or a known model name (default Llama-3.2-1B-Instruct Q4_K_M);
    ``settings.mode == "rules"`` loads none. ``report`` also writes the per-chunk HTML report there.
    """
    job = RunPaths.of(pdf, output, report)
    options = dict(password=password, restart=restart, keep_checkpoint=keep_checkpoint, watch=watch)
    (outcome,) = clean_pdfs([job], model=model, settings=settings, **options)
    return outcome.run


def clean_pdfs(
    jobs: list[RunPaths],
    *,
    model: str | Model | None = None,
    settings: CleanSettings = CleanSettings(),
    password: str | None = None,
    restart: bool = False,
    keep_checkpoint: bool = True,
    watch: Watcher | None = None,
) -> list[JobOutcome]:
    """Clean each job with one loaded model. With one job its failure is raised; with several, each failure is
    that job's outcome and the others go on."""
    watch = watch or Watcher()
    single = jobs[0] if len(jobs) == 1 else None
    if single is not None:  # fail before the model loads when the one PDF or its output is unusable
        document = PdfDocument(single.pdf, password)
        try:
            check_writable(single.output)
            loaded = _loaded(model, settings, watch)
        except BaseException:
            document.close()
            raise
    else:
        loaded = _loaded(model, settings, watch)
    try:
        if single is not None:
            return [_clean_one(document, single, loaded, settings, restart, keep_checkpoint, watch)]
        outcomes = []
        with reusing_pdf_worker():  # one parser child for the whole list, not one spawned per PDF
            for job in jobs:
                try:
                    document = PdfDocument(job.pdf, password)
                    outcomes.append(_clean_one(document, job, loaded, settings, restart, keep_checkpoint, watch))
                except EdgecleanError as error:
                    outcomes.append(JobOutcome(job, Outcome.FAILED, str(error)))
                    watch.failed(outcomes[-1])
        return outcomes
    finally:
        if loaded is not None and loaded is not model:
            loaded.close()


def _loaded(model: str | Model | None, settings: CleanSettings, watch: Watcher) -> Model | None:
    if not settings.needs_model:
        return None
    if model is not None and not isinstance(model, (str, Path)):
        return model
    with watch.loading(str(model) if model else "default"):
        return load_model(model and str(model), settings)


def _clean_one(document, job: RunPaths, model, settings, restart: bool, keep_checkpoint: bool, watch) -> JobOutcome:
    run = CleaningRun(document, model, settings, output=job.output, restart=restart)
    try:
        watch.started(run)
        if run.checkpoint.complete and run.paths.to_stdout:
            watch.note(f"already complete; writing the text again from {run.checkpoint_path}")
            run.finish(keep_checkpoint=keep_checkpoint)
            return JobOutcome(job, Outcome.WRITTEN, "stdout", run)
        if run.already_written:
            watch.note(f"{run.output} is already complete (pass --restart to clean it again)")
            return JobOutcome(job, Outcome.SKIPPED, "already complete", run)
        started = time.perf_counter()
        with watch.cleaning(run) as chunk_done:
            for result in run.results():
                chunk_done(result)
        path = run.finish(keep_checkpoint=keep_checkpoint or job.report is not None)
        if job.report:
            write_report(run.checkpoint_path, job.report)
            watch.note(f"report: {job.report}")
            if not keep_checkpoint:
                run.checkpoint_path.unlink(missing_ok=True)
        log.info("cleaned %s in %.1f s", job.pdf, time.perf_counter() - started)
        outcome = JobOutcome(job, Outcome.WRITTEN, str(path), run)
        watch.finished(outcome, time.perf_counter() - started)
        return outcome
    finally:
        run.close()


def pdf_info(pdf: str | Path, password: str | None = None) -> PdfInfo:
    """A PDF's pages, metadata, amount of text and whether it has a text layer."""
    with PdfDocument(pdf, password) as document:
        return document.info()
