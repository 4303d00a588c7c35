"""The local engine: one process, one model load, the documents in turn (the loop `clean a.pdf b.pdf` runs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..model.protocol import Model
from ..settings import CleanSettings
from .listing import Document
from .manifest import Row
from .worker import DocumentCleaner


def run_local(
    documents: list[Document],
    settings: CleanSettings,
    *,
    model: str | None,
    password: str | None = None,
    model_factory: Callable[[], Model] | None = None,
) -> Iterator[Row]:
    cleaner = DocumentCleaner(model, settings, password=password, model_factory=model_factory)
    try:
        for document in documents:
            yield cleaner.clean(document.id, document.pdf, document.output)
    finally:
        cleaner.close()
