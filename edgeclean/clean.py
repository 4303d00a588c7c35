"""Stage 3b: one chunk through the model, answer tidied and its finish recorded."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence

from .backend import Completion, Model
from .checkpoint import ChunkResult
from .chunk import Chunk
from .prompt import render_chat, strip_acknowledgement
from .settings import CleanSettings

log = logging.getLogger("edgeclean.clean")


# Stands in for the chunk text when cutting the rendered prompt at the start of the user's message.
_USER_MARK = "\ue000"


def clean_chunk(model: Model, chunk: Chunk, settings: CleanSettings) -> ChunkResult:
    completion = model.complete(
        _prompt(model, chunk),
        max_tokens=settings.max_answer_tokens(chunk.tokens),
        temperature=settings.temperature,
        seed=settings.seed,
    )
    return _result(chunk, completion)


def clean_chunks_batched(
    model: Model, chunks: Sequence[Chunk], settings: CleanSettings, done: set[int]
) -> Iterator[ChunkResult]:
    """Clean the chunks not in ``done``, ``settings.parallel`` at a time, yielding each as it finishes.

    Chunks run in fixed groups by index (0..K-1, K..2K-1, ...), the same groups in every run, so a chunk's
    answer never depends on when a run was interrupted: a resumed run re-runs the whole group that was cut
    short and keeps only the answers still missing.
    """
    size = settings.parallel or 1
    prefix = _prompt_text(model, _USER_MARK).split(_USER_MARK)[0]
    for start in range(0, len(chunks), size):
        group = chunks[start : start + size]
        if all(chunk.index in done for chunk in group):
            continue
        prompts = [(_prompt(model, chunk), settings.max_answer_tokens(chunk.tokens)) for chunk in group]
        for i, completion in model.complete_many(prompts, parallel=size, prefix=prefix):
            if group[i].index not in done:
                yield _result(group[i], completion)


def _prompt(model: Model, chunk: Chunk) -> str:
    return _prompt_text(model, chunk.text)


def _prompt_text(model: Model, user_text: str) -> str:
    return render_chat(model.chat_template, user_text, bos_token=model.bos_token, eos_token=model.eos_token)


def _result(chunk: Chunk, completion: Completion) -> ChunkResult:
    text, stripped = strip_acknowledgement(completion.text, chunk.text)
    if completion.finish_reason == "length":
        log.info(
            "chunk %d (pages %s): the answer hit its limit of %d tokens and may be cut off",
            chunk.index + 1,
            chunk.pages,
            completion.completion_tokens,
        )
    return ChunkResult(
        index=chunk.index,
        first_page=chunk.first_page,
        last_page=chunk.last_page,
        source_sha256=text_sha256(chunk.text),
        source_tokens=chunk.tokens,
        text=text,
        finish_reason=completion.finish_reason,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        seconds=round(completion.seconds, 3),
        acknowledgement_stripped=stripped,
        source_text=chunk.text,
    )


def prompt_overhead(model: Model) -> int:
    """Tokens the template and system prompt add around a chunk."""
    empty = render_chat(model.chat_template, "", bos_token=model.bos_token, eos_token=model.eos_token)
    return model.count_tokens(empty) + 4  # special tokens counted as text may tokenize a little differently


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
