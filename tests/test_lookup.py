"""Copy-aware (prompt-lookup) drafts: where they come from, and what they do to answers with the real tiny model."""

from collections import deque

import pytest

from edgeclean.model.llama.adapter import LlamaCppModel
from edgeclean.model.llama.lookup import Lookup
from edgeclean.model.protocol import Ask
from edgeclean.settings import CleanSettings
from edgeclean.stages.model_pass import SELECT_ANSWER, prompt_prefixes

LIMIT = 96


def test_a_draft_follows_the_longest_latest_match():
    lookup = Lookup([1, 2, 3, 4, 5, 9, 3, 4, 7, 8])
    for token in (2, 3, 4):
        lookup.append(token)
    assert lookup.draft(3) == [5, 9, 3]  # "2 3 4" matched at 1..3, not the later, shorter "3 4" at 6..7
    lookup.append(6)
    assert lookup.draft(3) == []  # "4 6" and "3 4 6" never occurred; one token alone does not draft
    lookup.append(3)
    lookup.append(4)
    assert lookup.draft(2) == [6, 3]  # "6 3 4" is new; of the three "3 4" the latest, at 11..12, was followed by 6
    assert lookup.draft(0) == []


@pytest.fixture(scope="module")
def drafting(tiny_model_path):
    model = LlamaCppModel(tiny_model_path, n_ctx=2048, n_gpu_layers=0, threads=2, draft=8)
    yield model
    model.close()


def _answers(model, asks, parallel):
    prefixes = prompt_prefixes(model, CleanSettings(mode="rewrite"))
    got = dict(model.complete_many(deque(enumerate(asks)), parallel=parallel, prefixes=prefixes))
    return [got[i] for i in range(len(asks))]


@pytest.mark.model
def test_drafts_copy_the_chunk_and_most_are_kept(drafting, prompts):
    before = drafting._engine.accepted if drafting._engine else 0
    answers = _answers(drafting, [Ask(p, LIMIT) for p in prompts[:3]], 3)
    engine = drafting._engine
    assert engine.drafts > 0 and engine.accepted - before > LIMIT // 2  # the answers copy their chunks
    assert engine.drafted % 8 == 0  # every drafting step decodes the same width
    assert all(a.completion_tokens <= LIMIT and a.text for a in answers)
    assert [a.finish_reason for a in answers].count("length") >= 1


@pytest.mark.model
def test_masked_and_sampled_answers_never_draft(drafting, tiny_model, prompts):
    engine = drafting._engine_for(2, 2048)
    drafted = engine.drafted
    masked = _answers(drafting, [Ask(prompts[0], 24, only=SELECT_ANSWER)], 1)
    sampled = _answers(drafting, [Ask(prompts[1], 24, temperature=0.8, seed=3)], 1)
    assert drafting._engine.drafted == drafted
    assert masked[0].text == _answers(tiny_model, [Ask(prompts[0], 24, only=SELECT_ANSWER)], 1)[0].text
    assert sampled[0].text == _answers(tiny_model, [Ask(prompts[1], 24, temperature=0.8, seed=3)], 1)[0].text


@pytest.mark.model
def test_drafted_answers_do_not_depend_on_the_batch_nor_on_a_resume(drafting, prompts):
    """Resume relies on this: with --draft, a chunk's answer is the same alone, beside seven others, or resumed."""
    asks = [Ask(p, LIMIT) for p in prompts] + [Ask(p, LIMIT // 2) for p in prompts[:2]]
    alone = [a.text for a in _answers(drafting, asks, 1)]
    eight = [a.text for a in _answers(drafting, asks, 8)]
    resumed = [a.text for a in _answers(drafting, asks[3:], 3)]  # the chunks a checkpoint had not saved yet
    assert eight == alone
    assert resumed == alone[3:]
    assert len(set(alone[:6])) == 6


@pytest.mark.model
@pytest.mark.parametrize("parallel", [1, 8])
@pytest.mark.xfail(
    strict=True,
    reason="measured: a row decoded alone in its KV stream (a plain step) rounds differently from one decoded "
    "with other rows of its sequence (a draft being checked), logits off by up to ~1 on this model, so some "
    "greedy answers change; this is why --draft is off by default. If this passes, drafts have become exact.",
)
def test_drafted_answers_equal_plain_answers_byte_for_byte(drafting, tiny_model, prompts, parallel):
    asks = [Ask(p, LIMIT) for p in prompts]
    plain = _answers(tiny_model, asks, parallel)
    drafted = _answers(drafting, asks, parallel)
    assert [a.text for a in drafted] == [a.text for a in plain]
