"""Stage 3c: hold every model answer against its chunk; an answer that summarises, invents, loops or chats fails.

The measures (shared with bench/quality.py, so the guard and the benchmark count the same way):
words are NFKC, lower-cased runs of Unicode letters/digits, with line-break hyphens joined; content words
have at least 4 characters and are neither stop words nor numbers.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass

STOP_WORDS = frozenset(
    """a about above after again against all also although among an and any are as at be because been before
    being below between both but by can could did do does doing down during each either else even ever every
    few for from further had has have having he her here hers herself him himself his how however i if in into
    is it its itself just less many may might more most much must my myself neither no nor not now of off often
    on once only or other others our ours ourselves out over own same shall she should since so some such than
    that the their theirs them themselves then there these they this those though through thus to too under
    until up upon very via was we well were what when where whether which while who whom whose why will with
    within without would yet you your yours yourself yourselves""".split()
)
_LINE_BREAK_HYPHEN = re.compile(r"(?<=[^\W\d_])-[ \t]*\r?\n[ \t]*(?=[^\W\d_])")
_WORD = re.compile(r"[^\W_]+")
_CHATTER = re.compile(
    r"\b(?:here is|here's|here are|i have|i've|i removed|i made|i kept|i changed|i hope|note:|please note|"
    r"as an ai|cleaned text|cleaned version|the text (?:has been|was|is)|changes made|let me know|poem)\b",
    re.IGNORECASE,
)


def words(text: str) -> list[str]:
    text = _LINE_BREAK_HYPHEN.sub("", unicodedata.normalize("NFKC", text).lower())
    return _WORD.findall(text)


def content_words(tokens: list[str]) -> list[str]:
    return [w for w in tokens if len(w) >= 4 and w not in STOP_WORDS and not w.isdigit()]


def recall(source: list[str], output: list[str]) -> float:
    """Multiset share of ``source``'s items that ``output`` also holds."""
    if not source:
        return 1.0
    kept = Counter(source) & Counter(output)
    return sum(kept.values()) / len(source)


def novel_share(output: list[str], known: set) -> float:
    return sum(1 for item in output if item not in known) / len(output) if output else 0.0


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def repeat_share(tokens: list[str], n: int = 8) -> float:
    """Share of the n-grams that repeat one seen before: a looping answer scores high."""
    grams = ngrams(tokens, n)
    return (len(grams) - len(set(grams))) / len(grams) if grams else 0.0


@dataclass(frozen=True)
class Fidelity:
    recall: float  # source content words kept (multiset)
    invented: float  # answer content words found nowhere in the source
    novel3: float  # answer word 3-grams found nowhere in the source
    repeat8: float  # answer 8-grams that repeat
    source_repeat8: float
    length_ratio: float  # answer characters / source characters
    chatter: int  # meta phrases ("here is", "note:", "I removed") that the source does not hold

    def rounded(self) -> dict:
        return {key: round(value, 4) if isinstance(value, float) else value for key, value in asdict(self).items()}


def measure(source: str, answer: str) -> Fidelity:
    source_words, answer_words = words(source), words(answer)
    source_lower = source.lower()
    return Fidelity(
        recall=recall(content_words(source_words), content_words(answer_words)),
        invented=novel_share(content_words(answer_words), set(source_words)),
        novel3=novel_share(ngrams(answer_words, 3), set(ngrams(source_words, 3))),
        repeat8=repeat_share(answer_words),
        source_repeat8=repeat_share(source_words),
        length_ratio=len(answer.strip()) / max(1, len(source.strip())),
        chatter=sum(1 for m in _CHATTER.finditer(answer) if m.group(0).lower() not in source_lower),
    )


@dataclass(frozen=True)
class GuardLimits:
    min_recall: float = 0.90
    """An answer must keep this share of its chunk's content words."""
    max_invented: float = 0.02
    """At most this share of the answer's content words may be absent from the chunk."""
    max_novel3: float = 0.10
    """At most this share of the answer's word 3-grams may be absent from the chunk."""
    max_extra_repeat8: float = 0.02
    """The answer's repeated 8-grams may exceed the chunk's own by at most this share."""
    length_ratio: tuple[float, float] = (0.5, 1.15)
    """Answer characters per chunk character must lie in this range."""


@dataclass(frozen=True)
class Verdict:
    fidelity: Fidelity
    reasons: tuple[str, ...]  # empty when the answer passes

    @property
    def passed(self) -> bool:
        return not self.reasons


def check(source: str, answer: str, limits: GuardLimits = GuardLimits()) -> Verdict:
    """Score ``answer`` against ``source`` and name every limit it breaks."""
    f = measure(source, answer)
    low, high = limits.length_ratio
    failures = {
        "summarised": f.recall < limits.min_recall,
        "invented": f.invented > limits.max_invented or f.novel3 > limits.max_novel3,
        "looping": f.repeat8 > f.source_repeat8 + limits.max_extra_repeat8,
        "length": not low <= f.length_ratio <= high,
        "chatter": f.chatter > 0,
    }
    return Verdict(f, tuple(name for name, failed in failures.items() if failed))
