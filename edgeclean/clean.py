"""Stage 3b: one chunk through the model, answer tidied and its finish recorded."""

from __future__ import annotations

import hashlib
import logging

from .backend import Model
from .checkpoint import ChunkResult
from .chunk import Chunk
from .prompt import render_chat, strip_acknowledgement
from .settings import CleanSettings

log = logging.getLogger("edgeclean.clean")


def clean_chunk(model: Model, chunk: Chunk, settings: CleanSettings) -> ChunkResult:
    prompt = render_chat(model.chat_template, chunk.text, bos_token=model.bos_token, eos_token=model.eos_token)
    completion = model.complete(
        prompt,
        max_tokens=settings.max_answer_tokens(chunk.tokens),
        temperature=settings.temperature,
        seed=settings.seed,
    )
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
