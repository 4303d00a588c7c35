"""What the CLI shows while a run works: a live bar on a terminal, one line per chunk elsewhere."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .checkpoint import describe_fallbacks
from .errors import EdgecleanError, InputError, SettingsError
from .extract import PdfDocument
from .hardware import usable_cpus
from .output import STDOUT, check_writable
from .pipeline import CleaningRun, default_output, load_model
from .report import write_report
from .settings import CleanSettings


@dataclass(frozen=True)
class Job:
    pdf: Path
    output: Path | None
    report: Path | None


def plan_jobs(inputs: list[Path], output: Path | None, report: Path | None) -> list[Job]:
    """One job per PDF. Several PDFs (or a folder) write NAME.clean.txt into the -o folder (default: here)."""
    pdfs: list[Path] = []
    for path in inputs:
        pdfs.extend(sorted(p for p in path.iterdir() if p.suffix.lower() == ".pdf") if path.is_dir() else [path])
    if len(inputs) == 1 and not inputs[0].is_dir():
        return [Job(inputs[0], output, report)]
    if not pdfs:
        raise InputError(f"no PDF files in {', '.join(map(str, inputs))}")
    folder = output or Path(".")
    if folder == STDOUT or folder.is_file():
        raise SettingsError("with several PDFs, -o must name a folder")
    jobs = [Job(pdf, folder / default_output(pdf).name, report and report / f"{pdf.stem}.report.html") for pdf in pdfs]
    seen: dict[Path, Path] = {}
    for job in jobs:
        if job.output in seen:
            raise SettingsError(f"{seen[job.output]} and {job.pdf} would both write {job.output}; rename one")
        seen[job.output] = job.pdf
    for folder_needed in {folder, *([report] if report else [])}:
        folder_needed.mkdir(parents=True, exist_ok=True)
    return jobs


def run_jobs(
    console: Console,
    jobs: list[Job],
    model_name: str | None,
    settings: CleanSettings,
    *,
    password: str | None,
    restart: bool,
    keep_checkpoint: bool,
) -> int:
    """Clean each job with one loaded model; one PDF's failure is reported and the others go on.

    Returns the number of failed jobs. A single job's failure is raised, so the CLI prints it as one line.
    """
    if len(jobs) == 1:  # fail before the model loads when the one PDF or its output is unusable
        document = PdfDocument(jobs[0].pdf, password)
        check_writable(jobs[0].output or default_output(document.path))
    model = None
    if settings.needs_model:
        with console.status(f"loading model {model_name or 'default'}…"):
            model = load_model(model_name, settings)
    outcomes: list[tuple[Path, str]] = []
    try:
        for job in jobs:
            if len(jobs) == 1:
                _run_one(console, document, job, model, settings, restart, keep_checkpoint)
                return 0
            try:
                outcome = _run_one(
                    console, PdfDocument(job.pdf, password), job, model, settings, restart, keep_checkpoint
                )
            except EdgecleanError as error:
                outcome = f"failed: {error}"
                console.print(f"{job.pdf}: {outcome}", markup=False)
            outcomes.append((job.pdf, outcome))
    finally:
        if model is not None:
            model.close()
    console.print(f"\n{len(jobs)} PDFs:", markup=False)
    for pdf, outcome in outcomes:
        console.print(f"  {pdf}: {outcome}", markup=False)
    return sum(outcome.startswith("failed") for _, outcome in outcomes)


def _run_one(console, document, job: Job, model, settings, restart: bool, keep_checkpoint: bool) -> str:
    run = CleaningRun(document, model, settings, output=job.output, restart=restart)
    try:
        _describe(console, run, settings)
        if run.checkpoint.complete and run.output == STDOUT:
            console.print(f"already complete; writing the text again from {run.checkpoint_path}", markup=False)
            run.finish(keep_checkpoint=keep_checkpoint)
            return "ok: stdout"
        if run.already_written:
            console.print(f"{run.output} is already complete (pass --restart to clean it again)", markup=False)
            return "skipped: already complete"
        started = time.perf_counter()
        if console.is_terminal:
            _live_bar(console, run)
        else:
            _chunk_lines(console, run)
        path = run.finish(keep_checkpoint=keep_checkpoint or job.report is not None)
        if job.report:
            write_report(run.checkpoint_path, job.report)
            console.print(f"report: {job.report}", markup=False)
            if not keep_checkpoint:
                run.checkpoint_path.unlink(missing_ok=True)
        _summarise(console, run, path, time.perf_counter() - started)
        return f"ok: {path}"
    finally:
        run.close()


def _describe(console: Console, run: CleaningRun, settings: CleanSettings) -> None:
    threads, why = (settings.threads, "--threads") if settings.threads else usable_cpus()
    model = run.model
    pages = (
        f"pages {run.chunks[0].first_page}-{run.chunks[-1].last_page}" if run.chunks else "no text left by the rules"
    )
    console.print(
        f"{run.pdf.name}: {len(run.chunks)} chunks of up to {run.chunk_tokens} tokens, "
        f"{pages} of {run.page_count}, --mode {settings.mode}"
    )
    if model is not None:
        console.print(
            f"model {model.name} on {model.device}, {threads} threads ({why}), context {model.n_ctx}, "
            f"{run.parallel} chunk{'s' if run.parallel != 1 else ''} at once ({run.parallel_why})"
        )
    if run.done_at_start:
        console.print(
            f"resumed: {run.done_at_start}/{len(run.chunks)} chunks were already cleaned in {run.checkpoint_path}"
        )


def _live_bar(console: Console, run: CleaningRun) -> None:
    columns = (
        TextColumn("cleaning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("chunks · {task.fields[rate]} tok/s ·"),
        TimeElapsedColumn(),
        TextColumn("· ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, speed_estimate_period=3600) as progress:
        task = progress.add_task("clean", total=len(run.chunks), completed=run.done_at_start, rate="–")
        for _ in run.results():
            progress.update(task, advance=1, rate=f"{run.stats.tokens_per_second:.0f}")


def _chunk_lines(console: Console, run: CleaningRun) -> None:
    total = len(run.chunks)
    for result in run.results():
        done = f"{len(run.checkpoint.results)}/{total} done, chunk {result.index + 1}"
        if result.decision == "rules":
            console.print(f"{done} (pages {result.first_page}-{result.last_page}): rule-cleaned")
            continue
        console.print(
            f"{done} (pages {result.first_page}-{result.last_page}): "
            f"{result.completion_tokens} tokens in {result.seconds:.1f} s, {run.stats.tokens_per_second:.0f} tok/s"
            + (" [cut off at the answer limit]" if result.cut_off else "")
            + (f" [{result.fallback_reason or 'guard'}: rule-cleaned text kept]" if result.fell_back else ""),
            markup=False,
        )


def _summarise(console: Console, run: CleaningRun, path: Path, seconds: float) -> None:
    stats = run.stats
    where = "stdout" if path == STDOUT else str(path)
    console.print(
        f"wrote {where}: {len(run.chunks)} chunks; this run cleaned {stats.chunks_cleaned} "
        f"({stats.completion_tokens:,} answer tokens, {stats.tokens_per_second:.0f} tok/s) in {_duration(seconds)}",
        markup=False,
    )
    if run.lost_pages:
        console.print(f"warning: pages {', '.join(map(str, run.lost_pages))} could not be read and are left out")
    cut = [r.index + 1 for r in run.checkpoint.ordered_results() if r.cut_off]
    results = run.checkpoint.ordered_results()
    fallbacks = sum(r.fell_back for r in results)
    if fallbacks:
        console.print(
            f"{fallbacks} of {len(run.chunks)} chunks kept their rule-cleaned text: {describe_fallbacks(results)}",
            markup=False,
        )
    if cut:
        console.print(f"warning: {len(cut)} chunks hit the answer limit and may be cut off: {', '.join(map(str, cut))}")


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{seconds:.1f} s"
