"""Stage 2: split page text into chunks that fit a token budget, cutting only between words.

Cuts prefer, in order: blank lines (and page breaks), line ends after a sentence, sentence ends, any
whitespace. A coarser boundary wins unless it would leave the chunk less than half full. Only a single
"word" longer than the whole budget (or unspaced CJK text) is cut between characters.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from .extract import Page

TokenCounter = Callable[[str], int]

_SENTENCE_END = ".!?。！？؟"
_CLOSERS = "\"'”’)]"
BOUNDARY_LEVELS = (
    re.compile(r"\n[ \t]*\n\s*"),
    re.compile(rf"(?<=[{_SENTENCE_END}:;])[{_CLOSERS}]*[ \t]*\n\s*"),
    re.compile(rf"(?<=[{_SENTENCE_END}])[{_CLOSERS}]*\s+|(?<=[。！？])"),
    re.compile(r"\s+"),
)
MIN_FILL = 0.5
PAGE_BREAK = "\n\n"


@dataclass(frozen=True)
class Chunk:
    index: int  # 0-based position in the document
    text: str
    first_page: int
    last_page: int
    tokens: int

    @property
    def pages(self) -> str:
        return str(self.first_page) if self.first_page == self.last_page else f"{self.first_page}-{self.last_page}"


def chunk_pages(pages: Iterable[Page], count_tokens: TokenCounter, budget: int) -> Iterator[Chunk]:
    """Yield chunks of at most ``budget`` tokens, holding no more than about two chunks of text at once."""
    if budget < 1:
        raise ValueError("budget must be at least one token")
    buffer = _PageBuffer()
    index = 0
    for page in pages:
        if not page.text.strip():
            continue
        buffer.append(page)
        while count_tokens(buffer.text) > budget:
            yield buffer.take(_find_cut(buffer.text, count_tokens, budget), index, count_tokens)
            index += 1
    if buffer.text.strip():
        yield buffer.take(len(buffer.text), index, count_tokens)


class _PageBuffer:
    """Text not yet chunked, with the offsets where each page begins."""

    def __init__(self) -> None:
        self.text = ""
        self._starts: list[int] = []
        self._numbers: list[int] = []

    def append(self, page: Page) -> None:
        if self.text:
            self.text += PAGE_BREAK
        self._starts.append(len(self.text))
        self._numbers.append(page.number)
        self.text += page.text

    def page_at(self, offset: int) -> int:
        return self._numbers[max(0, bisect.bisect_right(self._starts, offset) - 1)]

    def take(self, cut: int, index: int, count_tokens: TokenCounter) -> Chunk:
        head = self.text[:cut]
        start = len(head) - len(head.lstrip())
        end = len(head.rstrip())
        text = head[start:end]
        chunk = Chunk(index, text, self.page_at(start), self.page_at(max(start, end - 1)), count_tokens(text))
        rest = self.text[cut:]
        skipped = cut + len(rest) - len(rest.lstrip())
        self.text = rest.lstrip()
        keep = max(0, bisect.bisect_right(self._starts, skipped) - 1)
        self._starts = [max(0, s - skipped) for s in self._starts[keep:]]
        self._numbers = self._numbers[keep:]
        return chunk


def _find_cut(text: str, count_tokens: TokenCounter, budget: int) -> int:
    """The offset to cut ``text`` at so the head fits ``budget`` tokens, at the coarsest sensible boundary."""
    best = 0
    positions: list[int] = []
    for pattern in BOUNDARY_LEVELS:
        positions = sorted(set(positions) | {m.end() for m in pattern.finditer(text) if 0 < m.start() < len(text)})
        fit = _last_fitting(positions, lambda p: count_tokens(text[:p].rstrip()), budget)
        if fit is not None:
            best = max(best, positions[fit])
            if count_tokens(text[: positions[fit]].rstrip()) >= MIN_FILL * budget:
                return positions[fit]
    if best:
        return best
    return _character_cut(text, count_tokens, budget)


def _last_fitting(positions: list[int], cost: Callable[[int], int], budget: int) -> int | None:
    low, high, found = 0, len(positions) - 1, None
    while low <= high:
        middle = (low + high) // 2
        if cost(positions[middle]) <= budget:
            found, low = middle, middle + 1
        else:
            high = middle - 1
    return found


def _character_cut(text: str, count_tokens: TokenCounter, budget: int) -> int:
    """Last resort for a run of text with no whitespace at all: cut between characters, never inside one."""
    candidates = list(range(1, len(text)))
    fit = _last_fitting(candidates, lambda p: count_tokens(text[:p]), budget)
    cut = candidates[fit] if fit is not None else 1
    while cut > 1 and _joins_previous(text[cut]):
        cut -= 1
    return cut


def _joins_previous(char: str) -> bool:
    return unicodedata.combining(char) > 0 or char in "\u200d\ufe0e\ufe0f" or unicodedata.category(char) == "Mn"
