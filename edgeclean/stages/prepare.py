"""Stages 1-2 for one run: extract the pages, clean them by rules, cut them into chunks the model can take.

The document is closed when this returns: page text is small, and running headers are found across all pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..model.protocol import Model
from ..settings import CleanSettings
from .chunk import Chunk, chunk_pages
from .extract import Page, PdfDocument, limit_characters
from .repair import Removed
from .rules import PageRules, RuleOptions
from .sentences import numbered_sentences

# Fewer characters than this per page means there is no real text layer, only stray marks or a title.
SCANNED_CHARS_PER_PAGE = 20
_ROUGH_TOKEN = re.compile(r"\w+|[^\w\s]")  # chunk sizes in --mode rules, where no tokenizer is loaded


@dataclass(frozen=True)
class PreparedText:
    chunks: list[Chunk]
    lost_pages: list[int]
    """Pages that could not be read (a parser error or time limit) and are left out."""
    removed: Removed
    """What each rule removed (references, citations, urls, ...), in items and characters."""


def prepare_chunks(
    document: PdfDocument,
    model: Model | None,
    settings: CleanSettings,
    *,
    chunk_tokens: int,
    page_numbers: list[int] | None,
) -> PreparedText:
    try:
        pages = list(document.pages(page_numbers))
    finally:
        document.close()
    rules = PageRules(pages, rule_options(settings))
    if settings.max_chars is not None:
        pages = list(limit_characters(pages, settings.max_chars))
    # Judged on the text as extracted: what the rules remove (headers, addresses) is still a text layer.
    characters = sum(len("".join(page.text.split())) for page in pages)
    page_total = len(page_numbers) if page_numbers else document.page_count
    if settings.max_chars is None and characters < SCANNED_CHARS_PER_PAGE * page_total:
        raise InputError(
            f"{document.path}: only {characters} characters of text on {page_total} pages; it looks scanned "
            "(no text layer), so OCR it first"
        )
    cleaned = (Page(page.number, rules.apply(page.text, page.number)) for page in pages)
    chunks = list(chunk_pages(cleaned, token_counter(model, settings.mode), chunk_tokens))
    if not chunks:
        raise InputError(
            f"{document.path}: the rules removed all {characters} characters of its text (page numbers, running "
            "headers, e-mail addresses, citations); nothing is left to clean"
        )
    return PreparedText(chunks, list(document.lost_pages), rules.removed)


def rule_options(settings: CleanSettings) -> RuleOptions:
    keep, drop = settings.kept(), settings.dropped()
    return RuleOptions(
        drop_citations=settings.drop_citations,
        drop_contents=settings.drop_contents,
        drop_references="references" not in keep,
        drop_urls="urls" not in keep,
        drop_figures="figures" not in keep,
        drop_math="math" not in keep,
        drop_appendix="appendix" in drop,
        drop_acknowledgements="acknowledgements" in drop,
    )


def token_counter(model: Model | None, mode: str):
    """A chunk's tokens as the model will see them: in --mode select, as numbered sentences.

    Counting the prompt's own shape makes every prompt fit the context by construction: a dotted table of
    contents once became 3,471 select tokens from a chunk counted as 700.
    """
    if model is None:
        return lambda text: len(_ROUGH_TOKEN.findall(text))
    if mode == "select":
        return lambda text: model.count_tokens(numbered_sentences(text))
    return model.count_tokens


def open_pdf(pdf: str | Path | PdfDocument, password: str | None) -> PdfDocument:
    return pdf if isinstance(pdf, PdfDocument) else PdfDocument(pdf, password)
