"""Sentences, the units ``--mode select`` works in: splitting, numbering, judging prose, dropping by number.

A sentence that reads as prose is never dropped whatever the model says, unless the structure rules take it for
a kind the run drops (a bibliography entry, table or figure debris); the model may only name those and the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .guard import STOP_WORDS, words
from .layout import reads_as_debris
from .sections import reads_as_entry

_NUMBERED_HEADING = re.compile(r"\d{1,2}(?:\.\d{1,2}){0,3}\.?\s+[^\W\d_][^\W\d_]")

# In --mode select a sentence counts as prose, and is never dropped whatever the model says, when it is a
# numbered heading ("4.1 Context Following"), or has at least PROSE_MIN_WORDS words and either ends like a
# sentence or PROSE_STOP_SHARE of them are stop words.
PROSE_MIN_WORDS = 6

PROSE_STOP_SHARE = 0.2

# Running text in any script: at least this share of its visible characters are letters, and at least this share
# of its words are plain words (letters only) in lower case or in a script without case. Names, labels,
# affiliation lists and figure debris ("RankOptimization y,1y,2y3") are not.
PROSE_LETTER_SHARE = 0.75

# Headings are content: the docling ground truth keeps "A Glimpse Into the Future", which select once dropped.
HEADING_WORDS = (2, 12)

PROSE_UNCAPITALISED_SHARE = 0.5


def numbered_sentences(text: str) -> str:
    """The chunk as ``--mode select`` shows it to the model: one numbered sentence per line.

    The chunker counts a select chunk's tokens in this form, so its prompt fits the context by construction.
    """
    sentences = (sentence for paragraph in split_sentences(text) for sentence in paragraph)
    return "\n".join(f"{n}: {sentence}" for n, sentence in enumerate(sentences, start=1))


# Each sentence the model may name is shown with this many sentences on either side, unnumbered, so it can tell
# a figure label from a heading; the rest of the chunk is left out ("…"), so the prompt costs less to read.
CONTEXT_SENTENCES = 1


@dataclass(frozen=True)
class CandidateView:
    """What ``--mode select`` shows the model: the sentences it may name, numbered 1..n, among unnumbered context."""

    text: str
    numbers: list[int]
    """Candidate k (1-based) is sentence ``numbers[k - 1]`` of the chunk (1-based, as ``drop_sentences`` counts)."""
    entries: frozenset[int] = frozenset()
    """The candidates (chunk numbers) with a bibliography entry's shape: the guard does not count them when dropped.
    Debris is still counted: a table's rows may be content (docling pg9's ground truth keeps its table, and
    uncounted, select dropped it: gt_recall 0.958 to 0.859)."""

    def sentences_named(self, answer_numbers: set[int]) -> set[int]:
        """The chunk's sentence numbers for the candidates an answer names; numbers of no candidate are ignored."""
        return {self.numbers[k - 1] for k in answer_numbers if 1 <= k <= len(self.numbers)}


# What the structure rules may vet in select mode though it reads as prose, each while the run drops it:
# "references" (a bibliography entry, six words and a period) and "debris" (table rows, figure and formula text).
VETTED = frozenset({"references", "debris"})


def candidate_view(paragraphs: list[list[str]], vetted: frozenset[str] = VETTED) -> CandidateView:
    """Number only the sentences that may be dropped (the rest is never dropped, so never asked about).

    Never longer than ``numbered_sentences`` of the same text, which the chunker sized the prompt by.
    """
    sentences = [sentence for paragraph in paragraphs for sentence in paragraph]
    structural = {n for n, sentence in enumerate(sentences, start=1) if vetted_by_structure(sentence, vetted)}
    run_in = _run_in_headings(paragraphs)
    numbers = [
        n for n, sentence in enumerate(sentences, start=1)
        if n in structural or n not in run_in and not reads_as_prose(sentence)
    ]  # fmt: skip
    entries = frozenset(n for n in structural if "references" in vetted and reads_as_entry(sentences[n - 1]))
    shown = {
        n + offset
        for n in numbers
        for offset in range(-CONTEXT_SENTENCES, CONTEXT_SENTENCES + 1)
        if 1 <= n + offset <= len(sentences)
    }
    label = {n: k for k, n in enumerate(numbers, start=1)}
    lines, previous = [], 0
    for n in sorted(shown):
        if n > previous + 1:
            lines.append("…")
        sentence = sentences[n - 1]
        lines.append(f"{label[n]}: {sentence}" if n in label else sentence)
        previous = n
    if numbers and previous < len(sentences):
        lines.append("…")
    return CandidateView("\n".join(lines), numbers, entries)


def vetted_by_structure(sentence: str, vetted: frozenset[str] = VETTED) -> bool:
    """Whether the structure rules take a sentence for a kind in ``vetted``: a bibliography entry, or table,
    figure or formula debris. A heading never is, whatever its shape."""
    if _reads_as_heading(sentence) or _NUMBERED_HEADING.match(sentence) and not sentence.rstrip().endswith("."):
        return False
    return "references" in vetted and reads_as_entry(sentence) or "debris" in vetted and reads_as_debris(sentence)


def _run_in_headings(paragraphs: list[list[str]]) -> set[int]:
    """The numbers of run-in headings: a paragraph that opens with a few plain words and a period, prose after
    them ("Declaration. This survey represents ..."; select once dropped the KD survey's two)."""
    found, number = set(), 0
    for paragraph in paragraphs:
        if len(paragraph) > 1 and paragraph[0].endswith(".") and _reads_as_heading(paragraph[0][:-1], fewest=1):
            found.add(number + 1)
        number += len(paragraph)
    return found


def reads_as_prose(sentence: str) -> bool:
    """Whether a sentence is running text, which ``--mode select`` never drops whatever the model says.

    English stop words are one signal; the others hold in any script: a sentence end (Latin, CJK, Arabic,
    Devanagari), or the shape of running text: enough words, mostly letters, most words not capitalised
    (scripts without case, such as CJK, Hangul and Arabic, count as not capitalised).
    """
    if _NUMBERED_HEADING.match(sentence) or _reads_as_heading(sentence):
        return True
    tokens = sentence.split()
    units = len(tokens) + sum(1 for ch in sentence if _is_ideograph(ch)) // 2  # CJK writes no spaces
    if units < PROSE_MIN_WORDS:
        return False
    if sentence.rstrip(_CLOSERS).endswith(_PROSE_ENDS):
        return True
    english = words(sentence)
    if sum(t in STOP_WORDS for t in english) >= PROSE_STOP_SHARE * len(english):
        return True
    visible = sum(1 for ch in sentence if not ch.isspace())
    if sum(1 for ch in sentence if ch.isalpha()) < PROSE_LETTER_SHARE * visible:
        return False
    plain = sum(1 for t in tokens if (w := t.strip(_WORD_EDGES)).isalpha() and not w[:1].isupper())
    return plain >= PROSE_UNCAPITALISED_SHARE * len(tokens)


def _reads_as_heading(sentence: str, fewest: int = HEADING_WORDS[0]) -> bool:
    """A heading or a lead-in ("A Glimpse Into the Future", "Some possibilities include:"): a few plain words.

    Figure labels glue words together ("StudentModel", "DirectionofKD") or mix in digits and symbols, so they
    fail here; a label of plain words is kept, the price of never dropping a real heading.
    """
    tokens = [token.strip(_WORD_EDGES) for token in sentence.split()]
    if not fewest <= len(tokens) <= HEADING_WORDS[1] or sentence.rstrip()[-1:] in ".!?":
        return False
    if len(tokens) > 4 and not any(token.islower() for token in tokens):
        return False  # five or more capitalised words and no "of", "the", "into": a list of names
    return all(
        token.isalpha() and (token.rstrip("s").isupper() or token[1:].islower() or len(token) == 1) for token in tokens
    )


def split_sentences(text: str) -> list[list[str]]:
    """Paragraphs (blank-line separated) as lists of sentences; the units ``--mode select`` may drop."""
    return [_split_paragraph(p.strip()) for p in re.split(r"\n\s*\n", text) if p.strip()]


def _split_paragraph(paragraph: str) -> list[str]:
    """Cut at sentence ends, but not inside dot leaders, abbreviations, initials, list numbers or decimals."""
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(paragraph):
        if _ends_sentence(paragraph, start, match):
            sentences.append(paragraph[start : match.end()].strip())
            start = match.end()
    rest = paragraph[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences or [paragraph]


def _ends_sentence(text: str, start: int, match: re.Match) -> bool:
    if match.group("cjk"):
        return True  # 。！？ end a sentence with or without a space after them
    mark = match.group("mark")
    before = text[start : match.start()]
    following = text[match.end() : match.end() + 1]
    if following[:1].islower():
        return False  # "et al. propose", "e.g. this": no new sentence starts in lower case
    if mark != ".":
        return True
    if len(match.group("more")) >= 3:
        return False  # "Notices........ vii": a dot leader, not an ellipsis
    if not before or not (before[-1].isalnum() or before[-1] in _CLOSERS):
        return False  # a dot leader ". . . ." or a lone "."
    word = re.search(r"[\w.]*$", before).group(0)
    if word.lower().rstrip(".") in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return False  # "Fig. 3", "vs. GPT-4", the initial in "J. Smith"
    return not (word[:1].isdigit() and not before[: -len(word)].strip())  # "2." opening a list item


# A run of sentence-end marks, closing quotes or brackets after them, then either space or (CJK) nothing.
_SENTENCE_END = re.compile(
    r"(?P<cjk>[。！？]+[」』”’)）]*\s*)|(?P<mark>[.!?؟۔।])(?P<more>[.!?؟۔।]*)[\"'”’)\]]*\s+(?=\S)"
)

_PROSE_ENDS = (".", "!", "?", ":", "。", "！", "？", "؟", "۔", "।")

_CJK_ENDS = ("。", "！", "？", "」", "』", "）")

_CLOSERS = "\"'”’)]」』）"

_WORD_EDGES = "\"'“”‘’()[]{}«»,;:.!?、，。！？؟،"

_ABBREVIATIONS = frozenset(
    """al e.g i.e etc vs fig figs eq eqs no nos ref refs sec secs ch dr mr mrs ms prof st cf ca approx vol pp
    resp z.b d.h bzw usw vgl nr abb tab bsp""".split()
)


def _is_ideograph(ch: str) -> bool:
    return "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def parse_selection(answer: str) -> set[int]:
    return {int(n) for n in re.findall(r"\d+", answer)}


def drop_sentences(paragraphs: list[list[str]], dropped: set[int]) -> str:
    kept, number = [], 0
    for sentences in paragraphs:
        remaining = []
        for sentence in sentences:
            number += 1
            if number not in dropped:
                remaining.append(sentence)
        if remaining:
            kept.append(_join_sentences(remaining))
    return "\n\n".join(kept)


def _join_sentences(sentences: list[str]) -> str:
    """Sentences back into a paragraph: CJK sentences run on without a space, as they were written."""
    text = sentences[0]
    for sentence in sentences[1:]:
        text += ("" if text.endswith(_CJK_ENDS) else " ") + sentence
    return text
