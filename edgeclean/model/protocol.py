"""The model behind a narrow interface: what the pipeline asks of any model, and the plain data it trades.

The pipeline counts tokens, renders prompts with the model's chat template (``chat_template``, ``bos_token``,
``eos_token``) and completes many asks at once; llama.cpp (``model/llama``) is one implementation, the tests'
recording model another.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import ModelError

# Tokenizing a chunk inside the template can merge or split a few tokens at the seams.
CONTEXT_SLACK = 8


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str  # "stop" (end-of-generation token) or "length" (hit max_tokens)
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    prompt_seconds: float = 0.0
    """Of ``seconds``, the time until the first answer token: reading the prompt."""
    error: str = ""
    """Why this ask got no answer (its prompt did not fit, a decode failed); finish_reason is then "error"."""

    @property
    def failed(self) -> bool:
        return self.finish_reason == "error"


def failed_completion(error: str, prompt_tokens: int = 0) -> Completion:
    """The answer an ask gets when the model could not run it: the chunk falls back, the run goes on."""
    return Completion("", "error", prompt_tokens, 0, 0.0, error=error)


@dataclass(frozen=True)
class Ask:
    """One prompt to complete and how."""

    prompt: str
    max_tokens: int
    temperature: float = 0.0
    seed: int = 0
    only: str | None = None
    """The answer can hold no other characters than these (None: any)."""


class Model(Protocol):
    """What the pipeline needs from a model; tests may pass a recording fake."""

    name: str
    n_ctx: int
    device: str  # what actually runs the layers: "CPU", "CUDA", "Metal", ...
    chat_template: str | None
    bos_token: str
    eos_token: str

    def count_tokens(self, text: str) -> int: ...

    def complete(
        self, prompt: str, max_tokens: int, temperature: float, seed: int, only: str | None = None
    ) -> Completion:
        """Continue ``prompt``; with ``only``, the answer can hold no other characters than these."""
        ...

    def complete_many(
        self, asks: deque[tuple[Hashable, Ask]], *, parallel: int, prefixes: Sequence[str] = ()
    ) -> Iterator[tuple[Hashable, Completion]]:
        """Answer ``(key, ask)`` pairs popped from the left of ``asks``, up to ``parallel`` at a time.

        No more decode at once than ``asks`` holds when the answers start: a follow-up waits for a free slot.

        Yields ``(key, completion)`` as each finishes; an ask the model cannot run gets a failed completion.
        ``asks`` is read again whenever a slot frees, so the caller may add follow-ups between answers.
        ``prefixes`` are the texts every prompt, follow-ups included, starts with (template and system prompt):
        the model may evaluate them once, and sizes its context for the longest.
        """
        ...

    def close(self) -> None: ...


def complete_in_turn(model: Model, asks: deque[tuple[Hashable, Ask]]) -> Iterator[tuple[Hashable, Completion]]:
    """``complete_many`` one ask at a time, for models with no batching of their own."""
    while asks:
        key, ask = asks.popleft()
        try:
            yield key, model.complete(ask.prompt, ask.max_tokens, ask.temperature, ask.seed, ask.only)
        except ModelError as error:  # as in the batch engine: this ask fails, the others still run
            yield key, failed_completion(str(error))
