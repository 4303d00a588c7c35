"""Repairs of what extraction breaks inside a line, and removals of what a listener never wants read out.

Repairs: ligatures and presentation forms back to letters, LaTeX accents that pypdf leaves beside their letter
put back on it. Removals: narrative citations lose their years ("Xu et al. (2023b) propose" → "Xu et al.
propose"), parenthetical citation lists go whole whatever characters their names hold, URLs and DOIs leave the
running text. Each removal is counted by the caller's ``Removed`` so a run can say what each rule took.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

# Only these blocks are folded with NFKC: Latin and Armenian ligatures (ﬁ, ﬂ, ﬀ …), Hebrew and Arabic
# presentation forms (the same letters in a contextual shape, which pypdf emits for some Arabic fonts). NFKC
# elsewhere changes what text means or how it is written: x² would become x2, CJK full-width punctuation
# （，） half-width ASCII, ㍿ four characters. Full-width forms are a judgment call: they are how CJK text is
# written, so they are kept as they are.
_FOLDED = re.compile("[\ufb00-\ufb4f\ufb50-\ufdcf\ufdf0-\ufdf9\ufe70-\ufefe]")

# A LaTeX accent set as its own glyph beside its letter: "Rozi`ere", "K¨opf", "Verd ´u", "Sch ¨utze".
_ACCENTS = {"`": "\u0300", "´": "\u0301", "¨": "\u0308", "ˆ": "\u0302", "˜": "\u0303", "˚": "\u030a", "ˇ": "\u030c"}
_SPLIT_ACCENT = re.compile(r"(?<=[^\W\d_])( ?)([`´¨ˆ˜˚ˇ])([A-Za-zı])")

_YEAR = r"\d{4}[a-z]?(?:,\s?[a-z]\b|,\s?\d{4}[a-z]?\b)*"  # "2022a,b", "2023c, 2024b"
# "Xu et al. (2023b)", "Kim and Rush (2016)", "Sason and Verdú (2016; 2018)": the name stays, the years go.
_NARRATIVE = re.compile(
    rf"(\bet\s+al\.|\b[^\W\d_][\w'’\-]*\s+(?:and|&)\s+[^\W\d_][\w'’\-]*)\s*\(\s*{_YEAR}(?:\s*[;,]\s*{_YEAR})*\s*\)"
)
# One item of a parenthetical citation list: a name of any characters, then (after a comma, or "et al.") a year.
_ITEM = rf"(?:(?:e\.g\.|i\.e\.|see|cf\.)[,:]?\s+)?[^\W\d_][^();\d]{{0,80}}?(?:,|et\s+al\.?)\s*{_YEAR}"
_CITATION_LIST = re.compile(rf"\s*\(\s*{_ITEM}(?:\s*;\s*{_ITEM})*\s*\)")
# The halves of a citation that a page break, a column or a figure cut: "... is possible (Bai et al., 2022a;"
# ends one paragraph, "Cui et al., 2023a; Sun et al., 2024b). For instance" or "(2024g) introduce" starts the next.
_CUT_CITATION = re.compile(
    rf"\s*\(\s*{_ITEM}(?:\s*;\s*{_ITEM})*\s*;\s*$|^\s*{_ITEM}(?:\s*;\s*{_ITEM})*\s*\)[\s.,;]*|"
    rf"^\(\s*{_YEAR}(?:\s*[;,]\s*{_YEAR})*\s*\)\s*"
)
_URL = re.compile(  # with the space before it, so "kept at https://x.org." ends "kept at."
    r"\s*(?:\b(?:https?://|www\.)\S+|\bdoi:\s?\S+|\bhttps?:\s+//\S+|\b10\.\d{4,9}/\S+)", re.IGNORECASE
)
_TRAILING = re.compile(r"[.,;:)\]]+$")
_EMPTY_BRACKETS = re.compile(r"\s*(?:\(\s*\)|\[\s*\])")  # "(see )" once its URL went


# A word that pypdf split with a space it read from letter spacing: "p erform", "mo del", "pro duced".
_SPACED_PAIR = re.compile(r"(?<![\w\-])([^\W\d_]+) (?=([^\W\d_]+)(?![\w\-]))")  # each pair in turn


def rejoin_split_words(text: str, counts: Counter) -> str:
    """Join two letter runs where the document has their join as a word and one of them appears only here.

    ``counts`` are the document's lower-cased letter runs: "erform" occurs once and "perform" elsewhere, so
    "p erform" is "perform"; "in to" stays, as both halves are common words.
    """

    def join(match: re.Match) -> str:
        first, second = match.group(1), match.group(2)
        joined = (first + second).lower()
        if second[:1].isupper() or counts[joined] < 1 or min(counts[first.lower()], counts[second.lower()]) > 1:
            return match.group(0)
        return first

    return _SPACED_PAIR.sub(join, text)


# The report shows this many removed spans per rule, struck through: enough to judge a rule, not the whole list.
EXAMPLES_PER_RULE = 12
EXAMPLE_CHARS = 240


class Removed(Counter):
    """What each rule removed: items under the rule's name, characters under ``name + " chars"``; and the first
    few removed spans of each rule in ``examples``, for the report."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.examples: dict[str, list[str]] = {}

    def add(self, rule: str, items: int, chars: int, spans: Iterable[str] = ()) -> None:
        if items:
            self[rule] += items
            self[f"{rule} chars"] += chars
        kept = self.examples.setdefault(rule, []) if items else []
        for span in spans:
            if len(kept) >= EXAMPLES_PER_RULE:
                break
            if span.strip():
                kept.append(span.strip()[:EXAMPLE_CHARS])

    def describe(self) -> str:
        """One line: "citations 412 (9,876 characters); references 1,873 (93,120 characters)"; lines for
        sections and debris, matches for citations and urls."""
        return "; ".join(
            f"{rule} {self[rule]:,} ({self[rule + ' chars']:,} characters)"
            for rule in sorted(name for name in self if not name.endswith(" chars"))
        )


def repair_glyphs(text: str) -> str:
    """Ligatures and presentation forms folded (NFKC, those blocks only), split accents put back on their letter."""
    text = _FOLDED.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
    return _SPLIT_ACCENT.sub(_join_accent, text)


def _join_accent(match: re.Match) -> str:
    base = "i" if match.group(3) == "ı" else match.group(3)
    joined = unicodedata.normalize("NFC", base + _ACCENTS[match.group(2)])
    return joined if len(joined) == 1 else match.group(0)  # no such accented letter: leave it as printed


def drop_citations(text: str, removed: Removed) -> str:
    """Citations out of one paragraph: narrative years, whole lists, and the halves a break cut."""
    text = _count_sub(_NARRATIVE, lambda m: m.group(1), text, removed, "citations").replace("et al..", "et al.")
    text = _count_sub(_CITATION_LIST, "", text, removed, "citations")
    return _count_sub(_CUT_CITATION, "", text, removed, "citations")


def drop_urls(text: str, removed: Removed) -> str:
    def keep_punctuation(match: re.Match) -> str:
        trailing = _TRAILING.search(match.group(0))
        return trailing.group(0) if trailing else ""

    return _EMPTY_BRACKETS.sub("", _count_sub(_URL, keep_punctuation, text, removed, "urls"))


def _count_sub(pattern: re.Pattern, replacement, text: str, removed: Removed, rule: str) -> str:
    spans = [match.group(0) for match in pattern.finditer(text)]
    new, count = pattern.subn(replacement, text)
    removed.add(rule, count, len(text) - len(new), spans)
    return new
