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

from ..results import describe_removed

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


# A word that pypdf split with spaces it read from letter spacing: "p erform", "mo del", "pro duced", "Ta b l e".
_SPACED_RUN = re.compile(r"(?<![\w\-])[^\W\d_]+(?: [^\W\d_]+)+(?![\w\-])")  # letter runs one space apart
MAX_PIECES = 5  # "Ta b l e": a word spaced letter by letter
# Single letters that are words in some language this tool reads (English "a", Spanish "y", Czech "v", Polish
# "w" ...): never taken for a piece of a split word on their own.
_LETTER_WORDS = frozenset("aeiouyàèéìòóùvkszw")


def rejoin_split_words(line: str, counts: Counter) -> str:
    """Join the pieces of words that letter spacing split, judged by the document's lower-cased letter runs.

    A join is sure when the joined form is a word elsewhere in the document and a piece occurs only here:
    "erform" once and "perform" elsewhere make "p erform" "perform"; "in to" stays, both halves are words. On a
    line with a sure join (so its spacing is known to be unreliable), pieces that are no word anywhere else are
    joined too, though their join occurs nowhere else: "pro duced" ("pro" only inside "improved", "duced" only
    inside "reduced"), "b est" (a lone consonant and a run seen only here).
    """
    sure = _SPACED_RUN.sub(lambda m: " ".join(_join_known(m.group(0).split(" "), counts)), line)
    if sure == line:
        return line
    return _SPACED_RUN.sub(lambda m: " ".join(_join_fragments(m.group(0).split(" "), counts)), sure)


def _join_known(pieces: list[str], counts: Counter) -> list[str]:
    joined, i = [], 0
    while i < len(pieces):
        end = next(
            (j for j in range(min(len(pieces), i + MAX_PIECES), i + 1, -1) if _known(pieces[i:j], counts)), i + 1
        )
        joined.append("".join(pieces[i:end]))
        i = end
    return joined


def _known(pieces: list[str], counts: Counter) -> bool:
    if any(piece[:1].isupper() for piece in pieces[1:]):
        return False  # "Wizard Math": a new capital starts a new word
    if all(len(piece) == 1 for piece in pieces):
        return False  # "E x": letters of a formula
    rare = any(counts[p.lower()] <= 1 or len(p) == 1 and p.lower() not in _LETTER_WORDS for p in pieces)
    return rare and counts["".join(pieces).lower()] >= 1


def _join_fragments(pieces: list[str], counts: Counter) -> list[str]:
    joined, i = [], 0
    while i < len(pieces):
        if i + 1 < len(pieces) and _fragments(pieces[i], pieces[i + 1], counts):
            joined.append(pieces[i] + pieces[i + 1])
            i += 2
        else:
            joined.append(pieces[i])
            i += 1
    return joined


def _fragments(first: str, second: str, counts: Counter) -> bool:
    """Two pieces of one word: a lone consonant before a run seen only here, or two runs each seen only here and
    only inside longer words elsewhere."""
    if second[:1].isupper() or len(second) < 2 or counts[second.lower()] > 1:
        return False
    if len(first) == 1:
        return first.lower() not in _LETTER_WORDS
    return (
        counts[first.lower()] <= 1 and _inside_a_word(first.lower(), counts) and _inside_a_word(second.lower(), counts)
    )


def _inside_a_word(piece: str, counts: Counter) -> bool:
    return any(piece in word for word in counts if len(word) > len(piece))


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
        return describe_removed(self)


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
