"""What the corpus tests share: a corpus of fixture PDFs, reference outputs, and the process holding a lock."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .conftest import LANGUAGES, NOTES, PAPER, run_cli
from .pdfgen import text_pdf

PROSE = [
    "The river rose slowly through the night. By morning the lower fields were under water, and the ferry "
    "had stopped running. People gathered on the bridge to watch the current carry branches downstream.",
    "A lighthouse keeper kept a log of every ship that passed. Most entries were short: a name, a time, the "
    "weather. On stormy nights the entries grew longer and the handwriting less steady.",
    "The orchard was planted by the grandmother of the present owner. Its apple trees are old now, but they "
    "still bear fruit every autumn, and the village children are allowed to pick what falls.",
]


def make_corpus(folder: Path, *, corrupted: bool = True) -> list[Path]:
    """Six fixture PDFs (one in a subfolder) and, unless told not to, a corrupted one: garbage bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "more").mkdir(exist_ok=True)
    pdfs = [Path(shutil.copy(pdf, folder)) for pdf in (PAPER, NOTES, LANGUAGES)]
    pdfs += [text_pdf(folder / f"prose{i}.pdf", [text]) for i, text in enumerate(PROSE[:2])]
    pdfs.append(text_pdf(folder / "more" / "prose2.pdf", [PROSE[2]]))
    if corrupted:
        (folder / "corrupted.pdf").write_bytes(os.urandom(4096))
    return pdfs


def reference(pdf: Path, out: Path, *args: str) -> bytes:
    """What `edgeclean clean` writes for ``pdf`` with the same options."""
    out.parent.mkdir(parents=True, exist_ok=True)
    result = run_cli("clean", str(pdf), "-o", str(out), *args)
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


def lock_holder(lock: Path) -> int | None:
    """The pid of a process with ``lock`` open (the run cleaning that document), from /proc."""
    target = str(lock.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) == target for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:
            continue
    return None


def checkpoint_records(checkpoint: Path) -> int:
    """Chunks recorded in a checkpoint (its first line is the header)."""
    try:
        return max(0, len(checkpoint.read_text(encoding="utf-8").splitlines()) - 1)
    except FileNotFoundError:
        return 0
