"""Stage 1: pull text out of a PDF with pypdf, one page at a time, keeping page numbers."""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

log = logging.getLogger("edgeclean.extract")


@dataclass(frozen=True)
class Page:
    number: int  # 1-based, as a reader would say it
    text: str


@dataclass(frozen=True)
class PdfInfo:
    path: str
    pages: int
    metadata: dict[str, str]
    characters: int
    pages_with_text: int

    @property
    def has_text_layer(self) -> bool:
        return self.pages_with_text > 0


class PdfDocument:
    """An opened, decrypted PDF. Pages are extracted lazily so a long document is never held whole."""

    def __init__(self, path: str | Path, password: str | None = None):
        import pypdf
        from pypdf.errors import PdfReadError

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such file")
        try:
            with quiet_pypdf():
                self._reader = pypdf.PdfReader(self.path)
                if self._reader.is_encrypted:
                    self._decrypt(password)
                self.page_count = len(self._reader.pages)
        except (PdfReadError, ValueError, OSError) as error:
            raise InputError(f"{self.path}: not a readable PDF ({_first_line(error)})") from None

    def _decrypt(self, password: str | None) -> None:
        from pypdf.errors import DependencyError

        try:
            unlocked = self._reader.decrypt(password or "")
        except DependencyError:
            raise InputError(f"{self.path}: encrypted with AES; install 'cryptography' to open it") from None
        if not unlocked:
            if password is None:
                raise InputError(f"{self.path}: the PDF is password-protected; pass --password")
            raise InputError(f"{self.path}: wrong password")

    def metadata(self) -> dict[str, str]:
        with quiet_pypdf():
            raw = self._reader.metadata or {}
        return {key.lstrip("/"): str(value) for key, value in raw.items() if str(value).strip()}

    def pages(self, numbers: Iterable[int] | None = None) -> Iterator[Page]:
        for number in numbers or range(1, self.page_count + 1):
            yield Page(number, self._page_text(number))

    def _page_text(self, number: int) -> str:
        try:
            with quiet_pypdf():
                text = self._reader.pages[number - 1].extract_text() or ""
        except Exception as error:  # pypdf raises many types on damaged content streams
            log.warning("page %d: text extraction failed (%s); the page is left out", number, _first_line(error))
            return ""
        return text.replace("\x00", "").strip()

    def info(self) -> PdfInfo:
        texts = [page.text for page in self.pages()]
        return PdfInfo(
            path=str(self.path),
            pages=self.page_count,
            metadata=self.metadata(),
            characters=sum(len(text) for text in texts),
            pages_with_text=sum(1 for text in texts if text.strip()),
        )


def parse_page_ranges(spec: str, page_count: int) -> list[int]:
    """Turn ``"1-10,15"`` into page numbers; an open range like ``"5-"`` runs to the last page."""
    numbers: set[int] = set()
    for part in spec.replace(" ", "").split(","):
        if not part:
            continue
        first, dash, last = part.partition("-")
        try:
            start = int(first) if first else 1
            end = (int(last) if last else page_count) if dash else start
        except ValueError:
            raise InputError(f"--pages {spec!r}: use numbers and ranges like 1-10,15") from None
        if start < 1 or end < start or end > page_count:
            raise InputError(f"--pages {spec!r}: the PDF has pages 1-{page_count}")
        numbers.update(range(start, end + 1))
    if not numbers:
        raise InputError(f"--pages {spec!r} selects no pages")
    return sorted(numbers)


def limit_characters(pages: Iterable[Page], max_chars: int) -> Iterator[Page]:
    """Stop after ``max_chars`` characters, cutting at a word boundary, and say in the log what was cut."""
    remaining = max_chars
    for page in pages:
        if len(page.text) <= remaining:
            remaining -= len(page.text)
            yield page
            continue
        kept = page.text[:remaining]
        if not page.text[remaining].isspace():
            kept = re.sub(r"\S+$", "", kept)  # never end inside a word
        kept = kept.rstrip()
        log.warning(
            "--max-chars %d: text stops on page %d; the rest of the document is not cleaned", max_chars, page.number
        )
        if kept:
            yield Page(page.number, kept)
        return


@contextlib.contextmanager
def quiet_pypdf() -> Iterator[None]:
    """pypdf reports damaged-but-readable PDFs through logging and warnings; keep them in our debug log."""
    pypdf_logger = logging.getLogger("pypdf")
    saved = pypdf_logger.propagate, list(pypdf_logger.handlers)
    pypdf_logger.handlers = [_Relay()]
    pypdf_logger.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for warning in caught:
            log.debug("pypdf: %s", warning.message)
    finally:
        pypdf_logger.propagate, pypdf_logger.handlers = saved[0], saved[1]


class _Relay(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        log.debug("pypdf: %s", record.getMessage())


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]
