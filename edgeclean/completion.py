"""What a model is asked and what it answers: plain data shared by the model interface and the batch engine."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str  # "stop" (end-of-generation token) or "length" (hit max_tokens)
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    prompt_seconds: float = 0.0
    """Of ``seconds``, the time until the first answer token: reading the prompt."""


@dataclass(frozen=True)
class Ask:
    """One prompt to complete and how."""

    prompt: str
    max_tokens: int
    temperature: float = 0.0
    seed: int = 0
    only: str | None = None
    """The answer can hold no other characters than these (None: any)."""
