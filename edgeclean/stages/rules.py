"""Stage 1b: deterministic pre-cleaning of page text, before any model sees it.

Rules only remove what is certainly not prose (running headers and footers, page-number lines, arXiv side
stamps, emails, optionally citation markers) and repair what PDF layout broke (line-break hyphenation, hard
wrapped lines). Every other character, in any script, is kept as it was.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from .extract import Page
from .layout import body_size, debris_lines
from .repair import Removed, drop_citations, drop_urls, rejoin_split_words, repair_glyphs
from .sections import find_sections, section_lines

EDGE_LINES = 2  # how many lines at the top and bottom of a page may be a header, footer or page number
RUNNING_SHARE = 0.3  # an edge line on at least this share of pages (and at least 3) is a running header

_PAGE_NUMBER = re.compile(r"(?:page\s+)?[-–—]?\s*\d{1,4}\s*[-–—]?(?:\s*(?:of|/)\s*\d{1,4})?", re.IGNORECASE)
_ARXIV_STAMP = re.compile(r"arXiv:\d{4}\.\d{4,5}(?:v\d+)?\s*\[[\w.\-]+\]\s*\d{1,2}\s+[A-Z][a-z]{2}\s+\d{4}")
_EMAIL = re.compile(r"\{[\w.,\s\-+]+\}@[\w\-]+(?:\.[\w\-]+)+|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_SPLIT_WORD = re.compile(r"([^\W\d_]+)-$")
_SENTENCE_END = '.!?:。！？؟"”’)'
# One author-year item: "Wei et al., 2022a,b", "Smith and Jones, 2020", "OpenAI, 2023", "Ouyang et al. 2022".
_NAME = r"[^\W\d_][\w'’\-]*(?:\s+(?:[dD]e|[vV]an|[vV]on|[dD]er|[lL]a)\s+[^\W\d_][\w'’\-]*)?"
_ITEM = rf"{_NAME}(?:\s+(?:and|&)\s+{_NAME}|\s+et\s+al\.?)?,?\s+\d{{4}}[a-z]?(?:,\s?[a-z]\b)*"
_AUTHOR_YEAR = re.compile(rf"\s*\((?:(?:e\.g\.|i\.e\.|see|cf\.),?\s+)?{_ITEM}(?:\s*[;,]\s*{_ITEM})*\s*\)")
_NUMERIC_REF = re.compile(r"\s*\[\d{1,3}(?:\s*[,–\-]\s*\d{1,3})*\]")
_SPACES = re.compile(r"[ \t]{2,}")
_LETTER = re.compile(r"[^\W\d_]")
# Han, kana and CJK punctuation (full-width forms too); not Hangul, which spaces its words.
_CJK = re.compile("[\u2e80-\u2fff\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


# A table-of-contents entry: a title, a dot leader (". . . ." or "....." or "…"), then a page number, arabic or
# roman, or nothing where the number went to the next line. Also lists of figures and tables.
_CONTENTS_ENTRY = re.compile(
    r"^.{0,200}?(?:(?:\s?\.){4,}|…{2,}|(?:\s?·){4,})\s*(?:\d{1,4}|[ivxlcdm]{1,7})?$", re.IGNORECASE
)
_CONTENTS_HEADING = re.compile(
    r"^(?:table\s+of\s+contents|contents|list\s+of\s+(?:figures|tables|abbreviations)|inhalt(?:sverzeichnis)?|"
    r"abbildungsverzeichnis|tabellenverzeichnis|table\s+des\s+mati[eè]res|[ií]ndice|目次|目录|目錄|차례|목차)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RuleOptions:
    drop_citations: bool = True
    """Remove author-year citations "(Wei et al., 2022a)" and numeric references "[12]"."""
    drop_contents: bool = True
    """Remove tables of contents (and lists of figures/tables): entries with dot leaders and their heading."""
    drop_references: bool = True
    """Remove the reference list: from a references heading followed by entries to the next section or the end."""
    drop_urls: bool = True
    """Remove URLs and DOIs from running text."""
    drop_figures: bool = True
    """Remove figure labels, axis ticks and table bodies: small or in-figure text that does not read as prose."""
    drop_math: bool = True
    """Remove display math and lines set mostly in math fonts."""
    drop_appendix: bool = False
    """Remove appendices (from an "Appendix" heading to the references or the end)."""
    drop_acknowledgements: bool = False
    """Remove the acknowledgements section."""

    def dropped_sections(self) -> set[str]:
        wanted = {"references": self.drop_references, "appendix": self.drop_appendix,
                  "acknowledgements": self.drop_acknowledgements}  # fmt: skip
        return {kind for kind, drop in wanted.items() if drop}


def apply_rules_to_pages(pages: Iterable[Page], options: RuleOptions = RuleOptions()) -> Iterator[Page]:
    """Rule-clean every page; running headers are found by first looking at all the pages together."""
    pages = list(pages)
    rules = PageRules(pages, options)
    for page in pages:
        yield Page(page.number, rules.apply(page.text, page.number))


class PageRules:
    """Cleans one page at a time with what the whole document tells: its running lines and its vocabulary."""

    def __init__(self, pages: Sequence[Page], options: RuleOptions = RuleOptions()):
        self.options = options
        self.running = running_lines([page.text for page in pages])
        text = repair_glyphs("\n".join(page.text for page in pages))
        self.word_counts = Counter(re.findall(r"[^\W\d_]+", text.lower()))
        self.vocabulary = set(self.word_counts)
        self.compounds = hyphen_pairs(text.lower())
        self.sections = section_lines(pages, find_sections(pages, options.dropped_sections()))
        self.styles = {page.number: page.styles for page in pages if page.styles}
        self.body_size = body_size([style for page in pages for style in page.styles])
        self.removed = Removed()
        """What each rule removed so far, over every page applied."""

    def apply(self, text: str, number: int | None = None) -> str:
        """Clean one page's text; ``number`` (the page's) lets the sections found across pages be dropped."""
        lines = [line.strip() for line in text.splitlines()]
        lines = self._drop_sections(lines, number)
        lines = self._drop_edges(lines)
        if self.options.drop_contents:
            lines = drop_contents(lines)
        lines = [repair_glyphs(_SPACES.sub(" ", _EMAIL.sub("", _ARXIV_STAMP.sub("", line))).strip()) for line in lines]
        lines = [rejoin_split_words(line, self.word_counts) for line in lines if line]
        paragraphs = self._unwrap(lines)
        if self.options.drop_citations:
            paragraphs = [self._drop_citations(paragraph) for paragraph in paragraphs]
        if self.options.drop_urls:
            paragraphs = [drop_urls(paragraph, self.removed) for paragraph in paragraphs]
        paragraphs = [_SPACES.sub(" ", paragraph).strip() for paragraph in paragraphs]
        # A paragraph with no letter left (an axis tick, "① ②", the "2." of a footnote whose URL went) is debris.
        letterless = [paragraph for paragraph in paragraphs if paragraph and not _LETTER.search(paragraph)]
        self.removed.add("letterless lines", len(letterless), sum(map(len, letterless)), letterless)
        return "\n\n".join(paragraph for paragraph in paragraphs if _LETTER.search(paragraph))

    def _drop_sections(self, lines: list[str], number: int | None) -> list[str]:
        """Drop the lines of dropped sections, and the figure and math lines the page's fonts show."""
        marked = self._debris(lines, number)
        marked.update(self.sections.get(number, {}) if number is not None else {})
        for i, kind in marked.items():
            if i < len(lines):  # a page cut short by --max-chars has fewer lines than when it was found
                self.removed.add(kind, 1, len(lines[i]), [lines[i]])
        return [line for i, line in enumerate(lines) if i not in marked]

    def _debris(self, lines: list[str], number: int | None) -> dict[int, str]:
        wanted = {"figures"} if self.options.drop_figures else set()
        wanted |= {"math"} if self.options.drop_math else set()
        if not wanted or number not in self.styles or self.body_size is None:
            return {}
        debris = debris_lines(lines, self.styles[number][: len(lines)], self.body_size)
        return {i: kind for i, kind in debris.items() if kind in wanted}

    def _drop_citations(self, paragraph: str) -> str:
        paragraph = drop_citations(paragraph, self.removed)
        before = len(paragraph)
        spans = [m.group(0) for m in _AUTHOR_YEAR.finditer(paragraph)]
        paragraph, count = _AUTHOR_YEAR.subn("", paragraph)
        spans += [m.group(0) for m in _NUMERIC_REF.finditer(paragraph)]
        paragraph, numeric = _NUMERIC_REF.subn("", paragraph)
        self.removed.add("citations", count + numeric, before - len(paragraph), spans)
        return paragraph

    def _drop_edges(self, lines: list[str]) -> list[str]:
        """Drop page numbers and running headers/footers among the first and last lines of the page.

        A running line is a header only beside other text: on a page that holds nothing else (a slide, a label,
        a form) the line that repeats on every page is the page's content.
        """
        content = [i for i, line in enumerate(lines) if line]
        edges = set(content[:EDGE_LINES] + content[-EDGE_LINES:])
        numbers = {i for i in edges if _PAGE_NUMBER.fullmatch(lines[i])}
        running = {i for i in edges - numbers if _shape(lines[i]) in self.running}
        if not set(content) - numbers - running:
            running = set()
        return [line for i, line in enumerate(lines) if i not in numbers | running]

    def _unwrap(self, lines: list[str]) -> list[str]:
        """Join hard-wrapped lines into paragraphs; a short line ending a sentence ends its paragraph."""
        if not lines:
            return []
        typical = statistics.median(len(line) for line in lines)
        paragraphs, current = [], lines[0]
        for previous, line in zip(lines, lines[1:], strict=False):
            if self._ends_paragraph(previous, line, typical):
                paragraphs.append(current)
                current = line
            else:
                current = self._join(current, line)
        paragraphs.append(current)
        return paragraphs

    @staticmethod
    def _ends_paragraph(previous: str, line: str, typical: float) -> bool:
        if previous.endswith(("-", ",")):
            return False
        starts_upper = line[:1].isupper() or line[:1].isdigit()
        if previous.endswith(tuple(_SENTENCE_END)) and len(previous) < 0.8 * typical:
            return True
        return len(previous) < 0.5 * typical and starts_upper

    def _join(self, current: str, line: str) -> str:
        split = _SPLIT_WORD.search(current)
        if split and line[:1].islower():
            head, tail = split.group(1), re.match(r"[^\W\d_]*", line).group(0)
            joined, hyphenated = (head + tail).lower(), f"{head}-{tail}".lower()
            if hyphenated in self.compounds and joined not in self.vocabulary:
                return current + line  # a real compound ("self-improvement") broken at its hyphen
            return current[:-1] + line
        if current.endswith("-") and current[-2:-1].isalnum():
            return current + line  # "GPT-" + "3.5": a hyphen that is part of a name, not a word break
        if _CJK.match(current[-1:]) and _CJK.match(line[:1]):
            return current + line  # Chinese and Japanese put no space between words, nor at a line end
        return f"{current} {line}"


def hyphen_pairs(text: str) -> set[str]:
    """Each two neighbouring parts of the compounds written with hyphens: "weak-to-strong" gives "weak-to" and
    "to-strong", so "weak-" at a line end before "to-strong" keeps its hyphen."""
    pairs = set()
    for compound in re.findall(r"(?<![\w\-])[^\W\d_]+(?:-[^\W\d_]+)+(?![\w\-])", text):
        parts = compound.split("-")
        pairs.update(f"{a}-{b}" for a, b in zip(parts, parts[1:], strict=False))
    return pairs


def drop_contents(lines: list[str]) -> list[str]:
    """Drop table-of-contents entries, and a contents heading whose next non-empty line is an entry.

    A podcast never reads a table of contents, and fed to ``--mode select`` its dot leaders once became hundreds of
    one-dot "sentences" whose numbered prompt outgrew the context.
    """
    entries = {i for i, line in enumerate(lines) if _CONTENTS_ENTRY.match(line) and re.search(r"[^\W\d_]", line)}
    if not entries:
        return lines
    following = [i for i, line in enumerate(lines) if line]
    headings = {
        i
        for i, after in zip(following, following[1:], strict=False)
        if after in entries and _CONTENTS_HEADING.match(lines[i])
    }
    return [line for i, line in enumerate(lines) if i not in entries and i not in headings]


def apply_rules(text: str, options: RuleOptions = RuleOptions()) -> str:
    """Rule-clean a single text on its own, as one page (no running headers to learn)."""
    return PageRules([Page(1, text)], options).apply(text, 1)


def running_lines(page_texts: Sequence[str]) -> set[str]:
    """Shapes (digits folded) of lines seen at the top or bottom of many pages: headers and footers."""
    counts: Counter[str] = Counter()
    for text in page_texts:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        counts.update({_shape(line) for line in lines[:EDGE_LINES] + lines[-EDGE_LINES:]})
    needed = max(3, RUNNING_SHARE * sum(1 for text in page_texts if text.strip()))
    return {shape for shape, count in counts.items() if count >= needed and re.search(r"[^\W\d_]", shape)}


def _shape(line: str) -> str:
    return re.sub(r"\d+", "#", line.strip().lower())
