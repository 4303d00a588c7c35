"""What every command shares: the stderr console, logging, and turning failures into one line and an exit code."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from ..container import resume_hint
from ..errors import DownloadInterrupted, EdgecleanError, SettingsError

console = Console(stderr=True, highlight=False, soft_wrap=True)

# Exit codes: 1 a failure, 2 options that cannot work (as for a usage error), 128 + N a signal.
EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 1, 2, 130, 143

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
PasswordOption = Annotated[
    Optional[str],
    typer.Option(help="Password of an encrypted PDF.", envvar="EDGECLEAN_PDF_PASSWORD", show_default=False),
]
RunArgument = Annotated[Path, typer.Argument(help="An output file (its OUTPUT.ckpt is read) or a .ckpt file.")]


def exit_code(error: EdgecleanError) -> int:
    if isinstance(error, SettingsError):
        return EXIT_USAGE
    if isinstance(error, DownloadInterrupted):
        return EXIT_INTERRUPTED
    return EXIT_FAILURE


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn known failures and signals into one line on stderr and an exit code; no tracebacks."""
    _signalled.clear()
    previous = {signum: signal.signal(signum, _raise_signalled) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except EdgecleanError as error:
        error_line(str(error))
        raise typer.Exit(exit_code(error)) from None
    except KeyboardInterrupt:
        console.print(f"interrupted; finished chunks are saved. {resume_hint(sys.argv[1:])}", markup=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except _Terminated:
        console.print(f"terminated; finished chunks are saved. {resume_hint(sys.argv[1:])}", markup=False)
        raise typer.Exit(EXIT_TERMINATED) from None
    except Exception as error:
        if os.environ.get("EDGECLEAN_DEBUG"):
            raise
        detail = f"{type(error).__name__}: {str(error)[:300]}"
        error_line(f"unexpected {detail} (set EDGECLEAN_DEBUG=1 for details)")
        raise typer.Exit(EXIT_FAILURE) from None
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def error_line(message: str) -> None:
    from rich.text import Text

    console.print(Text.assemble(("error: ", "bold red"), message))


class _Terminated(BaseException):
    """SIGTERM, raised where Python next runs so the loop unwinds like Ctrl-C."""


# Signals received during this command. Python ignores (only prints) an exception raised inside a finalizer, so a
# Ctrl-C that lands while a finished chunk's generator or a ctypes object is being collected would be lost and
# the run would go on to the end; the run's loop calls raise_if_signalled after each chunk to raise it again.
_signalled: list[int] = []


def _raise_signalled(signum: int, frame) -> None:
    _signalled.append(signum)
    raise_if_signalled()


def raise_if_signalled() -> None:
    """Raise KeyboardInterrupt (SIGINT) or the SIGTERM exception if either arrived during this command."""
    if _signalled:
        raise KeyboardInterrupt() if _signalled[-1] == signal.SIGINT else _Terminated()


def configure_logging(verbose: int) -> None:
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
