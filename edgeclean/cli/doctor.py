"""`edgeclean doctor`: what clean would run on here, and optionally a timed probe of the model."""

from __future__ import annotations

from typing import Annotated

import typer

from ..model.doctor import diagnose, run_probe
from ..settings import CleanSettings
from .common import ModelOption, ThreadsOption, configure_logging, user_errors


def doctor(
    model: ModelOption = None,
    probe: Annotated[bool, typer.Option("--probe", help="Load the model and time a short completion.")] = False,
    n_gpu_layers: Annotated[
        int, typer.Option(help="Layers to offload in the probe (-1 all).", envvar="EDGECLEAN_N_GPU_LAYERS")
    ] = CleanSettings().n_gpu_layers,
    threads: ThreadsOption = None,
) -> None:
    """Show what clean would run on: llama.cpp build, GPU or CPU features, threads, models, offline or not.

    Exits non-zero, with the fix, when llama-cpp-python or the model is missing. Example: edgeclean doctor --probe
    """
    configure_logging(0)
    with user_errors():
        report = diagnose(model, threads)
        for label, value in report.lines:
            typer.echo(f"{label:<17}{value}")
        if report.problem:
            raise report.problem
        if probe:
            for label, value in run_probe(report.model_path, n_gpu_layers=n_gpu_layers, threads=threads):
                typer.echo(f"{label:<17}{value}")
