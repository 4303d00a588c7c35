"""The batched low-level engine with the real tiny model: the high-level API's answers, whatever the batch."""

from collections import deque

import pytest

from edgeclean.model.protocol import Ask
from edgeclean.settings import CleanSettings
from edgeclean.stages.model_pass import SELECT_ANSWER, prompt_prefixes, rewrite_prompt

pytestmark = pytest.mark.model

LIMIT = 64


@pytest.fixture(scope="module")
def prefix(tiny_model):
    return prompt_prefixes(tiny_model, CleanSettings(mode="rewrite"))[0]


@pytest.fixture(scope="module")
def high_level(tiny_model_path):
    """llama-cpp-python's own high-level API on the same file: what 'the model's answer' means."""
    import llama_cpp

    llama = llama_cpp.Llama(model_path=str(tiny_model_path), n_ctx=2048, n_threads=2, verbose=False)
    yield llama
    llama.close()


def _high_level_answer(llama, prompt, limit, logits_processor=None):
    tokens = llama.tokenize(prompt.encode(), add_bos=False, special=True)
    llama.reset()
    answer = llama.create_completion(
        tokens, max_tokens=limit, temperature=0, top_k=0, top_p=1, min_p=0, repeat_penalty=1,
        logits_processor=logits_processor,
    )  # fmt: skip
    return answer["choices"][0]["text"], answer["choices"][0]["finish_reason"]


def _many(model, asks, parallel, prefix=None):
    queue = deque(enumerate(asks))
    return dict(model.complete_many(queue, parallel=parallel, prefixes=[prefix] if prefix else []))


def test_one_at_a_time_equals_the_high_level_api(tiny_model, high_level, prompts, prefix):
    got = _many(tiny_model, [Ask(p, LIMIT) for p in prompts[:2]], 1, prefix)
    for i, prompt in enumerate(prompts[:2]):
        assert (got[i].text, got[i].finish_reason) == _high_level_answer(high_level, prompt, LIMIT)
        assert got[i].completion_tokens == LIMIT
        assert got[i].prompt_tokens == len(high_level.tokenize(prompt.encode(), add_bos=False, special=True))


def test_an_answer_does_not_depend_on_its_batch(tiny_model, prompts, prefix):
    """Resume relies on this: a chunk's answer must not change with what else was decoding beside it."""
    asks = [Ask(p, LIMIT) for p in prompts]
    alone = _many(tiny_model, asks, 1)
    four = _many(tiny_model, asks, 4, prefix)
    three_reversed = _many(tiny_model, asks[::-1], 3, prefix)
    assert [four[i].text for i in range(6)] == [alone[i].text for i in range(6)]
    assert [three_reversed[5 - i].text for i in range(6)] == [alone[i].text for i in range(6)]
    assert len({alone[i].text for i in range(6)}) == 6


def test_a_mask_allows_only_its_characters_as_the_high_level_mask_does(tiny_model, high_level, prompts):
    import numpy as np

    got = _many(tiny_model, [Ask(p, 24, only=SELECT_ANSWER) for p in prompts[:3]], 3)
    mask = tiny_model._allowed(SELECT_ANSWER)
    processor = [lambda ids, logits: np.where(mask, logits, -np.inf)]
    for i in range(3):
        assert set(got[i].text) <= set(SELECT_ANSWER)
        assert (got[i].text, got[i].finish_reason) == _high_level_answer(high_level, prompts[i], 24, processor)
    unmasked = _many(tiny_model, [Ask(prompts[0], 24)], 1)[0].text
    assert not set(unmasked) <= set(SELECT_ANSWER)  # without the mask the model writes words


def test_each_sequence_keeps_its_own_limit_and_finish_reason(tiny_model, high_level, prompts, prefix):
    # An answer that ends on its own well inside 200 tokens. "Hello." did with an earlier build; with the AVX2 build
    # made here its greedy answer runs to the limit (llama-cpp-python's own create_completion too).
    stop_prompt = rewrite_prompt(tiny_model, "Thank you.")
    expected_stop = _high_level_answer(high_level, stop_prompt, 200)
    limits = [5, 17, 200, 40]
    asks = [Ask(prompts[0], 5), Ask(prompts[1], 17), Ask(stop_prompt, 200), Ask(prompts[2], 40)]
    got = _many(tiny_model, asks, 4, prefix)
    for i in (0, 1, 3):
        assert (got[i].finish_reason, got[i].completion_tokens) == ("length", limits[i])
    assert expected_stop[1] == "stop"
    assert (got[2].text, got[2].finish_reason) == expected_stop


def test_follow_up_asks_join_while_others_decode(tiny_model, prompts):
    """Continuous batching: an ask queued after an answer arrives takes the freed slot, and answers the same."""
    queue = deque([(0, Ask(prompts[0], 8)), (1, Ask(prompts[1], LIMIT))])
    order = []
    for key, completion in tiny_model.complete_many(queue, parallel=2):
        order.append(key)
        if key == 0:
            queue.append((2, Ask(prompts[2], 8)))
        if key == 2:
            late = completion
    assert order == [0, 2, 1]  # 2 started after 0 finished and finished before the long answer 1
    assert late.text == _many(tiny_model, [Ask(prompts[2], 8)], 1)[0].text


def test_sampling_is_seeded_per_answer(tiny_model, prompts):
    asks = [Ask(prompts[0], 24, temperature=0.8, seed=s) for s in (1, 1, 2)]
    alone = [_many(tiny_model, [ask], 1)[0].text for ask in asks]
    together = _many(tiny_model, asks, 3)
    assert alone[0] == alone[1] != alone[2]
    assert [together[i].text for i in range(3)] == alone


def test_a_prompt_longer_than_the_context_is_answered_as_failed(tiny_model, prompts):
    """The engine does not raise out of the whole batch: the ask fails alone (its chunk falls back)."""
    ((_, completion),) = tiny_model.complete_many(deque([(0, Ask(prompts[0] * 20, 8))]), parallel=1)
    assert completion.failed and "does not fit" in completion.error and completion.text == ""
