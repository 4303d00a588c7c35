"""What the page's fonts say about each extracted line: body text, or figure, table and math debris.

pypdf's text visitor reports every piece of text with its font and size, and the text it reports joins into
exactly the page text ``extract_text`` returns (checked; where it does not, the page gets no styles and no line
is judged by style). Each line keeps a few segments (size, kind, characters), where kind is "text", "math"
(a TeX or Unicode math font, or mathematical alphanumerics like 𝑥) or "form" (inside a form XObject: an
included figure). The document's body size is the size most of its characters have.

A line is off the body when most of its characters are small (axis ticks, table cells, footnotes), inside a
figure or in a math font. Consecutive off-body lines are cut into runs at sentence ends; a run is kept when it
reads as prose (a footnote, a caption set small) or starts with "Figure 1:" / "Table 2." (a caption), and
dropped as math or figure debris otherwise. Headings are larger or body-sized, so never off the body.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from .guard import STOP_WORDS, words

Segment = tuple[float, str, int]  # size in points, "text" | "math" | "form", non-space characters
LineStyle = tuple[Segment, ...]

SMALL = 0.88  # a size below this share of the body size is small: KD survey footnotes 8 pt, tables 4.9-5.9 pt
OFF_SHARE = 0.6  # a line whose characters are at least this much off the body is off the body
MATH_SHARE = 0.3
# An off-body line with this many words is a row of a table of words, kept: the KD survey's tables and
# taxonomy tree (4.9-5.9 pt) hold 1,299 of its 14,700 body words in such rows, 178 in shorter labels.
WORDY_LINE = 8
SIGN_SHARE = 0.05  # "=", "∼", "θ" ...: a run with this share of them is a formula set in text fonts
_MATH_FONT = re.compile(
    r"CMMI|CMSY|CMEX|CMBSY|MSAM|MSBM|EUFM|EUSM|RSFS|STMARY|WASY|ESINT|MATH|SYMBOL|LMMATH", re.IGNORECASE
)
_MATH_LETTERS = re.compile("[\U0001d400-\U0001d7ff]")
_MATH_SIGNS = re.compile(r"[=+−·‖∑∏∫≤≥≈∼⊕⊗∈∀∃→←↔⇒×÷√∂∇∞αβγδεθλμπρστφψωΣΠΩΔ^_|]")
_CAPTION = re.compile(r"^(?:fig(?:ure)?|table|tab|algorithm|listing|abbildung|tabelle)\.?\s*[A-Z]?\d", re.I)
_SENTENCE_END = re.compile(r"[.!?。！？]['\"”’)\]]*$")
_WORD = re.compile(r"[^\W\d_]{2,}")
_EDGES = ".,;:()'\"“”’"


def styled_text(page) -> tuple[str, tuple[LineStyle, ...]]:
    """A pypdf page's text, as ``extract_text`` gives it, and each of its lines' segments."""
    pieces: list[tuple[str, float, str]] = []
    forms = _FormDepth()

    def visit_text(text, cm, tm, font, size) -> None:
        if text:
            name = str(font.get("/BaseFont", "")) if font else ""
            kind = "math" if _MATH_FONT.search(name) else "form" if forms.depth else "text"
            pieces.append((text, round(abs(size) * _scale(tm) * _scale(cm), 1), kind))

    text = page.extract_text(
        visitor_text=visit_text, visitor_operand_before=forms.before, visitor_operand_after=forms.after
    )
    text = text or ""
    if "".join(piece for piece, _, _ in pieces) != text:
        return text.replace("\x00", "").strip(), ()
    return _lines_of(pieces)


class _FormDepth:
    """How deep inside form XObjects pypdf is. Its ``Do`` first flushes the text before the form, so the depth
    rises only at the form's first own operator."""

    def __init__(self) -> None:
        self.depth, self.pending = 0, 0

    def before(self, operator, *_) -> None:
        if self.pending:
            self.depth, self.pending = self.depth + 1, 0
        if operator == b"Do":
            self.pending = 1

    def after(self, operator, *_) -> None:
        if operator == b"Do":
            if self.pending:
                self.pending = 0  # an image, or an empty form: nothing was entered
            else:
                self.depth = max(0, self.depth - 1)


def _scale(matrix) -> float:
    try:
        return math.sqrt(abs(matrix[0] * matrix[3] - matrix[1] * matrix[2])) or 1.0
    except (TypeError, IndexError):
        return 1.0


def _lines_of(pieces: list[tuple[str, float, str]]) -> tuple[str, tuple[LineStyle, ...]]:
    """The page text as the worker sends it (NULs out, stripped) and one style per line of it."""
    chars = [(ch, size, kind) for text, size, kind in pieces for ch in text if ch != "\x00"]
    text = "".join(ch for ch, _, _ in chars)
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    chars, text = chars[start:end], text[start:end]
    styles, offset = [], 0
    for line in text.splitlines(keepends=True):
        counts: Counter[tuple[float, str]] = Counter()
        for ch, size, kind in chars[offset : offset + len(line)]:
            if not ch.isspace():
                counts[(size, "math" if _MATH_LETTERS.match(ch) else kind)] += 1
        styles.append(tuple((size, kind, n) for (size, kind), n in counts.items()))
        offset += len(line)
    return text, tuple(styles)


def body_size(styles: Sequence[LineStyle]) -> float | None:
    """The size most characters outside figures have, or None when no line has a style."""
    sizes: Counter[float] = Counter()
    for line in styles:
        for size, kind, count in line:
            if kind == "text":
                sizes[round(size * 2) / 2] += count
    return sizes.most_common(1)[0][0] if sizes else None


def off_body(style: LineStyle, body: float) -> tuple[bool, float]:
    """Whether the line is off the body, and the share of its characters in math."""
    total = sum(count for _, _, count in style)
    if not total:
        return False, 0.0
    off = sum(count for size, kind, count in style if kind != "text" or size < SMALL * body)
    maths = sum(count for _, kind, count in style if kind == "math")
    return off >= OFF_SHARE * total, maths / total


def debris_lines(lines: Sequence[str], styles: Sequence[LineStyle], body: float) -> dict[int, str]:
    """The indices of the page's debris lines, each with its kind: "math" or "figures"."""
    if len(styles) != len(lines):
        return {}
    judged = [off_body(style, body) for style in styles]
    debris: dict[int, str] = {}
    run: list[int] = []
    for i, line in enumerate(lines):
        if not judged[i][0] or _CAPTION.match(line.strip()):
            debris.update(_judge_run(lines, judged, run))
            run = [] if not judged[i][0] else [i]
            continue
        run.append(i)
        if _SENTENCE_END.search(line.strip()):
            debris.update(_judge_run(lines, judged, run))
            run = []
    debris.update(_judge_run(lines, judged, run))
    return debris


def _judge_run(lines: Sequence[str], judged, run: list[int]) -> dict[int, str]:
    if not run:
        return {}
    text = " ".join(lines[i].strip() for i in run)
    if _CAPTION.match(text) or _reads_as_prose(text, len(run)):
        return {}
    maths = sum(judged[i][1] for i in run) / len(run)
    signs = len(_MATH_SIGNS.findall(text)) / max(1, len(text.replace(" ", "")))
    if maths >= MATH_SHARE or signs >= SIGN_SHARE:
        return {i: "math" for i in run}
    return {i: "figures" for i in run if len(_WORD.findall(lines[i])) < WORDY_LINE}


# Debris a sentence end does not make prose: most tokens are no word ("HTML 0.944 0.903 0.931.", "Feature 𝑥
# Input 𝑦Output𝐼 Instruction": math letters are no word's), and fewer than two stop words, which a sentence
# reporting numbers has.
DEBRIS_WORD_SHARE = 0.5
DEBRIS_MIN_TOKENS = 4


def reads_as_debris(text: str) -> bool:
    """Whether a sentence is table, figure or formula debris by its tokens alone, whatever its punctuation."""
    tokens = text.split()
    plain = [token for token in tokens if _WORD.fullmatch(token.strip(_EDGES)) and not _MATH_LETTERS.search(token)]
    stops = sum(1 for word in words(text) if word in STOP_WORDS)
    return len(tokens) >= DEBRIS_MIN_TOKENS and len(plain) < DEBRIS_WORD_SHARE * len(tokens) and stops < 2


def _reads_as_prose(text: str, line_count: int) -> bool:
    """A footnote or a note set small: whole sentences of words, not labels, cells or formulas."""
    tokens = text.split()
    plain = [token for token in tokens if _WORD.fullmatch(token.strip(_EDGES))]
    return (
        bool(_SENTENCE_END.search(text))
        and len(plain) >= 4 * line_count
        and len(plain) >= 0.7 * len(tokens)
        and len(_MATH_SIGNS.findall(text)) < 2
    )
