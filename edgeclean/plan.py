"""Settings resolved once, against the loaded model and the opened PDF, into the plan a run follows.

Every choice a run makes that the user did not spell out is made here, with the reason shown to the user:
CPU threads, chunks decoded at once, tokens per chunk, which pages. Nothing after this point defaults or
clamps them again, and the plan's fingerprint (what a checkpoint is bound to) holds exactly what was chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import SettingsError
from .hashing import file_sha256, text_sha256
from .model.hardware import default_parallel, resolve_threads
from .model.protocol import Model
from .model.registry import model_sha256
from .settings import CleanSettings
from .stages.extract import format_page_ranges, parse_page_ranges
from .stages.model_pass import prompt_overhead
from .stages.prompt import ALL_PROMPTS, PINNED_DATE
from .version import __version__

SMALLEST_CHUNK = 16


@dataclass(frozen=True)
class RunPlan:
    settings: CleanSettings
    threads: int
    threads_why: str
    parallel: int
    parallel_why: str
    chunk_tokens: int
    page_numbers: list[int] | None
    """The pages to clean, in order; None is every page."""
    page_count: int

    @classmethod
    def resolve(cls, settings: CleanSettings, model: Model | None, page_count: int) -> RunPlan:
        """``model`` is None only in --mode rules, which loads none."""
        threads, threads_why = cls.threads_for(settings)
        if settings.parallel:
            parallel, parallel_why = settings.parallel, "--parallel"
        elif model is None:
            parallel, parallel_why = 1, "no model"
        else:
            parallel, parallel_why = default_parallel(model.device, settings.mode)
        chunk_tokens = _chunk_tokens(settings, prompt_overhead(model) if model else 0)
        numbers = parse_page_ranges(settings.pages, page_count) if settings.pages else None
        return cls(settings, threads, threads_why, parallel, parallel_why, chunk_tokens, numbers, page_count)

    @staticmethod
    def threads_for(settings: CleanSettings) -> tuple[int, str]:
        """CPU threads and why; the model loads with these before the rest of the plan can be resolved."""
        return resolve_threads(settings.threads)

    @property
    def mode(self) -> str:
        return self.settings.mode

    def fingerprint(self, pdf: Path, model: Model | None, *, to_stdout: bool) -> dict:
        """What a checkpoint is bound to: the inputs and every choice that changes the cleaned text.

        Threads and GPU layers only change speed, so they are not in it; ``parallel`` is, as resolved.
        """
        return {
            "edgeclean": __version__,
            "pdf_sha256": file_sha256(pdf),
            "model": model_identity(model) if model else "none",
            "device": model.device if model else "none",
            "prompt_sha256": text_sha256(
                ALL_PROMPTS + ((model.chat_template or "") if model else "") + PINNED_DATE.isoformat()
            ),
            "chunk_tokens": self.chunk_tokens,
            "parallel": self.parallel,
            "output": "stdout" if to_stdout else "file",
            **{key: value for key, value in self.settings.result_fields().items() if key != "chunk_tokens"},
            "pages": self._pages_fingerprint(),
        }

    def _pages_fingerprint(self) -> str | None:
        """--pages 1,2 and 1-2 are the same pages, and naming every page is the same as naming none."""
        if self.page_numbers is None or self.page_numbers == list(range(1, self.page_count + 1)):
            return None
        return format_page_ranges(self.page_numbers)


def _chunk_tokens(settings: CleanSettings, overhead: int) -> int:
    largest = settings.largest_chunk(overhead)
    wanted = settings.chunk_tokens or largest
    if wanted > largest or wanted < SMALLEST_CHUNK:
        raise SettingsError(
            f"--chunk-tokens {wanted} does not fit a {settings.n_ctx}-token context "
            f"(prompt {overhead} + chunk + answer up to {settings.answer_ratio}x chunk + "
            f"{settings.answer_margin}); use at most {largest} or raise --ctx"
        )
    return wanted


def model_identity(model: Model) -> str:
    """Name and the whole file's sha256: any changed weight is a different model. The hash is cached by the
    file's size and mtime (as `models verify` leaves it), so only the first run on a file spends seconds on it."""
    path = getattr(model, "path", None)
    if path is None:
        return model.name
    return f"{model.name} sha256:{model_sha256(path)}"
