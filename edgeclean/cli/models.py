"""`edgeclean models ...`: list the known models, pull one (online, once), verify what is on disk (offline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import DownloadInterrupted
from ..model.registry import DEFAULT_MODEL, KNOWN_MODELS, known_model, local_models, models_dir
from .common import configure_logging, console, user_errors

models_app = typer.Typer(
    help="List, download and verify GGUF models. Pull once on a connected machine; copy models/ anywhere.",
    no_args_is_help=True,
)

ModelsDir = Annotated[
    Optional[Path],
    typer.Option(
        "--models-dir",
        envvar="EDGECLEAN_MODELS_DIR",
        help="Where models live. [default: ./models]",
        show_default=False,
        file_okay=False,
    ),
]

PULL_EXAMPLES = f"""\
Examples:

  edgeclean models pull                          # the default, {DEFAULT_MODEL}

  edgeclean models pull smollm2-135m-instruct --models-dir /data/models

An interrupted download resumes when the same command is run again. Known names: {", ".join(KNOWN_MODELS)}.
"""


@models_app.command("list")
def list_models(
    directory: ModelsDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Show the known models, which are present locally, their size and where."""
    directory = directory or models_dir()
    found = local_models(directory)
    if as_json:
        rows = [
            {
                "name": m.name,
                "present": m.present,
                "path": str(m.path),
                "bytes": m.size_bytes,
                "source": m.known.repo if m.known else None,
                "default": m.name == DEFAULT_MODEL,
            }
            for m in found
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"models in {directory}/  (* default)")
    for model in found:
        mark = "*" if model.name == DEFAULT_MODEL else " "
        if model.present:
            status = f"present  {model.size_bytes / 1e6:>7,.0f} MB  {model.path}"
        else:
            status = f"missing  {model.known.size if model.known else '?':>10}  edgeclean models pull {model.name}"
        typer.echo(f"{mark} {model.name:<30} {status}")
        typer.echo(f"  {'':<30} {model.description}" + (f" [{model.known.repo}]" if model.known else ""))


@models_app.command(epilog=PULL_EXAMPLES)
def pull(
    name: Annotated[
        Optional[str], typer.Argument(help=f"A known model name. [default: {DEFAULT_MODEL}]", show_default=False)
    ] = None,
    directory: ModelsDir = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline", help="Never touch the network (also HF_HUB_OFFLINE=1); only check what is already here."
        ),
    ] = False,
) -> None:
    """Download a known model into the models directory, resuming and verifying its sha256."""
    configure_logging(0)
    with user_errors():
        from ..model.pull import pull as pull_model

        model = known_model(name)
        try:
            pulled = pull_model(model, directory or models_dir(), offline=offline, say=console.print)
        except KeyboardInterrupt:  # before or after the transfer (which reports its own partial file)
            raise DownloadInterrupted("interrupted; run the same command again to pull") from None
    if pulled.downloaded:
        console.print(f"{model.name}: downloaded to {pulled.path} (sha256 {pulled.sha256} verified)")
    elif pulled.sha256:
        console.print(f"{model.name}: already present at {pulled.path} (sha256 {pulled.sha256[:16]}… recorded)")
    else:
        console.print(f"{model.name}: already present at {pulled.path} (no recorded sha256: not pulled by edgeclean)")


@models_app.command()
def verify(
    directory: ModelsDir = None,
    name: Annotated[
        Optional[str], typer.Argument(help="Only this known model. [default: every GGUF file here]", show_default=False)
    ] = None,
) -> None:
    """Re-hash the model files on disk against the sha256 recorded when they were pulled. Works offline."""
    configure_logging(0)
    directory = directory or models_dir()
    with user_errors():
        from ..model.pull import verify as verify_file

        paths = [directory / known_model(name).filename] if name else sorted(directory.glob("*.gguf"))
        verdicts = [verify_file(path) for path in paths]
    if not verdicts:
        console.print(f"no GGUF files in {directory}/; run `edgeclean models pull` first")
        raise typer.Exit(1)
    for verdict in verdicts:
        typer.echo(f"{'ok  ' if verdict.ok else 'BAD '} {verdict.path}: {verdict.detail}")
    if not all(verdict.ok for verdict in verdicts):
        raise typer.Exit(1)
