"""The command line: parse options, drive the library, print progress and one-line errors."""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from . import __version__
from .container import resume_hint
from .errors import EdgecleanError
from .hardware import PARALLEL_CPU, PARALLEL_CPU_SELECT, PARALLEL_GPU
from .settings import MAX_PARALLEL, MODES, CleanSettings

app = typer.Typer(
    help="Turn PDFs into clean, podcast-ready text with a small local model, entirely offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True, highlight=False, soft_wrap=True)
DEFAULTS = CleanSettings()
ModelOption = Annotated[
    Optional[str],
    typer.Option(
        help="GGUF file path or known model name. [default: llama-3.2-1b-instruct-q4_k_m]",
        envvar="EDGECLEAN_MODEL",
        show_default=False,
    ),
]
ThreadsOption = Annotated[
    Optional[int],
    typer.Option(
        help="CPU threads. [default: CPUs this process may use]", envvar="EDGECLEAN_THREADS", min=1, show_default=False
    ),
]
Mode = enum.Enum("Mode", {name: name for name in MODES}, type=str)

CLEAN_EXAMPLES = """\
Examples:

  edgeclean clean paper.pdf                      # writes paper.clean.txt

  edgeclean clean paper.pdf -o out.txt --pages 1-10

  edgeclean clean paper.pdf --model models/SmolLM2-135M-Instruct.Q4_1.gguf

  edgeclean clean paper.pdf -o - > paper.txt      # text to stdout

  edgeclean clean paper.pdf --parallel 8          # decode 8 chunks at once

An interrupted run resumes when the same command is run again.
"""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"edgeclean {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Turn PDFs into clean, podcast-ready text with a small local model, entirely offline."""


@app.command(epilog=CLEAN_EXAMPLES)
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
    pages: Annotated[
        Optional[str], typer.Option(help="Pages to clean, e.g. 1-10,15. [default: all]", show_default=False)
    ] = None,
    max_chars: Annotated[
        Optional[int],
        typer.Option(help="Stop after this many characters of text. [default: no limit]", min=1, show_default=False),
    ] = None,
    password: Annotated[
        Optional[str],
        typer.Option(help="Password of an encrypted PDF.", envvar="EDGECLEAN_PDF_PASSWORD", show_default=False),
    ] = None,
    ctx: Annotated[
        int, typer.Option("--ctx", help="Context window in tokens.", envvar="EDGECLEAN_CTX", min=256)
    ] = DEFAULTS.n_ctx,
    chunk_tokens: Annotated[
        Optional[int],
        typer.Option(
            help="Tokens of text per chunk. [default: as many as fit --ctx]",
            envvar="EDGECLEAN_CHUNK_TOKENS",
            min=16,
            show_default=False,
        ),
    ] = None,
    temperature: Annotated[
        float, typer.Option(help="0 is greedy: reproducible output.", min=0.0)
    ] = DEFAULTS.temperature,
    seed: Annotated[int, typer.Option(help="Sampling seed (only with --temperature > 0).")] = DEFAULTS.seed,
    n_gpu_layers: Annotated[
        int, typer.Option(help="Layers to offload to a GPU (-1 all, 0 none).", envvar="EDGECLEAN_N_GPU_LAYERS")
    ] = DEFAULTS.n_gpu_layers,
    threads: ThreadsOption = None,
    parallel: Annotated[
        Optional[int],
        typer.Option(
            help=f"Chunks decoded at once in one context. [default: {PARALLEL_CPU} on a CPU "
            f"({PARALLEL_CPU_SELECT} in --mode select), {PARALLEL_GPU} on a GPU]",
            envvar="EDGECLEAN_PARALLEL",
            min=1,
            max=MAX_PARALLEL,
            show_default=False,
        ),
    ] = None,
    require_gpu: Annotated[
        bool, typer.Option(help="Fail rather than run on the CPU when no GPU offload is available.")
    ] = False,
    report: Annotated[
        Optional[Path],
        typer.Option(
            help="Write a per-chunk HTML diff report here (a folder when cleaning several PDFs).", show_default=False
        ),
    ] = None,
    mode: Annotated[
        Mode,
        typer.Option(
            help="select: the model only drops non-prose sentences; rewrite: it rewrites each chunk (guarded); "
            "rules: no model at all.",
            envvar="EDGECLEAN_MODE",
        ),
    ] = Mode(DEFAULTS.mode),
    keep_citations: Annotated[
        bool, typer.Option(help="Keep citations like (Wei et al., 2022) and [12] in the text.")
    ] = not DEFAULTS.drop_citations,
    keep_contents: Annotated[
        bool, typer.Option(help="Keep tables of contents and lists of figures/tables (dot-leader entries).")
    ] = not DEFAULTS.drop_contents,
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
) -> None:
    """Clean a PDF into text, chunk by chunk, with a local GGUF model."""
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"  # for any library below us; clean itself never downloads
    settings = CleanSettings(
        n_ctx=ctx,
        chunk_tokens=chunk_tokens,
        temperature=temperature,
        seed=seed,
        n_gpu_layers=n_gpu_layers,
        require_gpu=require_gpu,
        threads=threads,
        parallel=parallel,
        pages=pages,
        max_chars=max_chars,
        mode=mode.value,
        drop_citations=not keep_citations,
        drop_contents=not keep_contents,
    )
    _configure_logging(verbose)
    with _user_errors():
        from .progress import plan_jobs, run_jobs

        jobs = plan_jobs(pdfs, output, report)
        failed = run_jobs(
            console, jobs, model, settings, password=password, restart=restart, keep_checkpoint=keep_checkpoint
        )
    if failed:
        raise typer.Exit(1)


@app.command()
def info(
    pdf: Annotated[Path, typer.Argument(help="The PDF to inspect.", show_default=False)],
    password: Annotated[
        Optional[str],
        typer.Option(help="Password of an encrypted PDF.", envvar="EDGECLEAN_PDF_PASSWORD", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Show a PDF's pages, metadata, amount of text and whether it has a text layer.

    Example: edgeclean info paper.pdf
    """
    _configure_logging(0)
    with _user_errors():
        from .extract import PdfDocument

        with PdfDocument(pdf, password) as document:
            details = document.info()
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


@app.command("report")
def report_command(
    output: Annotated[Path, typer.Argument(help="An output file (its OUTPUT.ckpt is read) or a .ckpt file.")],
    to: Annotated[
        Optional[Path],
        typer.Option("--to", "-o", help="Report file. [default: OUTPUT.report.html]", show_default=False),
    ] = None,
) -> None:
    """Build the per-chunk HTML diff report from a checkpoint, also for an unfinished run.

    Example: edgeclean report paper.clean.txt
    """
    _configure_logging(0)
    with _user_errors():
        from .report import write_report
        from .status import checkpoint_for

        checkpoint = checkpoint_for(output)
        target = to or checkpoint.with_name(checkpoint.name.removesuffix(".ckpt") + ".report.html")
        write_report(checkpoint, target)
    typer.echo(f"wrote {target}")


@app.command()
def status(
    output: Annotated[Path, typer.Argument(help="An output file (its OUTPUT.ckpt is read) or a .ckpt file.")],
) -> None:
    """Show how far a run has got: chunks done, model, settings, start and last update.

    Example: edgeclean status paper.clean.txt
    """
    _configure_logging(0)
    with _user_errors():
        from .status import describe_checkpoint

        for label, value in describe_checkpoint(output):
            typer.echo(f"{label:<12}{value}")


@app.command()
def doctor(
    model: ModelOption = None,
    probe: Annotated[bool, typer.Option("--probe", help="Load the model and time a short completion.")] = False,
    n_gpu_layers: Annotated[
        int, typer.Option(help="Layers to offload in the probe (-1 all).", envvar="EDGECLEAN_N_GPU_LAYERS")
    ] = DEFAULTS.n_gpu_layers,
    threads: ThreadsOption = None,
) -> None:
    """Show what clean would run on: llama.cpp build, GPU or CPU features, threads, models, offline or not.

    Exits non-zero, with the fix, when llama-cpp-python or the model is missing. Example: edgeclean doctor --probe
    """
    _configure_logging(0)
    with _user_errors():
        from .doctor import diagnose, run_probe

        report = diagnose(model, threads)
        for label, value in report.lines:
            typer.echo(f"{label:<17}{value}")
        if report.problem:
            raise report.problem
        if probe:
            for label, value in run_probe(report.model_path, n_gpu_layers=n_gpu_layers, threads=threads):
                typer.echo(f"{label:<17}{value}")


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Turn known failures and signals into one line on stderr and an exit code; no tracebacks."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    except EdgecleanError as error:
        _error_line(str(error))
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        console.print(f"interrupted; finished chunks are saved. {resume_hint(sys.argv[1:])}", markup=False)
        raise typer.Exit(130) from None
    except _Terminated:
        console.print(f"terminated; finished chunks are saved. {resume_hint(sys.argv[1:])}", markup=False)
        raise typer.Exit(143) from None
    except Exception as error:
        if os.environ.get("EDGECLEAN_DEBUG"):
            raise
        detail = f"{type(error).__name__}: {str(error)[:300]}"
        _error_line(f"unexpected {detail} (set EDGECLEAN_DEBUG=1 for details)")
        raise typer.Exit(1) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _error_line(message: str) -> None:
    from rich.text import Text

    console.print(Text.assemble(("error: ", "bold red"), message))


class _Terminated(BaseException):
    """SIGTERM, raised where Python next runs so the loop unwinds like Ctrl-C."""


def _raise_terminated(signum: int, frame) -> None:
    raise _Terminated()


def _configure_logging(verbose: int) -> None:
    if console.is_terminal:
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(console=console, show_time=False, show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger = logging.getLogger("edgeclean")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING)


from .cli_models import models_app  # noqa: E402  (it uses _user_errors and console from above)

app.add_typer(models_app, name="models")


def main() -> None:
    app(prog_name="edgeclean")


if __name__ == "__main__":
    main()
