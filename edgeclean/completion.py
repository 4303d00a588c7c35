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
