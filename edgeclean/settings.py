"""Every knob of a cleaning run, declared once: its default, its meaning, and the CLI flag it gets.

``edgeclean clean`` builds its options from these fields (cli/options.py): a field's ``flag`` metadata is the
only place its flag, help, environment variable and bounds are written. Fields without one (the answer limit)
are for the library only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .errors import SettingsError
from .model.hardware import PARALLEL_CPU, PARALLEL_CPU_SELECT, PARALLEL_GPU
from .model.protocol import CONTEXT_SLACK

MODES = ("select", "rewrite", "rules")
KEEPABLE = ("references", "figures", "math", "urls")  # dropped by default, kept with --keep
DROPPABLE = ("appendix", "acknowledgements")  # kept by default, dropped with --drop
MAX_PARALLEL = 64
MAX_DRAFT = 32


@dataclass(frozen=True)
class Flag:
    """How a setting appears on the command line."""

    help: str
    name: str | None = None
    """The flag's own name when it is not the field's (``--ctx`` for n_ctx)."""
    inverted: bool = False
    """A ``--keep-x`` flag for a ``drop_x`` field: the flag's value is the opposite."""
    envvar: str | None = None
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    show_default: bool = True


def setting(default, flag: Flag | None = None):
    return field(default=default, metadata={"flag": flag} if flag else {})


@dataclass(frozen=True)
class CleanSettings:
    n_ctx: int = setting(2048, Flag("Context window in tokens.", name="ctx", envvar="EDGECLEAN_CTX", min=256))
    """Context window in tokens; system prompt + chunk + longest allowed answer must fit in it."""
    chunk_tokens: int | None = setting(
        None,
        Flag(
            "Tokens of text per chunk. [default: as many as fit --ctx]",
            envvar="EDGECLEAN_CHUNK_TOKENS",
            min=16,
            show_default=False,
        ),
    )
    """Tokens of PDF text per chunk; None sizes chunks to fill the context."""
    temperature: float = setting(0.0, Flag("0 is greedy: reproducible output.", min=0.0))
    """0 is greedy decoding: the same input always gives the same text."""
    seed: int = setting(0, Flag("Sampling seed (only with --temperature > 0)."))
    """Sampling seed, used only when temperature > 0."""
    n_gpu_layers: int = setting(
        -1, Flag("Layers to offload to a GPU (-1 all, 0 none).", envvar="EDGECLEAN_N_GPU_LAYERS")
    )
    """Layers to offload to the GPU (-1 all, 0 none); ignored by a CPU-only llama.cpp."""
    require_gpu: bool = setting(False, Flag("Fail rather than run on the CPU when no GPU offload is available."))
    """Fail instead of running on the CPU when llama.cpp has no GPU offload."""
    threads: int | None = setting(
        None,
        Flag(
            "CPU threads. [default: CPUs this process may use]", envvar="EDGECLEAN_THREADS", min=1, show_default=False
        ),
    )
    """CPU threads; None uses the CPUs this process may actually run on."""
    parallel: int | None = setting(
        None,
        Flag(
            f"Chunks decoded at once in one context. [default: {PARALLEL_CPU} on a CPU "
            f"({PARALLEL_CPU_SELECT} in --mode select), {PARALLEL_GPU} on a GPU]",
            envvar="EDGECLEAN_PARALLEL",
            min=1,
            max=MAX_PARALLEL,
            show_default=False,
        ),
    )
    """Chunks decoded together in one context; None chooses from the device (see hardware.default_parallel)."""
    draft: int = setting(
        0,
        Flag(
            "Rewrite mode: guess up to N answer tokens by copying from the chunk and check them in one decode "
            "(0: off). Off by default: on CPU the checked rows round differently, so some answers differ from "
            "plain decoding (see bench/lookup.py).",
            envvar="EDGECLEAN_DRAFT",
            min=0,
            max=MAX_DRAFT,
        ),
    )
    """Copy-aware (prompt-lookup) decoding in rewrite mode: most draft tokens per step; 0 decodes plainly.

    It changes answers (engine.py says why), so it is part of the checkpoint fingerprint like any other result field.
    """
    pages: str | None = setting(None, Flag("Pages to clean, e.g. 1-10,15. [default: all]", show_default=False))
    """Pages to clean, like "1-10,15"; None is all pages."""
    max_chars: int | None = setting(
        None, Flag("Stop after this many characters of text. [default: no limit]", min=1, show_default=False)
    )
    """Stop after this many characters of extracted text; None is no limit."""
    answer_ratio: float = setting(1.5)
    """An answer may be at most this many times its chunk's tokens (plus answer_margin)."""
    answer_margin: int = setting(64)
    """Extra answer tokens on top of answer_ratio, so short chunks are not cut off."""
    mode: str = setting(
        "select",
        Flag(
            "select: the model only drops non-prose sentences; rewrite: it rewrites each chunk (guarded); "
            "rules: no model at all.",
            envvar="EDGECLEAN_MODE",
            choices=MODES,
        ),
    )
    """select: the model only picks sentences to drop; rewrite: it rewrites the chunk (guarded); rules: no model."""
    drop_citations: bool = setting(
        True, Flag("Keep citations like (Wei et al., 2022) and [12] in the text.", name="keep_citations", inverted=True)
    )
    """Remove author-year citations and numeric references like [12] before cleaning."""
    drop_contents: bool = setting(
        True,
        Flag(
            "Keep tables of contents and lists of figures/tables (dot-leader entries).",
            name="keep_contents",
            inverted=True,
        ),
    )
    """Remove tables of contents and lists of figures/tables (dot-leader entries) before cleaning."""

    keep: str = setting(
        "",
        Flag(f"Keep what a podcast drops by default, a comma list of: {', '.join(KEEPABLE)}.", show_default=False),
    )
    """Parts dropped by default that this run keeps (references, figures, math, urls), comma-separated."""
    drop: str = setting("", Flag(f"Also drop, a comma list of: {', '.join(DROPPABLE)}.", show_default=False))
    """Sections kept by default that this run drops (appendix, acknowledgements), comma-separated."""

    def __post_init__(self) -> None:
        # One spelling per choice ("urls,references" is "references,urls"), so the fingerprint sees the same run.
        object.__setattr__(self, "keep", _parts("--keep", self.keep, KEEPABLE))
        object.__setattr__(self, "drop", _parts("--drop", self.drop, DROPPABLE))
        if self.mode not in MODES:
            raise SettingsError(f"--mode {self.mode!r}: use one of {', '.join(MODES)}")
        if self.parallel is not None and not 1 <= self.parallel <= MAX_PARALLEL:
            raise SettingsError(f"--parallel {self.parallel}: use 1 to {MAX_PARALLEL}")

    def kept(self) -> set[str]:
        return set(filter(None, self.keep.split(",")))

    def dropped(self) -> set[str]:
        return set(filter(None, self.drop.split(",")))

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

        ``parallel`` is left out here: the plan's fingerprint holds its resolved value (plan.py).
        """
        fields = asdict(self)
        for speed_only in ("threads", "n_gpu_layers", "require_gpu", "parallel"):
            fields.pop(speed_only)
        return fields


def _parts(flag: str, value: str | None, allowed: tuple[str, ...]) -> str:
    parts = {part.strip().lower() for part in (value or "").split(",") if part.strip()}
    unknown = sorted(parts - set(allowed))
    if unknown:
        raise SettingsError(f"{flag} {', '.join(unknown)}: use a comma list of {', '.join(allowed)}")
    return ",".join(sorted(parts))
