"""What a run produces: one ChunkResult per chunk, and one summary of them that progress, status and report read.

"Cut off" and "fell back" are decided here, once; everything that shows them asks these objects.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields


@dataclass(frozen=True)
class ChunkResult:
    index: int
    first_page: int
    last_page: int
    source_sha256: str
    source_tokens: int
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    acknowledgement_stripped: bool
    source_text: str = ""  # kept so a report can be built from the checkpoint alone
    mode: str = "rewrite"
    decision: str = "model"
    """"model", "retry" (second answer passed), "fallback" (rule-cleaned text kept), "rules" (--mode rules), or
    "rules-only" (select mode had nothing to ask: no sentence of the chunk could be dropped)."""
    attempts: list[dict] = field(default_factory=list)  # each model answer's guard scores and failed checks
    fallback_reason: str = ""
    """Why the chunk kept its rule-cleaned text: a fallback's "prompt too long", "guard: …"; "no candidates"."""

    @classmethod
    def from_dict(cls, data: dict) -> ChunkResult:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data or _required(f)})

    @property
    def cut_off(self) -> bool:
        """The kept text is a rewrite that hit its token limit (a select answer at its limit loses nothing)."""
        return self.finish_reason == "length" and self.mode == "rewrite" and self.decision in ("model", "retry")

    @property
    def fell_back(self) -> bool:
        return self.decision == "fallback"

    @property
    def pages(self) -> str:
        return str(self.first_page) if self.first_page == self.last_page else f"{self.first_page}-{self.last_page}"


def _required(f) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


@dataclass(frozen=True)
class RunSummary:
    """The chunks cleaned so far (in chunk order) out of ``total``: what every view of a run reports."""

    results: list[ChunkResult]
    total: int

    @property
    def done(self) -> int:
        return len(self.results)

    @property
    def answer_tokens(self) -> int:
        return sum(r.completion_tokens for r in self.results)

    @property
    def model_seconds(self) -> float:
        """Summed over chunks; with several decoding at once this exceeds the wall time."""
        return sum(r.seconds for r in self.results)

    @property
    def tokens_per_chunk_second(self) -> float:
        return self.answer_tokens / self.model_seconds if self.model_seconds else 0.0

    @property
    def cut_off(self) -> list[int]:
        """Chunks (1-based) whose kept rewrite hit the answer limit."""
        return [r.index + 1 for r in self.results if r.cut_off]

    @property
    def fell_back(self) -> list[int]:
        return [r.index + 1 for r in self.results if r.fell_back]

    def fallbacks_by_reason(self) -> dict[str, list[int]]:
        """Chunks (1-based) that kept their rule-cleaned text, grouped by why."""
        grouped: dict[str, list[int]] = {}
        for result in self.results:
            if result.fell_back:
                grouped.setdefault(result.fallback_reason or "guard", []).append(result.index + 1)
        return grouped

    def describe_fallbacks(self) -> str:
        """One line: "chunks 3, 7 (prompt too long); chunk 9 (guard: summarised)", or "" when none fell back."""
        return "; ".join(
            f"{'chunk' if len(numbers) == 1 else 'chunks'} {', '.join(map(str, numbers))} ({reason})"
            for reason, numbers in self.fallbacks_by_reason().items()
        )

    def decisions(self) -> dict[str, int]:
        """How many chunks each decision ("model", "retry", "fallback", "rules", "rules-only") ended in."""
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result.decision] = counts.get(result.decision, 0) + 1
        return counts

    @property
    def pages(self) -> str:
        if not self.results:
            return "none"
        return f"{min(r.first_page for r in self.results)}-{max(r.last_page for r in self.results)}"


def describe_fallbacks(results: list[ChunkResult]) -> str:
    return RunSummary(sorted(results, key=lambda r: r.index), len(results)).describe_fallbacks()


@dataclass
class RunStats:
    """This process's share of a run: the chunks it cleaned and how fast, for the progress line and summary."""

    chunks_cleaned: int = 0
    completion_tokens: int = 0
    started: float | None = None

    def add(self, result: ChunkResult) -> None:
        self.chunks_cleaned += 1
        self.completion_tokens += result.completion_tokens

    @property
    def tokens_per_second(self) -> float:
        """Answer tokens per second of wall time since cleaning started: all chunks in flight together."""
        elapsed = time.perf_counter() - self.started if self.started is not None else 0.0
        return self.completion_tokens / elapsed if elapsed > 0 else 0.0


def describe_removed(removed: Mapping[str, int]) -> str:
    """ "citations 412 (9,876 characters); references 1,873 (93,120 characters)": what each rule removed, its
    items under the rule's name and its characters under ``name + " chars"`` (stages.repair.Removed)."""
    rules = sorted(name for name in removed if not name.endswith(" chars"))
    return "; ".join(f"{rule} {removed[rule]:,} ({removed.get(rule + ' chars', 0):,} characters)" for rule in rules)
