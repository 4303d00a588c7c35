"""Stage 3b: one rule-cleaned chunk through the model, in the chosen mode, every answer held to the guard.

An answer that fails the guard is asked for once more with a stricter prompt; if that fails too, the chunk
keeps its rule-cleaned text. The decision and each answer's scores go into the chunk's result.
"""

from __future__ import annotations

import functools
import logging
import math
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass

from ..hashing import text_sha256
from ..model.protocol import Ask, Completion, Model
from ..results import ChunkResult
from ..settings import CleanSettings
from .chunk import Chunk
from .guard import GuardLimits, Verdict, check, measure
from .prompt import (
    SELECT_PROMPT,
    STRICT_PROMPT,
    STRICT_SELECT_PROMPT,
    SYSTEM_PROMPT,
    render_chat,
    strip_acknowledgement,
)
from .sentences import CandidateView, candidate_view, drop_sentences, parse_selection, split_sentences

log = logging.getLogger("edgeclean.model_pass")

SELECT_ANSWER = "0123456789, "  # the only characters a --mode select answer can hold: no word can be written
SELECT_MAX_NUMBERS = 12  # an answer names at most about this many sentences, so it stays a few dozen tokens
# A select chunk none of whose sentences could be dropped (all read as prose) never goes to the model.
NO_CANDIDATES = "no candidates"


# A rewrite longer than this many times its chunk's tokens fails the guard's length check anyway.
REWRITE_TOKEN_RATIO = 1.25
# Dropped sentences are vetted as non-prose, so select may lose more of a chunk's words than a rewrite may: a
# figure's labels and a table's cells. Measured on the generated paper and the docling PDFs, answers that lost no
# ground-truth word kept at least 0.927 of their chunk's content words (the chunk holding the paper's figure and
# table); 0.85 leaves room for denser figures, where 0.6 let a chunk lose 40% of its words to misjudged vetting.
SELECT_LIMITS = GuardLimits(min_recall=0.85, length_ratio=(0.3, 1.0))


@dataclass
class _Answer:
    text: str
    completion: Completion
    stripped: bool = False
    vetoed: int = 0  # numbers the model named that are no candidate's, so dropped nothing
    held_to: str | None = None  # what the guard holds the answer to, when not the whole chunk


# One chunk's exchange with the model: yields each Ask, is sent back its Completion, returns the ChunkResult.
Steps = Generator[Ask, Completion, ChunkResult]
Asking = Generator[Ask, Completion, _Answer]  # one answer, asked for and read


def pass_chunk(
    model: Model | None, chunk: Chunk, settings: CleanSettings, limits: GuardLimits | None = None
) -> ChunkResult:
    """Clean one chunk: by rules alone, or by guarded model answers falling back to the rules' text."""
    return next(pass_chunks(model, [chunk], settings, parallel=1, limits=limits))


def pass_chunks(
    model: Model | None,
    chunks: Iterable[Chunk],
    settings: CleanSettings,
    *,
    parallel: int = 1,
    limits: GuardLimits | None = None,
) -> Iterator[ChunkResult]:
    """Clean ``chunks`` with up to ``parallel`` answers decoding together; yield each result as its chunk is done.

    Results come in the order chunks finish, not their order. A chunk's retry goes to the front of the queue,
    so the chunks in flight finish before new ones start.
    """
    in_flight: dict[int, tuple[Chunk, Steps]] = {}
    asks: deque[tuple[int, Ask]] = deque()
    for chunk in chunks:
        steps = cleaning_steps(model, chunk, settings, limits)
        try:
            asks.append((chunk.index, next(steps)))
        except StopIteration as done:  # rule-cleaned: no model needed
            yield done.value
            continue
        except Exception as error:  # noqa: BLE001  one chunk's failure is that chunk's fallback, not the run's end
            yield _contained(chunk, settings, error)
            continue
        in_flight[chunk.index] = (chunk, steps)
    if not asks:
        return
    answers = model.complete_many(asks, parallel=parallel, prefixes=prompt_prefixes(model, settings))
    for index, completion in answers:
        chunk, steps = in_flight[index]
        try:
            asks.appendleft((index, steps.send(completion)))
        except StopIteration as done:
            del in_flight[index]
            yield done.value
        except Exception as error:  # noqa: BLE001
            del in_flight[index]
            yield _contained(chunk, settings, error)


def _contained(chunk: Chunk, settings: CleanSettings, error: Exception) -> ChunkResult:
    """A chunk whose model pass raised keeps its rule-cleaned text; the reason goes into its record."""
    reason = f"error: {type(error).__name__}: {str(error)[:200]}"
    log.warning("chunk %d (pages %s): %s; keeping the rule-cleaned text", chunk.index + 1, chunk.pages, reason)
    return _result(chunk, settings, chunk.text, "fallback", [], [], reason)


def cleaning_steps(
    model: Model | None, chunk: Chunk, settings: CleanSettings, limits: GuardLimits | None = None
) -> Steps:
    if settings.mode == "rules" or model is None:
        return _result(chunk, settings, chunk.text, "rules", [], [])
    ask = _ask_rewrite
    if settings.mode == "select":
        paragraphs = split_sentences(chunk.text)
        view = candidate_view(paragraphs, vetted(settings))
        if not view.numbers:
            return _result(chunk, settings, chunk.text, "rules-only", [], [], NO_CANDIDATES)
        ask = functools.partial(_ask_select, paragraphs=paragraphs, view=view)  # one view for both asks
    limits = limits or (SELECT_LIMITS if settings.mode == "select" else GuardLimits())
    answers, attempts = [], []
    for strict in (False, True):
        answer = yield from ask(model, chunk, settings, strict)
        answers.append(answer)
        if answer.completion.failed:  # the model could not run it; a longer strict prompt would fail the same way
            attempts.append({"passed": False, "reasons": ["error"], "error": answer.completion.error})
            reason = failure_reason(answer.completion.error)
            log.warning("chunk %d (pages %s): %s; keeping the rule-cleaned text", chunk.index + 1, chunk.pages, reason)
            return _result(chunk, settings, chunk.text, "fallback", answers, attempts, reason)
        verdict = _verdict(chunk, answer, limits)
        attempts.append(
            {"passed": verdict.passed, "reasons": list(verdict.reasons), "vetoed": answer.vetoed}
            | verdict.fidelity.rounded()
        )
        if verdict.passed:
            return _result(chunk, settings, answer.text, "retry" if strict else "model", answers, attempts)
    reason = "guard: " + ", ".join(dict.fromkeys(r for a in attempts for r in a["reasons"]))
    log.info("chunk %d (pages %s): %s; keeping the rule-cleaned text", chunk.index + 1, chunk.pages, reason)
    return _result(chunk, settings, chunk.text, "fallback", answers, attempts, reason)


def _verdict(chunk: Chunk, answer: _Answer, limits: GuardLimits) -> Verdict:
    """The guard's verdict on an answer, against the chunk less the bibliography entries it dropped (a reference
    list the section rule missed is most of its chunk's words, and may go)."""
    source = chunk.text if answer.held_to is None else answer.held_to
    if not source.strip():  # every sentence was vetted and dropped: nothing is left to hold the answer to
        return Verdict(measure(chunk.text, answer.text), ())
    return check(source, answer.text, limits)


def failure_reason(error: str) -> str:
    """A short name for why the model could not answer, as the checkpoint, summary and report show it."""
    return "prompt too long" if "does not fit" in error else f"model error: {error[:200]}"


def _ask_rewrite(model: Model, chunk: Chunk, settings: CleanSettings, strict: bool) -> Asking:
    prompt = _render(model, chunk.text, STRICT_PROMPT if strict else SYSTEM_PROMPT)
    completion = yield Ask(prompt, rewrite_answer_limit(settings, chunk.tokens), settings.temperature, settings.seed)
    if completion.finish_reason == "length":
        log.info("chunk %d (pages %s): the answer hit its token limit and may be cut off", chunk.index + 1, chunk.pages)
    if completion.failed:
        return _Answer(chunk.text, completion)
    text, stripped = strip_acknowledgement(completion.text, chunk.text)
    return _Answer(text, completion, stripped)


def _ask_select(
    model: Model,
    chunk: Chunk,
    settings: CleanSettings,
    strict: bool,
    *,
    paragraphs: list[list[str]],
    view: CandidateView,
) -> Asking:
    completion = yield Ask(
        _render(model, view.text, STRICT_SELECT_PROMPT if strict else SELECT_PROMPT),
        max_tokens=select_answer_limit(len(view.numbers)),
        temperature=settings.temperature,
        seed=settings.seed,
        only=SELECT_ANSWER,
    )
    if completion.failed:
        return _Answer(chunk.text, completion)
    named = parse_selection(completion.text)
    dropped = view.sentences_named(named)
    held_to = drop_sentences(paragraphs, dropped & view.entries)
    return _Answer(drop_sentences(paragraphs, dropped), completion, vetoed=len(named) - len(dropped), held_to=held_to)


def vetted(settings: CleanSettings) -> frozenset[str]:
    """What the structure rules may offer the model though it reads as prose: what this run drops (``--keep
    references`` keeps entries from the model too; ``--keep figures`` or ``math`` keeps debris)."""
    kept = settings.kept()
    return frozenset({"references"} - kept | (set() if {"figures", "math"} & kept else {"debris"}))


def select_answer_limit(candidates: int) -> int:
    """Room to name every candidate up to the last one ("1, 2, …, n"), at most SELECT_MAX_NUMBERS of them.

    A digit is a token or less in the tokenizers measured, the separator one or two; two more for the end.
    """
    return sum(len(str(k)) + 2 for k in range(1, min(SELECT_MAX_NUMBERS, candidates) + 1)) + 2


def rewrite_answer_limit(settings: CleanSettings, chunk_tokens: int) -> int:
    return min(settings.max_answer_tokens(chunk_tokens), math.ceil(REWRITE_TOKEN_RATIO * chunk_tokens) + 16)


def rewrite_prompt(model: Model, text: str) -> str:
    return _render(model, text, SYSTEM_PROMPT)


def _render(model: Model, user_text: str, system_prompt: str) -> str:
    template, bos, eos = model.chat_template, model.bos_token, model.eos_token
    return render_chat(template, user_text, bos_token=bos, eos_token=eos, system_prompt=system_prompt)


def _system_prompts(settings: CleanSettings) -> tuple[str, str]:
    return (SELECT_PROMPT, STRICT_SELECT_PROMPT) if settings.mode == "select" else (SYSTEM_PROMPT, STRICT_PROMPT)


def prompt_prefixes(model: Model, settings: CleanSettings) -> list[str]:
    """What every prompt of this mode starts with: the template and system prompt, up to the chunk's text."""
    return [_render(model, _USER_MARK, prompt).split(_USER_MARK)[0] for prompt in _system_prompts(settings)]


_USER_MARK = "\ue000"  # stands in for the chunk's text when cutting a rendered prompt at the user's message


def _result(
    chunk: Chunk,
    settings: CleanSettings,
    text: str,
    decision: str,
    answers: list[_Answer],
    attempts: list[dict],
    fallback_reason: str = "",
) -> ChunkResult:
    last = answers[-1].completion if answers else None
    return ChunkResult(
        index=chunk.index,
        first_page=chunk.first_page,
        last_page=chunk.last_page,
        source_sha256=text_sha256(chunk.text),
        source_tokens=chunk.tokens,
        text=text,
        finish_reason=last.finish_reason if last else "stop",
        prompt_tokens=sum(a.completion.prompt_tokens for a in answers),
        completion_tokens=sum(a.completion.completion_tokens for a in answers),
        seconds=round(sum(a.completion.seconds for a in answers), 3),
        acknowledgement_stripped=any(a.stripped for a in answers),
        mode=settings.mode,
        decision=decision,
        attempts=attempts,
        source_text=chunk.text,
        fallback_reason=fallback_reason,
    )


def prompt_overhead(model: Model) -> int:
    """Tokens the template and the longest system prompt add around a chunk."""
    return 4 + max(  # special tokens counted as text may tokenize a little differently
        _template_tokens(model, p) for p in (SYSTEM_PROMPT, STRICT_PROMPT, SELECT_PROMPT, STRICT_SELECT_PROMPT)
    )


def _template_tokens(model: Model, system_prompt: str) -> int:
    """Tokens of a prompt with this system prompt and no text from the PDF."""
    return model.count_tokens(_render(model, "", system_prompt))
