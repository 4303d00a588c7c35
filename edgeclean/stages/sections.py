"""Sections of a whole document a podcast does not read: the reference list, and on request the appendix and the
acknowledgements.

A section starts at a line that is only its heading ("REFERENCES", "7 References", "Appendix A: Proofs") and
runs to the next heading that starts another kind of section, or to the end. A references heading counts only
when bibliography entries follow it, so a sentence or a table of contents that names "References" never cuts
the document. Found across all pages at once: a reference list runs over many.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .extract import Page

_NUMBER = r"(?:(?:\d+|[IVX]+|[A-H])\.?\s+)?"
HEADINGS = {
    "references": re.compile(
        rf"^{_NUMBER}(?:references?|bibliography|literature\s+cited|works\s+cited|literatur(?:verzeichnis)?|"
        r"références|bibliographie|referencias|bibliografía|参考文献|參考文獻)\s*:?$",
        re.IGNORECASE,
    ),
    "appendix": re.compile(
        rf"^{_NUMBER}(?:appendix|appendices|supplementary\s+materials?|supplemental\s+materials?|anhang)"
        r"(?:\s+[A-Z0-9]{1,3}\b)?(?:\s*[:.—–-]?\s+[^\W\d_].{0,80})?$",
        re.IGNORECASE,
    ),
    "acknowledgements": re.compile(
        rf"^{_NUMBER}(?:acknowledge?ments?|acknowledgments?|danksagung|remerciements)\s*[:.]?$", re.IGNORECASE
    ),
}
# Any numbered section heading ("5 Limitations", "3.2 Training"): ends the acknowledgements.
_NUMBERED_HEADING = re.compile(r"^\d+(?:\.\d+)*\.?\s+[^\W\d_][^.!?]{0,80}$")
# What a bibliography entry holds: a year, "et al.", a quoted title, pages, a venue, an identifier.
_ENTRY_SIGNS = re.compile(
    r"\b(?:19|20)\d{2}[a-z]?\b|et al\.|[“”\"]|\bpp\.|\bvol\.|\bIn\b|Proc\.|Proceedings|arXiv|doi|\bCoRR\b|"
    r"Journal|Conference|Press|https?:|"
    r"\b[A-Z]\.(?:\s?-?[A-Z]\.)*\s[^\W\d_]{2,}",  # an author's initials and name: "L. Ouyang", "A.-L. Brakman"
)
# A bibliography entry as one sentence: its venue, two or more authors ("L. Ouyang, J. Wu" or "Smith, J."),
# a quoted title, a year. Three of these, or a venue with its authors, make an entry; prose that cites keeps at
# most a name and a year (none of the KD survey's 1,000 body sentences, its citations kept, has three).
_VENUE = re.compile(
    r"arXiv preprint|Proceedings of|\bIn Proc\.|\bpp\. ?\d|\bvol\. ?\d|abs/\d{4}\.\d{4,5}|\bdoi[:.]|\bCoRR\b|"
    r"Advances in Neural|Association for Computational|\b(?:Conference|Transactions|Symposium|Workshop) on\b|"
    r"\bJournal of\b|\bPress\b"
)
_AUTHOR = re.compile(r"\b[A-Z]\.(?:\s?-?[A-Z]\.)*\s[^\W\d_][\w'’\-]+|\b[^\W\d_][\w'’\-]+,\s[A-Z]\.")
_TITLE = re.compile(r"[“\"][^”\"]{8,}[”\"]")
_YEAR = re.compile(r"\b(?:19|20)\d{2}[a-z]?\b")
LOOK_AHEAD = 12  # lines after a references heading that must look like entries
ENTRY_SHARE = 0.5


@dataclass(frozen=True)
class Span:
    kind: str
    start: tuple[int, int]
    """(index of the page, index of the line) where the section's heading is."""
    end: tuple[int, int] | None
    """Where the next section starts (not dropped), or None: to the end of the document."""


def find_sections(pages: Sequence[Page], kinds: set[str]) -> list[Span]:
    """The sections of ``kinds`` to drop, in document order."""
    lines = [(p, i, line.strip()) for p, page in enumerate(pages) for i, line in enumerate(page.text.splitlines())]
    starts = []
    for position, (_, _, line) in enumerate(lines):
        kind = heading_kind(line)
        if kind == "references" and not _entries_follow([text for _, _, text in lines[position + 1 :]]):
            continue
        if kind:
            starts.append((position, kind))
    spans = []
    for number, (position, kind) in enumerate(starts):
        if kind not in kinds:
            continue
        end = _section_end(lines, position, kind, [at for at, _ in starts[number + 1 :]])
        spans.append(Span(kind, lines[position][:2], lines[end][:2] if end is not None else None))
    return spans


def heading_kind(line: str) -> str | None:
    if len(line) > 100 or line.endswith((".", ",", ";")) and not re.search(r"\b[A-Z0-9]\.$", line):
        return None  # a sentence that starts with "Appendix", not a heading
    return next((kind for kind, pattern in HEADINGS.items() if pattern.match(line)), None)


def reads_as_entry(text: str) -> bool:
    """Whether a sentence has a bibliography entry's shape, wherever it stands (a list the heading rule missed)."""
    venue, authors = bool(_VENUE.search(text)), len(_AUTHOR.findall(text)) >= 2
    return venue and authors or venue + authors + bool(_TITLE.search(text)) + bool(_YEAR.search(text)) >= 3


def _entries_follow(following: list[str]) -> bool:
    window = [line for line in following if line][:LOOK_AHEAD]
    return len(window) >= 2 and sum(1 for line in window if _ENTRY_SIGNS.search(line)) >= ENTRY_SHARE * len(window)


def _section_end(lines, position: int, kind: str, later_starts: list[int]) -> int | None:
    end = later_starts[0] if later_starts else None
    if kind == "acknowledgements":  # a short section: it also ends at a numbered heading or at its page's end
        for after in range(position + 1, end if end is not None else len(lines)):
            if lines[after][0] != lines[position][0] or _NUMBERED_HEADING.match(lines[after][2]):
                return after
    return end


def section_lines(pages: Sequence[Page], spans: list[Span]) -> dict[int, dict[int, str]]:
    """For each page number, the indices of its lines inside a span, with the span's kind."""
    marked: dict[int, dict[int, str]] = {}
    for p, page in enumerate(pages):
        for i in range(len(page.text.splitlines())):
            kind = next((s.kind for s in spans if s.start <= (p, i) and (s.end is None or (p, i) < s.end)), None)
            if kind:
                marked.setdefault(page.number, {})[i] = kind
    return marked
