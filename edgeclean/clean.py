"""Stage 3b: one rule-cleaned chunk through the model, in the chosen mode, every answer held to the guard.

An answer that fails the guard is asked for once more with a stricter prompt; if that fails too, the chunk
keeps its rule-cleaned text. The decision and each answer's scores go into the chunk's result.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass

from .backend import Model
from .checkpoint import ChunkResult
from .chunk import Chunk
from .completion import Ask, Completion
from .guard import STOP_WORDS, GuardLimits, check, words
from .prompt import (
    SELECT_PROMPT,
    STRICT_PROMPT,
    STRICT_SELECT_PROMPT,
    SYSTEM_PROMPT,
    render_chat,
    strip_acknowledgement,
)
from .settings import CONTEXT_SLACK, CleanSettings

log = logging.getLogger("edgeclean.clean")

SELECT_ANSWER = "0123456789, "  # the only characters a --mode select answer can hold: no word can be written
SELECT_MAX_NUMBERS = 12  # an answer names at most about this many sentences, so it stays a few dozen tokens
_NUMBERED_HEADING = re.compile(r"\d{1,2}(?:\.\d{1,2}){0,3}\.?\s+[^\W\d_][^\W\d_]")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?。！？])\s+(?=\S)")


# In --mode select a sentence counts as prose, and is never dropped whatever the model says, when it is a
# numbered heading ("4.1 Context Following"), or has at least PROSE_MIN_WORDS words and either ends like a
# sentence or PROSE_STOP_SHARE of them are stop words.
PROSE_MIN_WORDS = 6
PROSE_STOP_SHARE = 0.2
# A rewrite longer than this many times its chunk's tokens fails the guard's length check anyway.
REWRITE_TOKEN_RATIO = 1.25
# Dropped sentences are vetted as non-prose, so select may lose more of a chunk's words than a rewrite may:
# a reference list or a figure's debris can be most of a chunk.
SELECT_LIMITS = GuardLimits(min_recall=0.6, length_ratio=(0.3, 1.0))


@dataclass
class _Answer:
    text: str
    completion: Completion
    stripped: bool = False
    vetoed: int = 0  # sentences the model chose to drop that read as prose, so were kept


# One chunk's exchange with the model: yields each Ask, is sent back its Completion, returns the ChunkResult.
Steps = Generator[Ask, Completion, ChunkResult]
Asking = Generator[Ask, Completion, _Answer]  # one answer, asked for and read


def clean_chunk(
    model: Model | None, chunk: Chunk, settings: CleanSettings, limits: GuardLimits | None = None
) -> ChunkResult:
    """Clean one chunk: by rules alone, or by guarded model answers falling back to the rules' text."""
    return next(clean_chunks(model, [chunk], settings, parallel=1, limits=limits))


def clean_chunks(
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
    in_flight: dict[int, Steps] = {}
    asks: deque[tuple[int, Ask]] = deque()
    for chunk in chunks:
        steps = cleaning_steps(model, chunk, settings, limits)
        try:
            asks.append((chunk.index, next(steps)))
        except StopIteration as done:  # rule-cleaned: no model needed
            yield done.value
            continue
        in_flight[chunk.index] = steps
    if not asks:
        return
    context, prefixes = context_needed(model, settings, asks), prompt_prefixes(model, settings)
    answers = model.complete_many(asks, parallel=parallel, context=context, prefixes=prefixes)
    for index, completion in answers:
        try:
            asks.appendleft((index, in_flight[index].send(completion)))
        except StopIteration as done:
            del in_flight[index]
            yield done.value


def cleaning_steps(
    model: Model | None, chunk: Chunk, settings: CleanSettings, limits: GuardLimits | None = None
) -> Steps:
    if settings.mode == "rules" or model is None:
        return _result(chunk, settings, chunk.text, "rules", [], [])
    ask = _ask_select if settings.mode == "select" else _ask_rewrite
    limits = limits or (SELECT_LIMITS if settings.mode == "select" else GuardLimits())
    answers, attempts = [], []
    for strict in (False, True):
        answer = yield from ask(model, chunk, settings, strict)
        verdict = check(chunk.text, answer.text, limits)
        answers.append(answer)
        attempts.append(
            {"passed": verdict.passed, "reasons": list(verdict.reasons), "vetoed": answer.vetoed}
            | verdict.fidelity.rounded()
        )
        if verdict.passed:
            return _result(chunk, settings, answer.text, "retry" if strict else "model", answers, attempts)
    log.info(
        "chunk %d (pages %s): answers failed the guard (%s); keeping the rule-cleaned text",
        chunk.index + 1,
        chunk.pages,
        ", ".join(dict.fromkeys(r for a in attempts for r in a["reasons"])),
    )
    return _result(chunk, settings, chunk.text, "fallback", answers, attempts)


def _ask_rewrite(model: Model, chunk: Chunk, settings: CleanSettings, strict: bool) -> Asking:
    prompt = _render(model, chunk.text, STRICT_PROMPT if strict else SYSTEM_PROMPT)
    completion = yield Ask(prompt, rewrite_answer_limit(settings, chunk.tokens), settings.temperature, settings.seed)
    if completion.finish_reason == "length":
        log.info("chunk %d (pages %s): the answer hit its token limit and may be cut off", chunk.index + 1, chunk.pages)
    text, stripped = strip_acknowledgement(completion.text, chunk.text)
    return _Answer(text, completion, stripped)


def _ask_select(model: Model, chunk: Chunk, settings: CleanSettings, strict: bool) -> Asking:
    paragraphs = split_sentences(chunk.text)
    numbered = "\n".join(f"{n}: {s}" for n, s in enumerate((s for p in paragraphs for s in p), start=1))
    completion = yield Ask(
        _render(model, numbered, STRICT_SELECT_PROMPT if strict else SELECT_PROMPT),
        max_tokens=4 * min(SELECT_MAX_NUMBERS, sum(len(p) for p in paragraphs)) + 4,
        temperature=settings.temperature,
        seed=settings.seed,
        only=SELECT_ANSWER,
    )
    chosen = parse_selection(completion.text)
    numbered_sentences = dict(enumerate((s for p in paragraphs for s in p), start=1))
    allowed = {n for n in chosen if n in numbered_sentences and not reads_as_prose(numbered_sentences[n])}
    vetoed = len({n for n in chosen if n in numbered_sentences} - allowed)
    return _Answer(drop_sentences(paragraphs, allowed), completion, vetoed=vetoed)


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


def context_needed(model: Model, settings: CleanSettings, asks: Iterable[tuple[int, Ask]]) -> int:
    """The most tokens a prompt and its answer take, retries' longer system prompt included.

    Select answers are a few dozen tokens, so a context sized to them needs far less memory than --ctx.
    """
    normal, strict = (_template_tokens(model, prompt) for prompt in _system_prompts(settings))
    longest = max(model.count_tokens(ask.prompt) + ask.max_tokens for _, ask in asks)
    return min(model.n_ctx, longest + max(0, strict - normal) + CONTEXT_SLACK)


_USER_MARK = "\ue000"  # stands in for the chunk's text when cutting a rendered prompt at the user's message


def reads_as_prose(sentence: str) -> bool:
    if _NUMBERED_HEADING.match(sentence):
        return True
    tokens = words(sentence)
    if len(tokens) < PROSE_MIN_WORDS:
        return False
    ends_a_sentence = sentence.rstrip("\"'”’)]").endswith((".", "!", "?", ":", "。", "！", "？"))
    return ends_a_sentence or sum(t in STOP_WORDS for t in tokens) >= PROSE_STOP_SHARE * len(tokens)


def split_sentences(text: str) -> list[list[str]]:
    """Paragraphs (blank-line separated) as lists of sentences; the units ``--mode select`` may drop."""
    return [_SENTENCE_SPLIT.split(p.strip()) for p in re.split(r"\n\s*\n", text) if p.strip()]


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
            kept.append(" ".join(remaining))
    return "\n\n".join(kept)


def _result(
    chunk: Chunk, settings: CleanSettings, text: str, decision: str, answers: list[_Answer], attempts: list[dict]
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
    )


def prompt_overhead(model: Model) -> int:
    """Tokens the template and the longest system prompt add around a chunk."""
    return 4 + max(  # special tokens counted as text may tokenize a little differently
        _template_tokens(model, p) for p in (SYSTEM_PROMPT, STRICT_PROMPT, SELECT_PROMPT, STRICT_SELECT_PROMPT)
    )


def _template_tokens(model: Model, system_prompt: str) -> int:
    """Tokens of a prompt with this system prompt and no text from the PDF."""
    return model.count_tokens(_render(model, "", system_prompt))


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
