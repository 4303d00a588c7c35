"""A corpus run: list the documents, skip the finished ones, clean the rest on an engine, record every row."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

from ..errors import SettingsError
from ..hashing import file_sha256
from ..model.protocol import Model
from ..settings import CleanSettings
from ..store.output import remove_stale_temporaries
from .listing import list_documents
from .manifest import SKIPPED, ManifestWriter, Row

ENGINES = ("local", "ray")
log = logging.getLogger("edgeclean")


def run_corpus(
    inputs: list[str | Path],
    outdir: Path,
    *,
    engine: str = "local",
    settings: CleanSettings = CleanSettings(),
    model: str | None = None,
    password: str | None = None,
    workers: tuple[int, int] = (1, 1),
    threads_per_worker: int | None = None,
    gpus_per_worker: float = 0.0,
    address: str | None = None,
    model_factory: Callable[[], Model] | None = None,
    on_row: Callable[[Row], None] = lambda row: None,
) -> list[Row]:
    """Clean every PDF under ``inputs`` into ``outdir``; returns this run's rows (also appended to the manifest)."""
    if engine not in ENGINES:
        raise SettingsError(f"--engine must be one of {', '.join(ENGINES)}")
    if engine == "ray":
        from .ray_engine import check_address, import_ray

        check_address(address)
        import_ray()  # fail in one line before anything is written
    if engine == "local" and workers != (1, 1):
        log.warning("--workers applies to --engine ray; the local engine cleans one document at a time")
    documents = list_documents(inputs, outdir)
    if threads_per_worker:
        settings = dataclasses.replace(settings, threads=threads_per_worker)
    for folder in {document.output.parent for document in documents} & _existing(outdir):
        remove_stale_temporaries(folder)  # scratch files of a run killed while publishing
    writer = ManifestWriter(outdir)
    writer.add_run(engine, len(documents))
    rows = []
    try:
        for document in documents:
            if document.done:
                rows.append(Row(document.id, SKIPPED, sha256=file_sha256(document.output), error="already complete"))
                writer.add(rows[-1])
                on_row(rows[-1])
        todo = [document for document in documents if not document.done]
        common = dict(model=model, password=password, model_factory=model_factory)
        if not todo:
            stream = iter(())
        elif engine == "local":
            from .local import run_local

            stream = run_local(todo, settings, **common)
        else:
            from .ray_engine import run_ray

            threads = threads_per_worker or settings.threads or 1
            stream = run_ray(
                todo,
                settings,
                address=address,
                workers=workers,
                threads_per_worker=threads,
                gpus_per_worker=gpus_per_worker,
                **common,
            )
        for row in stream:
            writer.add(row)
            rows.append(row)
            on_row(row)
    finally:
        writer.close()
    return rows


def _existing(outdir: Path) -> set[Path]:
    return {path for path in [outdir, *outdir.rglob("*")] if path.is_dir()} if outdir.is_dir() else set()
