"""The `edgeclean` command: one typer app, each command in a module of its own."""

from __future__ import annotations

from typing import Annotated

import typer

from ..version import __version__
from .clean import EXAMPLES, clean
from .corpus import EXAMPLES as CORPUS_EXAMPLES
from .corpus import corpus
from .doctor import doctor
from .inspect import info, report, status
from .models import models_app

app = typer.Typer(
    help="Turn PDFs into clean, podcast-ready text with a small local model, entirely offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


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


app.command(epilog=EXAMPLES)(clean)
app.command(epilog=CORPUS_EXAMPLES)(corpus)
app.command()(info)
app.command("report")(report)
app.command()(status)
app.command()(doctor)
app.add_typer(models_app, name="models")


def main() -> None:
    app(prog_name="edgeclean")


if __name__ == "__main__":
    main()
