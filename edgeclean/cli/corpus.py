"""`edgeclean corpus`: many PDFs into one folder, locally or on a Ray cluster; a line per document, a summary."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..corpus import Row, run_corpus, summarise
from ..corpus.manifest import FAILED
from ..errors import SettingsError
from ..settings import CleanSettings
from .common import ModelOption, PasswordOption, configure_logging, console, user_errors
from .options import settings_options

EXAMPLES = """\
Examples:

  edgeclean corpus papers/ -o out/                          # this machine, one process

  edgeclean corpus papers/ more/*.pdf list.txt -o out/ --engine ray --workers 2:8 --threads-per-worker 4

  edgeclean corpus /shared/papers -o /shared/out --engine ray --address auto

Run the same command again to finish an interrupted corpus; `edgeclean status OUT` summarises it.
"""


def parse_workers(text: str) -> tuple[int, int]:
    try:
        low, _, high = text.partition(":")
        pool = (int(low), int(high or low))
    except ValueError:
        raise SettingsError(f"--workers {text}: give N or MIN:MAX") from None
    if not 1 <= pool[0] <= pool[1]:
        raise SettingsError(f"--workers {text}: need 1 <= MIN <= MAX")
    return pool


@settings_options
def corpus(
    inputs: Annotated[
        list[str], typer.Argument(help="PDFs, folders, globs, or .txt files listing paths.", show_default=False)
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The output folder (shared by all nodes).")],
    engine: Annotated[str, typer.Option(help="local (this process) or ray (pip install 'edgeclean[ray]').")] = "local",
    address: Annotated[
        Optional[str],
        typer.Option(help="Ray cluster, run from a node of it: auto or HOST:6379 [default: a local one, in-process]"),
    ] = None,
    workers: Annotated[str, typer.Option(help="Ray actors: N, or MIN:MAX to autoscale.")] = "1",
    threads_per_worker: Annotated[
        Optional[int], typer.Option(help="llama.cpp threads and Ray CPUs per worker. [default: --threads or 1]", min=1)
    ] = None,
    gpus_per_worker: Annotated[float, typer.Option(help="GPUs per Ray worker (a CUDA build on GPU nodes).")] = 0.0,
    model: ModelOption = None,
    password: PasswordOption = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More detail.")] = 0,
    offline: Annotated[bool, typer.Option("--offline", help="Guarantee no network access.")] = False,
    *,
    settings: CleanSettings,
) -> None:
    """Clean a corpus of PDFs into a folder: resumable per document and per chunk, failures recorded as rows."""
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
    configure_logging(verbose)
    with user_errors():
        rows = run_corpus(
            inputs,
            output,
            engine=engine,
            settings=settings,
            model=model,
            password=password,
            workers=parse_workers(workers),
            threads_per_worker=threads_per_worker,
            gpus_per_worker=gpus_per_worker,
            address=address,
            on_row=_print_row,
        )
    summary = summarise(rows)
    counts = ", ".join(f"{summary.counts[name]} {name}" for name in ("done", "skipped", "failed"))
    console.print(f"corpus: {counts}; {summary.tokens_per_second:.1f} answer tokens/s per worker", markup=False)
    if summary.counts[FAILED]:
        raise typer.Exit(1)


def _print_row(row: Row) -> None:
    if row.status == FAILED:
        console.print(f"{row.id}: failed: {row.error}", markup=False)
    elif row.status == "done":
        resumed = f", {row.chunks_resumed} resumed" if row.chunks_resumed else ""
        console.print(f"{row.id}: done ({row.chunks} chunks{resumed}, {row.seconds:.1f} s)", markup=False)
    else:
        console.print(f"{row.id}: skipped ({row.error or 'already complete'})", markup=False)
