"""Cleaning K chunks at once: scheduling, retries, checkpoint and CLI, with stand-ins and with the real model."""

import random
from collections import deque

import pytest

from edgeclean.api import CleaningRun
from edgeclean.errors import CheckpointMismatch, SettingsError
from edgeclean.settings import CleanSettings
from edgeclean.stages.model_pass import SELECT_MAX_NUMBERS, cleaning_steps, pass_chunks, prompt_prefixes

from .conftest import PAPER, RecordingModel, run_cli

SMALL = CleanSettings(chunk_tokens=80, mode="rewrite")


class ShufflingModel(RecordingModel):
    """Holds up to ``parallel`` asks and answers them in a random order, as a batch of uneven answers would."""

    def __init__(self, answer=None, seed=0):
        super().__init__(answer)
        self.rng = random.Random(seed)
        self.most_in_flight = 0

    def complete_many(self, asks: deque, *, parallel, prefixes=()):
        self.parallel, self.prefixes = parallel, list(prefixes)
        in_flight = []
        while asks or in_flight:
            while asks and len(in_flight) < parallel:
                in_flight.append(asks.popleft())
            self.most_in_flight = max(self.most_in_flight, len(in_flight))
            key, ask = in_flight.pop(self.rng.randrange(len(in_flight)))
            yield key, self.complete(ask.prompt, ask.max_tokens, ask.temperature, ask.seed, ask.only)


def _chunks(model, settings=SMALL):
    run = CleaningRun(PAPER, model, settings, output="scratch.txt")
    run.close()
    return run.chunks


def test_out_of_order_answers_reach_their_own_chunks():
    model = ShufflingModel(seed=3)
    chunks = _chunks(model)
    results = list(pass_chunks(model, chunks, SMALL, parallel=4))
    assert model.most_in_flight == 4 and model.parallel == 4
    assert [r.index for r in results] != sorted(r.index for r in results), "the stand-in should reorder"
    assert sorted(r.index for r in results) == [c.index for c in chunks]
    assert all(r.text == chunks[r.index].text and r.decision == "model" for r in results)


def test_a_retry_is_asked_next_and_lands_on_its_chunk():
    """Chunks whose first answer fails the guard are retried with the strict prompt, in whatever order."""
    failing = {1, 4}
    model = ShufflingModel(answer=lambda text: text, seed=5)
    chunks = _chunks(model)
    bad = {chunks[i].text for i in failing}
    model.answer = lambda text: "A summary of it." if text in bad else text
    results = {r.index: r for r in pass_chunks(model, chunks, SMALL, parallel=3)}
    assert {i for i, r in results.items() if r.decision == "fallback"} == failing
    assert all(len(results[i].attempts) == 2 for i in failing)
    assert all(r.decision == "model" for i, r in results.items() if i not in failing)
    assert len(model.prompts) == len(chunks) + len(failing)
    assert sum("Copy the text you are given exactly" in p for p in model.prompts) == len(failing)


def test_select_answers_are_short():
    model = RecordingModel()
    chunks = _chunks(model)
    list(pass_chunks(model, chunks, CleanSettings(chunk_tokens=80), parallel=2))
    assert all(m <= 4 * SELECT_MAX_NUMBERS + 4 for m in model.max_tokens)


@pytest.mark.model
@pytest.mark.parametrize("mode", ["rewrite", "select"])
def test_the_context_fits_the_longest_prompt_its_answer_and_a_stricter_retry(tiny_model, mode):
    """The model sizes its context from the asks and the prefixes they may start with: a retry's stricter
    system prompt must still fit beside the longest chunk."""
    settings = CleanSettings(chunk_tokens=80, mode=mode)
    chunks = _chunks(tiny_model, settings)
    asks = deque()
    for chunk in chunks:
        try:
            asks.append((chunk.index, next(cleaning_steps(tiny_model, chunk, settings))))
        except StopIteration:  # a select chunk of prose only: nothing to ask
            assert mode == "select"
    assert asks
    prefixes = prompt_prefixes(tiny_model, settings)
    context = tiny_model.context_needed(asks, prefixes)
    longest = max(tiny_model.count_tokens(ask.prompt) + ask.max_tokens for _, ask in asks)
    normal, strict = (tiny_model.count_tokens(prefix) for prefix in prefixes)
    assert longest + max(0, strict - normal) <= context <= tiny_model.n_ctx
    if mode == "select":
        assert strict > normal
        assert context < tiny_model.n_ctx / 2, "select answers are short, so their slots need far less room"


def test_results_are_recorded_as_they_finish_and_the_output_is_in_order():
    model = ShufflingModel(seed=11)
    run = CleaningRun(PAPER, model, CleanSettings(parallel=4, mode="rewrite"))
    finished = [result.index for result in run.results()]
    run.finish()
    assert finished != sorted(finished)
    assert run.output.read_text() == "\n\n".join(chunk.text for chunk in run.chunks) + "\n"


def test_parallel_is_part_of_the_checkpoint_fingerprint(recording_model):
    run = CleaningRun(PAPER, recording_model, CleanSettings(parallel=2), output="o")
    assert run.checkpoint.fingerprint["parallel"] == 2
    next(run.results())
    run.close()
    with pytest.raises(CheckpointMismatch, match="different --parallel"):
        CleaningRun(PAPER, recording_model, CleanSettings(parallel=3), output="o")
    defaults = {"rewrite": (8, "the default on a CPU"), "select": (1, "the default for --mode select on a CPU")}
    for mode, chosen in defaults.items():
        default = CleaningRun(PAPER, recording_model, CleanSettings(mode=mode), output=f"d-{mode}")
        assert (default.plan.parallel, default.plan.parallel_why) == chosen
        default.close()


def test_parallel_out_of_range_is_refused():
    with pytest.raises(SettingsError, match="--parallel 0: use 1 to 64"):
        CleanSettings(parallel=0)
    result = run_cli("clean", "x.pdf", "--parallel", "0")
    assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.mark.model
def test_a_real_run_at_any_parallel_writes_the_same_text(tiny_model_path, tmp_path):
    """Batching must not change the cleaned text, so a resumed run can mix answers decoded beside others."""
    pdf = str(PAPER)
    model = str(tiny_model_path)
    common = ["clean", pdf, "--model", model, "--mode", "rewrite", "--chunk-tokens", "60", "--max-chars", "2400"]
    for parallel, said in (("1", "1 chunk at once"), ("5", "5 chunks at once")):
        result = run_cli(*common, "--parallel", parallel, "-o", f"k{parallel}.txt")
        assert result.returncode == 0, result.stderr
        assert f"{said} (--parallel)" in result.stderr
    assert (tmp_path / "k1.txt").read_text() == (tmp_path / "k5.txt").read_text()
