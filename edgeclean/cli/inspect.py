"""`edgeclean info`, `status` and `report`: look at a PDF, or at a run through its checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..api import pdf_info
from ..corpus.manifest import MANIFEST_NAME, read_manifest, summarise
from ..paths import default_report
from ..store.report import write_report
from ..store.status import checkpoint_for, describe_checkpoint
from .common import PasswordOption, RunArgument, configure_logging, user_errors


def info(
    pdf: Annotated[Path, typer.Argument(help="The PDF to inspect.", show_default=False)],
    password: PasswordOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Show a PDF's pages, metadata, amount of text and whether it has a text layer.

    Example: edgeclean info paper.pdf
    """
    configure_logging(0)
    with user_errors():
        details = pdf_info(pdf, password)
    if as_json:
        typer.echo(
            json.dumps(details.__dict__ | {"has_text_layer": details.has_text_layer}, indent=2, ensure_ascii=False)
        )
        return
    typer.echo(f"file        {details.path}")
    typer.echo(f"pages       {details.pages}")
    typer.echo(f"characters  {details.characters:,}")
    layer = "yes" if details.has_text_layer else "no (scanned images? OCR it first)"
    typer.echo(f"text layer  {layer}, on {details.pages_with_text} of {details.pages} pages")
    for key, value in details.metadata.items():
        typer.echo(f"{key:<11} {value}")


def report(
    output: RunArgument,
    to: Annotated[
        Optional[Path],
        typer.Option("--to", "-o", help="Report file. [default: OUTPUT.report.html]", show_default=False),
    ] = None,
) -> None:
    """Build the per-chunk HTML diff report from a checkpoint, also for an unfinished run.

    Example: edgeclean report paper.clean.txt
    """
    configure_logging(0)
    with user_errors():
        checkpoint = checkpoint_for(output)
        target = to or default_report(checkpoint)
        write_report(checkpoint, target)
    typer.echo(f"wrote {target}")


def status(output: RunArgument) -> None:
    """Show how far a run has got: chunks done, model, settings, start and last update; or a corpus run's
    documents done, failed (with reasons) and left, given its output folder.

    Example: edgeclean status paper.clean.txt    edgeclean status out/
    """
    configure_logging(0)
    with user_errors():
        if (output / MANIFEST_NAME).is_file():
            corpus_status(output)
            return
        for label, value in describe_checkpoint(output):
            typer.echo(f"{label:<12}{value}")


def corpus_status(outdir: Path) -> None:
    rows, documents = read_manifest(outdir)
    summary = summarise(rows, documents)
    typer.echo(f"{'documents':<12}{summary.documents}")
    for name in ("done", "skipped", "failed"):
        typer.echo(f"{name:<12}{summary.counts[name]}")
    typer.echo(f"{'left':<12}{max(summary.left, 0)}")
    speed = f"{summary.tokens_per_second:.1f} answer tokens/s per worker"
    typer.echo(f"{'tokens/s':<12}{speed} ({summary.answer_tokens} tokens in {summary.seconds:.0f} s of cleaning)")
    for row in summary.failures:
        typer.echo(f"failed      {row.id}: {row.error}")
