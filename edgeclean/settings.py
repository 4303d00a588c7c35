"""Every knob of a cleaning run, declared once with its default and meaning; the CLI builds its flags from these."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .errors import SettingsError

MODES = ("select", "rewrite", "rules")


@dataclass(frozen=True)
class CleanSettings:
    n_ctx: int = 2048
    """Context window in tokens; system prompt + chunk + longest allowed answer must fit in it."""
    chunk_tokens: int | None = None
    """Tokens of PDF text per chunk; None sizes chunks to fill the context."""
    temperature: float = 0.0
    """0 is greedy decoding: the same input always gives the same text."""
    seed: int = 0
    """Sampling seed, used only when temperature > 0."""
    n_gpu_layers: int = -1
    """Layers to offload to the GPU (-1 all, 0 none); ignored by a CPU-only llama.cpp."""
    require_gpu: bool = False
    """Fail instead of running on the CPU when llama.cpp has no GPU offload."""
    threads: int | None = None
    """CPU threads; None uses the CPUs this process may actually run on."""
    parallel: int | None = None
    """Chunks decoded together in one context; None chooses from the device (see hardware.default_parallel)."""
    pages: str | None = None
    """Pages to clean, like "1-10,15"; None is all pages."""
    max_chars: int | None = None
    """Stop after this many characters of extracted text; None is no limit."""
    answer_ratio: float = 1.5
    """An answer may be at most this many times its chunk's tokens (plus answer_margin)."""
    answer_margin: int = 64
    """Extra answer tokens on top of answer_ratio, so short chunks are not cut off."""
    mode: str = "select"
    """select: the model only picks sentences to drop; rewrite: it rewrites the chunk (guarded); rules: no model."""
    drop_citations: bool = True
    """Remove author-year citations and numeric references like [12] before cleaning."""
    drop_contents: bool = True
    """Remove tables of contents and lists of figures/tables (dot-leader entries) before cleaning."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SettingsError(f"--mode {self.mode!r}: use one of {', '.join(MODES)}")
        if self.parallel is not None and not 1 <= self.parallel <= MAX_PARALLEL:
            raise SettingsError(f"--parallel {self.parallel}: use 1 to {MAX_PARALLEL}")

    @property
    def needs_model(self) -> bool:
        return self.mode != "rules"

    def max_answer_tokens(self, chunk_tokens: int) -> int:
        return math.ceil(self.answer_ratio * chunk_tokens) + self.answer_margin

    def largest_chunk(self, prompt_overhead: int) -> int:
        """The biggest chunk whose prompt and longest answer still fit the context."""
        room = self.n_ctx - prompt_overhead - self.answer_margin - CONTEXT_SLACK
        return math.floor(room / (1 + self.answer_ratio))

    def result_fields(self) -> dict:
        """The settings that change the cleaned text (threads and GPU layers only change speed).

        ``parallel`` is left out here because its default is resolved later; the run's fingerprint holds the
        resolved value.
        """
        fields = asdict(self)
        for speed_only in ("threads", "n_gpu_layers", "require_gpu", "parallel"):
            fields.pop(speed_only)
        return fields


MAX_PARALLEL = 64
# Tokenizing a chunk inside the template can merge or split a few tokens at the seams.
CONTEXT_SLACK = 8
