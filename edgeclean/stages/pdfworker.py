"""pypdf, run in a child process with a memory cap, so a hostile PDF can cost a page but never the run.

A decompression bomb, a cyclic or absurdly deep object graph, or a page that takes minutes to parse would
otherwise exhaust memory or hang the whole clean. The parent (extract.py) sends one request at a time and
waits a bounded time for each answer; a child that overruns is killed and a fresh one takes over.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

from .layout import styled_text

MAX_PAGES = 100_000


class PdfProblem(Exception):
    """A reason the PDF (or a page of it) cannot be read, already phrased for the user."""


def serve(connection, memory_limit: int) -> None:
    """The child's loop: answer ("open" | "page" | "metadata" | "forget") requests until the pipe closes."""
    _limit_memory(memory_limit)
    reader = None
    while True:
        try:
            request = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        notes: list[str] = []
        try:
            with _collect_pypdf_messages(notes):
                if request[0] == "open":
                    reader = _open(Path(request[1]), request[2])
                    answer = _count_pages(reader)
                elif request[0] == "forget":  # kept for another document (extract.reusing_pdf_worker)
                    reader = answer = None
                elif request[0] == "page":
                    answer = styled_text(reader.pages[request[1] - 1])
                else:
                    answer = {k.lstrip("/"): str(v) for k, v in (reader.metadata or {}).items() if str(v).strip()}
            connection.send(("ok", answer, notes))
        except PdfProblem as problem:
            connection.send(("problem", str(problem), notes))
        except MemoryError:
            connection.send(("failed", f"needed more than {memory_limit >> 20} MiB of memory", notes))
        except RecursionError:
            connection.send(("failed", "its objects are nested too deeply (or cyclic)", notes))
        except Exception as error:  # pypdf raises many types on damaged files; each is reported, not fatal
            connection.send(("failed", first_line(error), notes))


def _open(path: Path, password: str | None):
    import pypdf
    from pypdf.errors import DependencyError, PdfReadError

    try:
        reader = pypdf.PdfReader(path)
    except (PdfReadError, ValueError, OSError) as error:
        raise PdfProblem(f"not a readable PDF ({first_line(error)})") from None
    if reader.is_encrypted:
        try:
            unlocked = reader.decrypt(password or "")
        except DependencyError:
            raise PdfProblem("encrypted with AES; install 'cryptography' to open it") from None
        if not unlocked:
            raise PdfProblem("the PDF is password-protected; pass --password" if password is None else "wrong password")
    return reader


def _count_pages(reader) -> int:
    """The pages really in the page tree: a hostile /Count could claim billions and pypdf trusts it until
    the tree is walked, which reading the first page does."""
    try:
        reader.pages[0]
    except IndexError:
        return 0
    count = len(reader.pages)
    if count > MAX_PAGES:
        raise PdfProblem(f"it has {count:,} pages; edgeclean reads at most {MAX_PAGES:,}")
    return count


def _limit_memory(limit: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # not on this platform: the time limit still holds
        logging.getLogger("edgeclean.extract").debug("no memory cap for PDF parsing on this platform")


@contextlib.contextmanager
def _collect_pypdf_messages(notes: list[str]) -> Iterator[None]:
    """pypdf reports damaged-but-readable PDFs through logging and warnings; hand them to the parent's log."""

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            notes.append(record.getMessage())

    pypdf_logger = logging.getLogger("pypdf")
    pypdf_logger.handlers = [Collect()]
    pypdf_logger.propagate = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    notes.extend(str(warning.message) for warning in caught)


def first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]
