"""One chunk's model pass may fail in any way; that chunk keeps its rule-cleaned text and the document completes."""

from collections import deque

import pytest

from edgeclean.errors import ModelError
from edgeclean.model.protocol import Ask
from edgeclean.results import describe_fallbacks
from edgeclean.settings import CleanSettings
from edgeclean.stages import model_pass as clean_module
from edgeclean.stages.chunk import Chunk
from edgeclean.stages.model_pass import pass_chunks, rewrite_prompt

from .conftest import RecordingModel

# Each ends in figure debris, so --mode select has a sentence to ask the model about (prose alone is not asked).
TEXTS = [
    "The first chunk is ordinary prose about distillation.\n\n① ② ③",
    "The second chunk is the one whose prompt will not fit.\n\n① ② ③",
    "The third chunk is ordinary prose again, and it is fine.\n\n① ② ③",
]


def _chunks() -> list[Chunk]:
    return [Chunk(i, text, i + 1, i + 1, len(text.split())) for i, text in enumerate(TEXTS)]


class FailingModel(RecordingModel):
    """Raises the engine's own error for prompts holding ``poison``, as a prompt that outgrows the context does."""

    def __init__(self, poison: str, error: str = "a prompt of 3471 tokens does not fit 2048 tokens"):
        super().__init__()
        self.poison, self.error = poison, error

    def complete(self, prompt, max_tokens, temperature, seed, only=None):
        if self.poison in prompt:
            raise ModelError(self.error)
        return super().complete(prompt, max_tokens, temperature, seed, only)


@pytest.mark.parametrize("mode", ["select", "rewrite"])
def test_a_prompt_that_does_not_fit_costs_only_its_chunk(mode):
    model = FailingModel("will not fit")
    results = {r.index: r for r in pass_chunks(model, _chunks(), CleanSettings(mode=mode), parallel=2)}
    assert sorted(results) == [0, 1, 2]
    assert results[1].decision == "fallback" and results[1].text == TEXTS[1]
    assert results[1].fallback_reason == "prompt too long"
    assert results[1].finish_reason == "error" and results[1].attempts[0]["error"].startswith("a prompt of 3471")
    assert {results[0].decision, results[2].decision} == {"model"}
    assert describe_fallbacks(list(results.values())) == "chunk 2 (prompt too long)"


def test_a_decode_error_is_named_as_a_model_error():
    model = FailingModel("will not fit", error="llama_decode failed with status -3 on a batch of 9 tokens")
    (result,) = [r for r in pass_chunks(model, _chunks(), CleanSettings(mode="rewrite")) if r.index == 1]
    assert result.fallback_reason.startswith("model error: llama_decode failed")


def test_an_answer_that_cannot_be_read_costs_only_its_chunk(monkeypatch):
    real_parse = clean_module.parse_selection

    def parse(answer):
        if parse.calls == 1:  # the second chunk's answer
            parse.calls += 1
            raise ValueError("unreadable answer")
        parse.calls += 1
        return real_parse(answer)

    parse.calls = 0
    monkeypatch.setattr(clean_module, "parse_selection", parse)
    results = {r.index: r for r in pass_chunks(RecordingModel(), _chunks(), CleanSettings(mode="select"))}
    assert sorted(results) == [0, 1, 2]
    assert results[1].decision == "fallback" and results[1].text == TEXTS[1]
    assert results[1].fallback_reason == "error: ValueError: unreadable answer"
    assert results[0].decision == results[2].decision == "model"


def test_guard_failures_name_the_checks_that_failed():
    model = RecordingModel(answer=lambda text: "A summary.")
    results = list(pass_chunks(model, _chunks()[:1], CleanSettings(mode="rewrite")))
    assert results[0].fallback_reason.startswith("guard: ") and "summarised" in results[0].fallback_reason


@pytest.mark.model
def test_the_real_engine_fails_one_ask_and_answers_the_next(tiny_model):
    """A prompt longer than the engine's context is answered as failed; the asks around it still decode.

    The prompt outgrows the model's whole context, so no engine cached by an earlier test can hold it either.
    """
    short = rewrite_prompt(tiny_model, "A short sentence to copy.")
    too_long = rewrite_prompt(tiny_model, "word " * 2500)
    assert tiny_model.count_tokens(too_long) > tiny_model.n_ctx
    asks = deque([(0, Ask(short, 16)), (1, Ask(too_long, 16)), (2, Ask(short, 16))])
    answers = dict(tiny_model.complete_many(asks, parallel=2))
    assert answers[1].failed and "does not fit" in answers[1].error
    assert not answers[0].failed and not answers[2].failed
    assert answers[0].completion_tokens > 0 and answers[0].text == answers[2].text
    with pytest.raises(ModelError, match="does not fit"):  # one call, one answer: its failure is raised
        tiny_model.complete(too_long, 16, 0.0, 0)
