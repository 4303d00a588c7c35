"""The run's logic around the model, with a recording stand-in; the real model is in test_cli.py."""

import json
import math

import pytest

from edgeclean.api import CleaningRun, clean_pdf
from edgeclean.errors import CheckpointMismatch, InputError, OutputError, SettingsError
from edgeclean.settings import CleanSettings
from edgeclean.stages.model_pass import REWRITE_TOKEN_RATIO

from .conftest import FIXTURES, NOTES, PAPER, RecordingModel

SMALL = CleanSettings(chunk_tokens=200, mode="rewrite")  # the echoing stand-in answers as a rewrite


def test_output_is_every_chunks_answer_in_order(recording_model):
    run = clean_pdf(PAPER, "out.txt", model=recording_model, settings=SMALL)
    text = run.output.read_text()
    assert len(run.chunks) > 3
    assert text == "\n\n".join(chunk.text for chunk in run.chunks) + "\n"
    assert not recording_model.closed, "a model passed in belongs to the caller"


def test_answer_limit_is_bounded_by_the_chunk(recording_model):
    run = clean_pdf(PAPER, "out.txt", model=recording_model, settings=SMALL)
    guard_cap = [math.ceil(REWRITE_TOKEN_RATIO * c.tokens) + 16 for c in run.chunks]
    assert recording_model.max_tokens == [
        min(SMALL.max_answer_tokens(c.tokens), cap) for c, cap in zip(run.chunks, guard_cap, strict=True)
    ]
    assert all(limit <= 1.5 * 200 + 64 for limit in recording_model.max_tokens)


def test_acknowledgement_is_stripped_and_recorded():
    model = RecordingModel(answer=lambda text: "Here is the cleaned text:\n" + text)
    run = clean_pdf(PAPER, "out.txt", model=model, settings=SMALL)
    assert "Here is the cleaned text" not in run.output.read_text()
    assert all(r.acknowledgement_stripped for r in run.checkpoint.ordered_results())


def test_each_chunk_is_in_the_checkpoint_before_the_next_starts(recording_model):
    run = CleaningRun(PAPER, recording_model, SMALL, output="out.txt")
    for done, result in enumerate(run.results(), start=1):
        lines = run.checkpoint_path.read_text().splitlines()
        assert len(lines) == 1 + done
        assert json.loads(lines[-1])["index"] == result.index
    assert not run.output.exists(), "the output appears only when every chunk is done"
    run.finish()
    assert run.output.exists()


def test_two_runs_never_append_to_one_checkpoint(recording_model):
    first = CleaningRun(PAPER, recording_model, SMALL, output="out.txt")
    with pytest.raises(OutputError, match="another edgeclean run is writing"):
        CleaningRun(PAPER, recording_model, SMALL, output="out.txt")
    first.close()
    CleaningRun(PAPER, recording_model, SMALL, output="out.txt").close()


def test_output_directory_must_exist(recording_model):
    with pytest.raises(OutputError, match="does not exist"):
        CleaningRun(PAPER, recording_model, SMALL, output="no/such/dir/out.txt")


def test_rerun_resumes_instead_of_redoing():
    first = RecordingModel()
    run = CleaningRun(PAPER, first, SMALL, output="out.txt")
    next(run.results())
    next(run.results())  # a fresh generator starts at the first missing chunk
    run.close()
    second = RecordingModel()
    resumed = CleaningRun(PAPER, second, SMALL, output="out.txt")
    assert resumed.done_at_start == 2
    list(resumed.results())
    assert len(second.prompts) == len(resumed.chunks) - 2
    resumed.finish()
    assert resumed.output.read_text() == "\n\n".join(c.text for c in resumed.chunks) + "\n"


def test_rerun_never_overwrites_an_output_without_its_checkpoint(recording_model, tmp_path):
    (tmp_path / "out.txt").write_text("precious")
    with pytest.raises(OutputError, match="already exists"):
        CleaningRun(PAPER, recording_model, SMALL, output="out.txt")
    assert (tmp_path / "out.txt").read_text() == "precious"
    CleaningRun(PAPER, recording_model, SMALL, output="out.txt", restart=True).close()


def test_other_settings_do_not_mix_with_a_checkpoint(recording_model):
    run = CleaningRun(PAPER, recording_model, SMALL, output="out.txt")
    next(run.results())
    run.close()
    with pytest.raises(CheckpointMismatch, match="different --chunk-tokens"):
        CleaningRun(
            PAPER,
            recording_model,
            CleanSettings(chunk_tokens=150, mode="rewrite"),
            output="out.txt",
        )
    with pytest.raises(CheckpointMismatch, match="different PDF;"):
        CleaningRun(NOTES, recording_model, SMALL, output="out.txt")


def test_chunk_too_big_for_the_context_is_refused(recording_model):
    with pytest.raises(SettingsError, match="does not fit a 2048-token context"):
        CleaningRun(PAPER, recording_model, CleanSettings(chunk_tokens=1500))


def test_default_chunk_fills_the_context(recording_model):
    run = CleaningRun(PAPER, recording_model, CleanSettings(), output="out.txt")
    run.close()
    overhead = run.chunk_tokens * 2.5 + 64
    assert 2048 - 200 < overhead <= 2048


def test_pages_without_text_are_an_error(recording_model):
    for name in ("image-only.pdf", "empty-page.pdf"):
        with pytest.raises(InputError, match="looks scanned"):
            CleaningRun(FIXTURES / name, recording_model, SMALL)


def test_torn_last_record_is_redone():
    model = RecordingModel()
    run = CleaningRun(PAPER, model, SMALL, output="out.txt")
    list(run.results())
    run.close()
    data = run.checkpoint_path.read_bytes()
    run.checkpoint_path.write_bytes(data[:-25])  # power cut in the middle of the last append
    again = RecordingModel()
    resumed = CleaningRun(PAPER, again, SMALL, output="out.txt")
    assert resumed.done_at_start == len(run.chunks) - 1
    list(resumed.results())
    assert len(again.prompts) == 1
    resumed.finish()
    assert resumed.output.read_text() == "\n\n".join(c.text for c in resumed.chunks) + "\n"


def test_rules_mode_runs_without_a_model():
    run = clean_pdf(PAPER, "out.txt", settings=CleanSettings(mode="rules"))
    assert run.model is None
    assert {r.decision for r in run.checkpoint.ordered_results()} == {"rules"}
    assert run.output.read_text() == "\n\n".join(chunk.text for chunk in run.chunks) + "\n"


def test_mode_is_part_of_the_checkpoint_fingerprint(recording_model):
    run = CleaningRun(PAPER, None, CleanSettings(mode="rules"), output="out.txt")
    next(run.results())
    run.close()
    with pytest.raises(CheckpointMismatch, match="different .*--mode"):
        CleaningRun(PAPER, recording_model, CleanSettings(mode="select"), output="out.txt")


def test_unknown_mode_is_a_settings_error():
    with pytest.raises(SettingsError, match="--mode 'paraphrase'"):
        CleanSettings(mode="paraphrase")
