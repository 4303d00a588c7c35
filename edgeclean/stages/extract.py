"""Stage 1: pull text out of a PDF with pypdf, one page at a time, keeping page numbers."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

log = logging.getLogger("edgeclean.extract")

# A page may take this long to parse and the parser this much memory; past either, the page is skipped.
PAGE_SECONDS = float(os.environ.get("EDGECLEAN_PAGE_SECONDS", "60"))
OPEN_SECONDS = float(os.environ.get("EDGECLEAN_OPEN_SECONDS", "120"))
FORGET_SECONDS = 5.0
MEMORY_LIMIT = int(os.environ.get("EDGECLEAN_PDF_MEMORY_MB", "2048")) << 20


@dataclass(frozen=True)
class Page:
    number: int  # 1-based, as a reader would say it
    text: str
    styles: tuple = ()
    """Each line's font segments (layout.LineStyle), as extracted; empty once the text is changed."""


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
    """An opened, decrypted PDF. Pages are extracted one at a time, in a guarded child process."""

    def __init__(
        self,
        path: str | Path,
        password: str | None = None,
        *,
        page_seconds: float = PAGE_SECONDS,
        memory_limit: int = MEMORY_LIMIT,
    ):
        self.path = Path(path)
        self._password = password
        self._page_seconds = page_seconds
        self._memory_limit = memory_limit
        self.lost_pages: list[int] = []
        check_pdf_file(self.path)
        self._worker: _Worker | None = None
        self._worker_failed = False  # a page pypdf failed on: its child is not kept for another document
        try:
            self.page_count = self._ask(("open", str(self.path), password), OPEN_SECONDS)
        except _Overrun as overrun:
            self._discard_worker()
            raise InputError(f"{self.path}: {overrun}; it may be damaged or hostile") from None

    def metadata(self) -> dict[str, str]:
        try:
            return self._ask(("metadata",), self._page_seconds)
        except _Overrun as overrun:
            log.warning("%s: metadata unreadable (%s)", self.path, overrun)
            return {}

    def pages(self, numbers: Iterable[int] | None = None) -> Iterator[Page]:
        for number in numbers or range(1, self.page_count + 1):
            yield self._page(number)

    def _page(self, number: int) -> Page:
        try:
            text, styles = self._ask(("page", number), self._page_seconds)
            return Page(number, text, styles)
        except _Overrun as overrun:
            self.lost_pages.append(number)
            log.warning("page %d: %s; the page is left out", number, overrun)
            return Page(number, "")

    def _ask(self, request: tuple, seconds: float):
        if self._worker is None:
            self._worker = _spare_worker(self._memory_limit) or _Worker(self._memory_limit)
            if request[0] != "open":
                self._worker.ask(("open", str(self.path), self._password), OPEN_SECONDS)
        try:
            status, answer = self._worker.ask(request, seconds)
        except _Overrun:
            self._discard_worker()  # the child may be stuck or half-dead: the next request gets a fresh one
            raise
        if status == "problem":
            self._discard_worker()
            raise InputError(f"{self.path}: {answer}")
        if status == "failed":
            self._worker_failed = True
            raise _Overrun(f"pypdf could not parse it ({answer})")
        return answer

    def info(self) -> PdfInfo:
        texts = [page.text for page in self.pages()]
        return PdfInfo(
            path=str(self.path),
            pages=self.page_count,
            metadata=self.metadata(),
            characters=sum(len(text) for text in texts),
            pages_with_text=sum(1 for text in texts if text.strip()),
        )

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None and (self._worker_failed or not _keep_spare(worker)):
            worker.stop()

    def _discard_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()

    def __enter__(self) -> PdfDocument:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def check_pdf_file(path: Path) -> None:
    """Judge the file by its bytes, not its name: a PDF starts with %PDF- (within its first kilobyte)."""
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a PDF")
    try:
        with path.open("rb") as handle:
            head = handle.read(1024)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read it ({error.strerror})") from None
    if not head:
        raise InputError(f"{path}: the file is empty")
    if b"%PDF-" not in head:
        raise InputError(f"{path}: not a PDF (it does not start with %PDF-)")


class _Overrun(Exception):
    """A request that took too long, killed its child, or failed inside pypdf."""


class _Worker:
    """One child process running pdfworker.serve, spoken to over a pipe."""

    def __init__(self, memory_limit: int):
        import multiprocessing

        self.memory_limit = memory_limit
        from . import pdfworker

        context = multiprocessing.get_context("spawn")  # never fork a process that holds llama.cpp threads
        self._connection, child_end = context.Pipe()
        self._process = context.Process(target=pdfworker.serve, args=(child_end, memory_limit), daemon=True)
        self._process.start()
        child_end.close()

    def ask(self, request: tuple, seconds: float) -> tuple[str, object]:
        try:
            self._connection.send(request)
            if not self._connection.poll(seconds):
                raise _Overrun(f"took longer than {seconds:g} s")
            status, answer, notes = self._connection.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self._process.join(1)
            raise _Overrun(f"the parser died (exit code {self._process.exitcode})") from None
        for note in notes:
            log.debug("pypdf: %s", note)
        return status, answer

    def stop(self) -> None:
        self._connection.close()
        self._process.join(1)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._process.close()


# One healthy parser child kept between documents while ``reusing_pdf_worker`` is in force (see there).
_reusing = 0
_spare: _Worker | None = None
_spare_lock = threading.Lock()


@contextlib.contextmanager
def reusing_pdf_worker() -> Iterator[None]:
    """While in force, a document that closes with its parser child healthy leaves the child for the next
    document instead of stopping it. Spawning one costs about 0.2 s of CPU (a Python, pypdf's import): as much as
    the rest of a short document's extraction, on every document of a corpus. A child that overran, died or met
    a bad PDF is never kept, and the memory cap holds as before; on leaving, the kept child is stopped."""
    global _reusing, _spare
    with _spare_lock:
        _reusing += 1
    try:
        yield
    finally:
        with _spare_lock:
            _reusing -= 1
            leftover, _spare = (_spare, None) if _reusing == 0 else (None, _spare)
        if leftover is not None:
            leftover.stop()


def _spare_worker(memory_limit: int) -> _Worker | None:
    global _spare
    with _spare_lock:
        worker, _spare = _spare, None
    if worker is not None and worker.memory_limit != memory_limit:
        worker.stop()
        return None
    return worker


def _keep_spare(worker: _Worker) -> bool:
    """Keep a closing document's child if reuse is in force and no child is kept yet; it forgets its PDF first."""
    global _spare
    with _spare_lock:
        if not _reusing or _spare is not None:
            return False
    try:
        if worker.ask(("forget",), FORGET_SECONDS)[0] != "ok":
            return False
    except _Overrun:
        return False
    with _spare_lock:
        if not _reusing or _spare is not None:
            return False
        _spare = worker
    return True


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
        if dash and end < start:
            raise InputError(f"--pages {spec!r}: {part} runs backwards; write it {end}-{start}")
        if start < 1 or end > page_count:
            raise InputError(f"--pages {spec!r}: the PDF has pages 1-{page_count}")
        numbers.update(range(start, end + 1))
    if not numbers:
        raise InputError(f"--pages {spec!r} selects no pages")
    return sorted(numbers)


def format_page_ranges(numbers: Iterable[int]) -> str:
    """The shortest spelling of a set of pages: [1, 2, 3, 7] is "1-3,7", the same however it was asked for."""
    ranges: list[list[int]] = []
    for number in sorted(set(numbers)):
        if ranges and number == ranges[-1][1] + 1:
            ranges[-1][1] = number
        else:
            ranges.append([number, number])
    return ",".join(str(first) if first == last else f"{first}-{last}" for first, last in ranges)


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
            yield Page(page.number, kept, page.styles)  # a prefix: its lines keep their styles
        return
