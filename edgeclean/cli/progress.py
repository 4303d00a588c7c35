"""What the CLI shows while a run works: a live bar on a terminal, one line per chunk elsewhere. Display only:
the library tells it what happened (jobs.Watcher), and it decides nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..jobs import JobOutcome, Watcher
from ..paths import STDOUT
from .common import raise_if_signalled


class ConsoleWatcher(Watcher):
    def __init__(self, console: Console):
        self.console = console

    def loading(self, model: str) -> contextlib.AbstractContextManager:
        return self.console.status(f"loading model {model}…")

    def started(self, run) -> None:
        plan, model = run.plan, run.model
        pages = (
            f"pages {run.chunks[0].first_page}-{run.chunks[-1].last_page}"
            if run.chunks
            else "no text left by the rules"
        )
        self.console.print(
            f"{run.pdf.name}: {len(run.chunks)} chunks of up to {plan.chunk_tokens} tokens, "
            f"{pages} of {plan.page_count}, --mode {plan.mode}"
        )
        if model is not None:
            self.console.print(
                f"model {model.name} on {model.device}, {plan.threads} threads ({plan.threads_why}), context "
                f"{model.n_ctx}, {plan.parallel} chunk{'s' if plan.parallel != 1 else ''} at once ({plan.parallel_why})"
            )
        if run.done_at_start:
            self.console.print(
                f"resumed: {run.done_at_start}/{len(run.chunks)} chunks were already cleaned in {run.checkpoint_path}"
            )

    @contextlib.contextmanager
    def cleaning(self, run):
        with self._live_bar(run) if self.console.is_terminal else self._chunk_lines(run) as show:

            def each(result) -> None:
                show(result)
                raise_if_signalled()  # a Ctrl-C Python swallowed in a finalizer still stops the run here

            yield each

    @contextlib.contextmanager
    def _live_bar(self, run) -> Iterator:
        columns = (
            TextColumn("cleaning"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("chunks · {task.fields[rate]} tok/s ·"),
            TimeElapsedColumn(),
            TextColumn("· ETA"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self.console, speed_estimate_period=3600) as progress:
            task = progress.add_task("clean", total=len(run.chunks), completed=run.done_at_start, rate="–")
            yield lambda result: progress.update(task, advance=1, rate=f"{run.stats.tokens_per_second:.0f}")

    @contextlib.contextmanager
    def _chunk_lines(self, run) -> Iterator:
        def line(result) -> None:
            done = f"{len(run.checkpoint.results)}/{len(run.chunks)} done, chunk {result.index + 1}"
            where = f"(pages {result.first_page}-{result.last_page})"
            if result.decision == "rules":
                self.console.print(f"{done} {where}: rule-cleaned")
                return
            if result.decision == "rules-only":
                self.console.print(f"{done} {where}: rules-only: {result.fallback_reason}", markup=False)
                return
            self.console.print(
                f"{done} {where}: {result.completion_tokens} tokens in {result.seconds:.1f} s, "
                f"{run.stats.tokens_per_second:.0f} tok/s"
                + (" [cut off at the answer limit]" if result.cut_off else "")
                + (f" [{result.fallback_reason or 'guard'}: rule-cleaned text kept]" if result.fell_back else ""),
                markup=False,
            )

        yield line

    def note(self, message: str) -> None:
        self.console.print(message, markup=False)

    def finished(self, outcome: JobOutcome, seconds: float) -> None:
        run, stats = outcome.run, outcome.run.stats
        where = "stdout" if run.output == STDOUT else str(run.output)
        self.console.print(
            f"wrote {where}: {len(run.chunks)} chunks; this run cleaned {stats.chunks_cleaned} "
            f"({stats.completion_tokens:,} answer tokens, {stats.tokens_per_second:.0f} tok/s) in {_duration(seconds)}",
            markup=False,
        )
        if run.removed:
            self.console.print(f"rules removed: {run.removed.describe()}", markup=False)
        if run.lost_pages:
            self.console.print(
                f"warning: pages {', '.join(map(str, run.lost_pages))} could not be read and are left out"
            )
        summary = run.checkpoint.summary()
        if summary.fell_back:
            self.console.print(
                f"{len(summary.fell_back)} of {len(run.chunks)} chunks kept their rule-cleaned text: "
                f"{summary.describe_fallbacks()}",
                markup=False,
            )
        if summary.cut_off:
            self.console.print(
                f"warning: {len(summary.cut_off)} chunks hit the answer limit and may be cut off: "
                f"{', '.join(map(str, summary.cut_off))}"
            )

    def failed(self, outcome: JobOutcome) -> None:
        self.console.print(f"{outcome.job.pdf}: {outcome}", markup=False)


def print_outcomes(console: Console, outcomes: list[JobOutcome]) -> None:
    console.print(f"\n{len(outcomes)} PDFs:", markup=False)
    for outcome in outcomes:
        console.print(f"  {outcome.job.pdf}: {outcome}", markup=False)


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{seconds:.1f} s"
