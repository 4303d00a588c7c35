"""The whole run: extract → chunk → clean → checkpoint → output, as plain steps a CLI or notebook can drive."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .backend import LlamaCppModel, Model, gpu_offload_supported
from .checkpoint import Checkpoint, ChunkResult
from .chunk import Chunk, chunk_pages
from .clean import clean_chunks, numbered_sentences, prompt_overhead, text_sha256
from .errors import InputError, ModelError, OutputError, SettingsError
from .extract import Page, PdfDocument, format_page_ranges, limit_characters, parse_page_ranges
from .hardware import default_parallel, usable_cpus
from .models import file_sha256, model_sha256, resolve_model
from .output import STDOUT, check_writable, join_chunks, remove_stale_temporaries, write_atomically
from .preclean import PageCleaner, PrecleanOptions
from .prompt import ALL_PROMPTS, PINNED_DATE
from .settings import CleanSettings

log = logging.getLogger("edgeclean")

CHECKPOINT_SUFFIX = ".ckpt"
STDOUT_CHECKPOINT_SUFFIX = ".stdout.ckpt"  # -o - keeps its own: a file run's finished checkpoint writes no stdout
# Fewer characters than this per page means there is no real text layer, only stray marks or a title.
SCANNED_CHARS_PER_PAGE = 20
_ROUGH_TOKEN = re.compile(r"\w+|[^\w\s]")  # chunk sizes in --mode rules, where no tokenizer is loaded


def default_output(pdf: Path) -> Path:
    return Path(f"{pdf.stem}.clean.txt")


def checkpoint_path(output: Path, pdf: Path) -> Path:
    """OUTPUT.ckpt beside a file output; NAME.stdout.ckpt here for -o - (its fingerprint says stdout, so even a
    file output named NAME.stdout cannot resume from it)."""
    if output == STDOUT:
        return Path(f"{pdf.stem}{STDOUT_CHECKPOINT_SUFFIX}")
    return output.with_name(output.name + CHECKPOINT_SUFFIX)


def load_model(model: str | None, settings: CleanSettings) -> LlamaCppModel:
    """Resolve a model name or path and load it with the thread count this process may really use."""
    threads = settings.threads or usable_cpus()[0]
    if settings.require_gpu and (settings.n_gpu_layers == 0 or not gpu_offload_supported()):
        raise ModelError(
            "--require-gpu: this llama-cpp-python cannot offload to a GPU (a CPU-only build, or --n-gpu-layers 0); "
            "rebuild it with CMAKE_ARGS=-DGGML_CUDA=on bash .ci/setup"
        )
    return LlamaCppModel(
        resolve_model(model), n_ctx=settings.n_ctx, n_gpu_layers=settings.n_gpu_layers, threads=threads
    )


@dataclass
class RunStats:
    chunks_cleaned: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_seconds: float = 0.0
    """Summed over chunks; with several decoding at once this exceeds the wall time."""
    started: float | None = None
    length_finishes: list[int] = field(default_factory=list)
    fallbacks: list[int] = field(default_factory=list)

    def add(self, result: ChunkResult) -> None:
        self.chunks_cleaned += 1
        if result.fell_back:
            self.fallbacks.append(result.index)
        self.prompt_tokens += result.prompt_tokens
        self.completion_tokens += result.completion_tokens
        self.model_seconds += result.seconds
        if result.cut_off:
            self.length_finishes.append(result.index)

    @property
    def tokens_per_second(self) -> float:
        """Answer tokens per second of wall time since cleaning started: all chunks in flight together."""
        elapsed = time.perf_counter() - self.started if self.started is not None else 0.0
        return self.completion_tokens / elapsed if elapsed > 0 else 0.0


class CleaningRun:
    """One PDF being cleaned into one output file, resumable through its checkpoint.

    Construction extracts, rule-cleans and chunks the text and opens (or resumes) the checkpoint; iterating
    ``results()`` cleans the chunks still missing; ``finish()`` writes the output atomically.
    ``model`` may be None with ``mode="rules"``, which never uses one.
    """

    def __init__(
        self,
        pdf: str | Path | PdfDocument,
        model: Model | None,
        settings: CleanSettings = CleanSettings(),
        *,
        output: str | Path | None = None,
        password: str | None = None,
        restart: bool = False,
    ):
        document = pdf if isinstance(pdf, PdfDocument) else PdfDocument(pdf, password)
        self.pdf = document.path
        if model is None and settings.needs_model:
            raise SettingsError(f"--mode {settings.mode} needs a model")
        self.model = model if settings.needs_model else None
        self.settings = settings
        self.output = Path(output) if output is not None else default_output(self.pdf)
        self.checkpoint_path = checkpoint_path(self.output, self.pdf)
        self.stats = RunStats()
        self.parallel, self.parallel_why = self._parallel()
        self.page_count = document.page_count
        self.chunk_tokens = self._chunk_budget()
        self.chunks = self._chunk(document)
        check_writable(self.output)
        self._refuse_overwriting_the_input()
        self._guard_existing_output(restart)
        remove_stale_temporaries(self.checkpoint_path.parent)
        self.checkpoint = Checkpoint.open(self.checkpoint_path, self._fingerprint(), len(self.chunks), restart=restart)
        try:
            self._check_resumed_chunks()
            self._refuse_a_changed_output()
        except BaseException:
            self.checkpoint.close()
            raise
        self.done_at_start = len(self.checkpoint.results)

    def _parallel(self) -> tuple[int, str]:
        if self.settings.parallel:
            return self.settings.parallel, "--parallel"
        return default_parallel(self.model.device, self.settings.mode) if self.model else (1, "no model")

    def count_tokens(self, text: str) -> int:
        """A chunk's tokens as the model will see them: in --mode select, as numbered sentences.

        Counting the prompt's own shape makes every prompt fit the context by construction: a dotted table of
        contents once became 3,471 select tokens from a chunk counted as 700.
        """
        if not self.model:
            return len(_ROUGH_TOKEN.findall(text))
        return self.model.count_tokens(numbered_sentences(text) if self.settings.mode == "select" else text)

    def _chunk_budget(self) -> int:
        overhead = prompt_overhead(self.model) if self.model else 0
        largest = self.settings.largest_chunk(overhead)
        wanted = self.settings.chunk_tokens or largest
        if wanted > largest or wanted < 16:
            raise SettingsError(
                f"--chunk-tokens {wanted} does not fit a {self.settings.n_ctx}-token context "
                f"(prompt {overhead} + chunk + answer up to {self.settings.answer_ratio}x chunk + "
                f"{self.settings.answer_margin}); use at most {largest} or raise --ctx"
            )
        return wanted

    def _chunk(self, document: PdfDocument) -> list[Chunk]:
        numbers = parse_page_ranges(self.settings.pages, self.page_count) if self.settings.pages else None
        self.page_numbers = numbers
        try:
            pages = list(document.pages(numbers))  # page text is small; headers are found across all pages
        finally:
            document.close()
        self.lost_pages = list(document.lost_pages)
        settings = self.settings
        cleaner = PageCleaner(pages, PrecleanOptions(settings.drop_citations, settings.drop_contents))
        if self.settings.max_chars is not None:
            pages = list(limit_characters(pages, self.settings.max_chars))
        # Judged on the text as extracted: what the rules remove (headers, addresses) is still a text layer.
        characters = sum(len("".join(page.text.split())) for page in pages)
        page_total = len(numbers) if numbers else self.page_count
        if self.settings.max_chars is None and characters < SCANNED_CHARS_PER_PAGE * page_total:
            raise InputError(
                f"{self.pdf}: only {characters} characters of text on {page_total} pages; it looks scanned "
                "(no text layer), so OCR it first"
            )
        cleaned = (Page(page.number, cleaner.clean(page.text)) for page in pages)
        chunks = list(chunk_pages(cleaned, self.count_tokens, self.chunk_tokens))
        if not chunks:
            raise InputError(
                f"{self.pdf}: the rules removed all {characters} characters of its text (page numbers, running "
                "headers, e-mail addresses, citations); nothing is left to clean"
            )
        return chunks

    def _refuse_overwriting_the_input(self) -> None:
        for path in (self.output, self.checkpoint_path):
            if path != STDOUT and path.exists() and path.samefile(self.pdf):
                raise OutputError(f"{path} is the input PDF; choose another output with -o")

    def _guard_existing_output(self, restart: bool) -> None:
        if restart or self.output == STDOUT or self.checkpoint_path.exists():
            return
        if self.output.exists():
            raise OutputError(f"{self.output} already exists and has no checkpoint; pass --restart to overwrite it")

    def _fingerprint(self) -> dict:
        return {
            "edgeclean": __version__,
            "pdf_sha256": file_sha256(self.pdf),
            "model": model_identity(self.model) if self.model else "none",
            "device": self.model.device if self.model else "none",
            "prompt_sha256": text_sha256(
                ALL_PROMPTS + ((self.model.chat_template or "") if self.model else "") + PINNED_DATE.isoformat()
            ),
            "chunk_tokens": self.chunk_tokens,
            "parallel": self.parallel,
            "output": "stdout" if self.output == STDOUT else "file",
            **{key: value for key, value in self.settings.result_fields().items() if key != "chunk_tokens"},
            "pages": self._pages_fingerprint(),
        }

    def _pages_fingerprint(self) -> str | None:
        """--pages 1,2 and 1-2 are the same pages, and naming every page is the same as naming none."""
        if self.page_numbers is None or self.page_numbers == list(range(1, self.page_count + 1)):
            return None
        return format_page_ranges(self.page_numbers)

    def _check_resumed_chunks(self) -> None:
        for index, result in self.checkpoint.results.items():
            if index >= len(self.chunks) or result.source_sha256 != text_sha256(self.chunks[index].text):
                raise OutputError(f"{self.checkpoint_path} does not match this PDF's chunks; pass --restart")

    def _refuse_a_changed_output(self) -> None:
        """A finished output that no longer has the sha256 it was written with holds someone's edits: keep them."""
        recorded = self.checkpoint.output_sha256
        if self.output == STDOUT or recorded is None or not self.output.exists():
            return
        if not self.checkpoint.output_matches(self.output):
            raise OutputError(
                f"{self.output} was changed after edgeclean wrote it; move it away to have it written again, "
                "or pass --restart to clean the PDF again"
            )

    @property
    def already_written(self) -> bool:
        """Every chunk is cleaned and the output file is exactly what was written from them."""
        return self.checkpoint.complete and self.output != STDOUT and self.checkpoint.output_matches(self.output)

    @property
    def pending(self) -> list[Chunk]:
        return [chunk for chunk in self.chunks if chunk.index not in self.checkpoint.results]

    def results(self) -> Iterator[ChunkResult]:
        """Clean the chunks not yet in the checkpoint, ``parallel`` at a time, each made durable as it finishes.

        Chunks finish out of order; the checkpoint keeps them by index and the output is written in order.
        """
        self.stats.started = time.perf_counter()
        for result in clean_chunks(self.model, self.pending, self.settings, parallel=self.parallel):
            self.checkpoint.record(result)
            self.stats.add(result)
            yield result

    def finish(self, *, keep_checkpoint: bool = True) -> Path:
        """Write the output from the checkpoint, in chunk order, in one atomic step."""
        if not self.checkpoint.complete:
            missing = len(self.chunks) - len(self.checkpoint.results)
            raise OutputError(f"{missing} chunks are not cleaned yet; the output was not written")
        text = join_chunks([r.text for r in self.checkpoint.ordered_results()])
        write_atomically(self.output, text)
        if self.output != STDOUT:
            # After the rename: a kill in between leaves no record, and the next run just writes the file again.
            self.checkpoint.record_output(file_sha256(self.output))
        if not keep_checkpoint:
            self.checkpoint_path.unlink(missing_ok=True)  # while still locked
        self.checkpoint.close()
        return self.output

    def run_to_end(self) -> Path:
        """Clean every missing chunk and write the output; the checkpoint is released either way."""
        try:
            if self.already_written:
                return self.output
            for _ in self.results():
                pass
            return self.finish()
        finally:
            self.close()

    def close(self) -> None:
        """Release the checkpoint; the run can be resumed later by a new CleaningRun."""
        self.checkpoint.close()


def clean_pdf(
    pdf: str | Path,
    output: str | Path | None = None,
    *,
    model: str | Model | None = None,
    settings: CleanSettings = CleanSettings(),
    password: str | None = None,
    restart: bool = False,
) -> CleaningRun:
    """Clean ``pdf`` into ``output`` (default ``NAME.clean.txt`` in the current directory) and return the run.

    ``model`` is a loaded Model, a GGUF path, or a known model name (default Llama-3.2-1B-Instruct Q4_K_M);
    ``settings.mode == "rules"`` loads none.
    """
    document = PdfDocument(pdf, password)  # a bad PDF fails before a model spends seconds loading
    if not settings.needs_model:
        loaded = None
    elif model is not None and not isinstance(model, (str, Path)):
        loaded = model
    else:
        loaded = load_model(model and str(model), settings)
    try:
        run = CleaningRun(document, loaded, settings, output=output, password=password, restart=restart)
        started = time.perf_counter()
        run.run_to_end()
        log.info("cleaned %s in %.1f s", pdf, time.perf_counter() - started)
        return run
    finally:
        if loaded is not None and loaded is not model:
            loaded.close()


def model_identity(model: Model) -> str:
    """Name and the whole file's sha256: any changed weight is a different model. The hash is cached by the
    file's size and mtime (as `models verify` leaves it), so only the first run on a file spends seconds on it."""
    path = getattr(model, "path", None)
    if path is None:
        return model.name
    return f"{model.name} sha256:{model_sha256(path)}"
