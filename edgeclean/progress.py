"""What the CLI shows while a run works: a live bar on a terminal, one line per chunk elsewhere."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .extract import PdfDocument
from .hardware import usable_cpus
from .output import STDOUT, check_writable
from .pipeline import CleaningRun, default_output, load_model
from .settings import CleanSettings


def run_with_progress(
    console: Console,
    pdf: Path,
    output: Path | None,
    model_name: str | None,
    settings: CleanSettings,
    *,
    password: str | None,
    restart: bool,
    keep_checkpoint: bool,
) -> None:
    document = PdfDocument(pdf, password)
    check_writable(output or default_output(document.path))
    model = None
    if settings.needs_model:
        with console.status(f"loading model {model_name or 'default'}…"):
            model = load_model(model_name, settings)
    try:
        run = CleaningRun(document, model, settings, output=output, restart=restart)
        try:
            _describe(console, run, settings)
            if run.checkpoint.complete and (run.output == STDOUT or run.output.exists()):
                console.print(f"{run.output} is already complete (pass --restart to clean it again)")
                return
            started = time.perf_counter()
            if console.is_terminal:
                _live_bar(console, run)
            else:
                _chunk_lines(console, run)
            path = run.finish(keep_checkpoint=keep_checkpoint)
            _summarise(console, run, path, time.perf_counter() - started)
        finally:
            run.close()
    finally:
        if model is not None:
            model.close()


def _describe(console: Console, run: CleaningRun, settings: CleanSettings) -> None:
    threads, why = (settings.threads, "--threads") if settings.threads else usable_cpus()
    model = run.model
    console.print(
        f"{run.pdf.name}: {len(run.chunks)} chunks of up to {run.chunk_tokens} tokens, "
        f"pages {run.chunks[0].first_page}-{run.chunks[-1].last_page} of {run.page_count}, --mode {settings.mode}"
    )
    if model is not None:
        console.print(f"model {model.name} on {model.device}, {threads} threads ({why}), context {model.n_ctx}")
    if run.resumed_at:
        console.print(f"resumed at chunk {run.resumed_at + 1}/{len(run.chunks)} from {run.checkpoint_path}")


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
        task = progress.add_task("clean", total=len(run.chunks), completed=run.resumed_at, rate="–")
        for _ in run.results():
            progress.update(task, advance=1, rate=f"{run.stats.tokens_per_second:.0f}")


def _chunk_lines(console: Console, run: CleaningRun) -> None:
    total = len(run.chunks)
    for result in run.results():
        if result.decision == "rules":
            console.print(
                f"chunk {result.index + 1}/{total} (pages {result.first_page}-{result.last_page}): rule-cleaned"
            )
            continue
        console.print(
            f"chunk {result.index + 1}/{total} (pages {result.first_page}-{result.last_page}): "
            f"{result.completion_tokens} tokens in {result.seconds:.1f} s, {run.stats.tokens_per_second:.0f} tok/s"
            + (" [cut off at the answer limit]" if result.finish_reason == "length" else "")
            + (" [failed the guard: rule-cleaned text kept]" if result.fell_back else ""),
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
    cut = [r.index + 1 for r in run.checkpoint.ordered_results() if r.finish_reason == "length"]
    fallbacks = [r.index + 1 for r in run.checkpoint.ordered_results() if r.fell_back]
    if fallbacks:
        console.print(
            f"{len(fallbacks)} of {len(run.chunks)} chunks kept their rule-cleaned text because the model's answers "
            f"failed the fidelity guard: {', '.join(map(str, fallbacks))}",
            markup=False,
        )
    if cut:
        console.print(f"warning: {len(cut)} chunks hit the answer limit and may be cut off: {', '.join(map(str, cut))}")


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{seconds:.1f} s"
