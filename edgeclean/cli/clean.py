"""`edgeclean clean`: parse the options, hand the jobs to the library, show what happens."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..api import clean_pdfs
from ..jobs import plan_jobs
from ..settings import CleanSettings
from .common import ModelOption, PasswordOption, configure_logging, console, user_errors
from .options import settings_options
from .progress import ConsoleWatcher, print_outcomes

EXAMPLES = """\
Examples:

  edgeclean clean paper.pdf                      # writes paper.clean.txt

  edgeclean clean paper.pdf -o out.txt --pages 1-10

  edgeclean clean paper.pdf --model models/SmolLM2-135M-Instruct.Q4_1.gguf

  edgeclean clean paper.pdf -o - > paper.txt      # text to stdout

  edgeclean clean paper.pdf --parallel 8          # decode 8 chunks at once

An interrupted run resumes when the same command is run again.
"""


@settings_options
def clean(
    pdfs: Annotated[list[Path], typer.Argument(help="PDFs, or folders of PDFs, to clean.", show_default=False)],
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output",
            "-o",
            help="Output file ('-' for stdout); a folder when cleaning several PDFs. [default: NAME.clean.txt here]",
            show_default=False,
        ),
    ] = None,
    model: ModelOption = None,
    password: PasswordOption = None,
    report: Annotated[
        Optional[Path],
        typer.Option(
            help="Write a per-chunk HTML diff report here (a folder when cleaning several PDFs).", show_default=False
        ),
    ] = None,
    restart: Annotated[bool, typer.Option(help="Ignore any checkpoint and overwrite the output.")] = False,
    keep_checkpoint: Annotated[bool, typer.Option(help="Keep OUTPUT.ckpt after the output is complete.")] = True,
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, help="More detail: -v progress notes, -vv debug (pypdf warnings)."),
    ] = 0,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline", help="Guarantee no network access (sets HF_HUB_OFFLINE=1); models come from models/ only."
        ),
    ] = False,
    *,
    settings: CleanSettings,
) -> None:
    """Clean a PDF into text, chunk by chunk, with a local GGUF model."""
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"  # for any library below us; clean itself never downloads
    configure_logging(verbose)
    with user_errors():
        jobs = plan_jobs(pdfs, output, report)
        outcomes = clean_pdfs(
            jobs,
            model=model,
            settings=settings,
            password=password,
            restart=restart,
            keep_checkpoint=keep_checkpoint,
            watch=ConsoleWatcher(console),
        )
    if len(outcomes) > 1:
        print_outcomes(console, outcomes)
    if any(outcome.failed for outcome in outcomes):
        raise typer.Exit(1)
