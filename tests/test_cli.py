"""The real CLI in a child process, with the real tiny model through real llama.cpp, on generated and real PDFs."""

import json
import re

import pytest

from .conftest import FIXTURES, PAPER, ROOT, debris, run_cli, truth

pytestmark = pytest.mark.model


def checkpoint_records(path):
    """The header and the chunk records (not the output's sha256 record written after the output)."""
    lines = path.read_text().splitlines()
    return json.loads(lines[0]), [record for line in lines[1:] if "index" in (record := json.loads(line))]


def assert_one_clean_line_error(result, fragment):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_clean_multi_page_pdf(tiny_model_path, tmp_path):
    result = run_cli("clean", str(PAPER), "--model", str(tiny_model_path), "--chunk-tokens", "300")
    assert result.returncode == 0, result.stderr
    output = tmp_path / "paper.clean.txt"
    assert output.read_text().strip()
    header, records = checkpoint_records(tmp_path / "paper.clean.txt.ckpt")
    assert len(records) == header["chunks"] > 1, "one output part per chunk"
    assert sorted(r["index"] for r in records) == list(range(header["chunks"]))  # finished out of order
    assert all(r["text"].strip() for r in records)
    in_order = sorted(records, key=lambda r: r["index"])
    assert output.read_text() == "\n\n".join(r["text"] for r in in_order) + "\n"
    assert "on CPU" in result.stderr and "wrote paper.clean.txt" in result.stderr
    assert "1 chunk at once (the default for --mode select on a CPU)" in result.stderr


def test_clean_only_the_pages_asked_for(tiny_model_path, tmp_path):
    result = run_cli(
        "clean", str(PAPER), "--model", str(tiny_model_path), "--pages", "2-3", "--chunk-tokens", "400", "-o", "p.txt",
        "--keep", "references",  # page 3 holds little but the reference list, which a podcast run drops
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    header, records = checkpoint_records(tmp_path / "p.txt.ckpt")
    assert len(records) == header["chunks"] >= 3
    assert {r["first_page"] for r in records} <= {2, 3} and records[-1]["last_page"] == 3
    cleaned = (tmp_path / "p.txt").read_text()
    assert "Abstract" not in cleaned and "5 Limitations" in cleaned, "page 1 left out, page 2 in"


def test_clean_first_pages_of_the_kd_survey(corpus, tiny_model_path, tmp_path):
    result = run_cli(
        "clean",
        str(corpus / "kd-survey-2402.13116v4.pdf"),
        "--model",
        str(tiny_model_path),
        "--pages",
        "1-2",
        "--chunk-tokens",
        "400",
        "-o",
        "kd.txt",
    )
    assert result.returncode == 0, result.stderr
    header, records = checkpoint_records(tmp_path / "kd.txt.ckpt")
    assert len(records) == header["chunks"] >= 3
    assert {r["first_page"] for r in records} <= {1, 2} and records[-1]["last_page"] == 2
    assert (tmp_path / "kd.txt").stat().st_size > 1000


def test_answers_are_the_models_own_words_unsliced(tiny_model, tmp_path):
    """The notebook chopped ~100 characters off each answer; ours must be exactly what llama.cpp generated."""
    import llama_cpp

    from edgeclean.api import CleaningRun
    from edgeclean.settings import CleanSettings
    from edgeclean.stages.model_pass import _ask_rewrite
    from edgeclean.stages.prompt import render_chat

    settings = CleanSettings(chunk_tokens=120, mode="rewrite")
    run = CleaningRun(PAPER, tiny_model, settings, output="x.txt")
    chunk = run.chunks[0]
    asking = _ask_rewrite(tiny_model, chunk, settings, strict=False)  # the answer before the guard judges it
    ask = next(asking)
    with pytest.raises(StopIteration) as done:
        asking.send(tiny_model.complete(ask.prompt, ask.max_tokens, 0.0, 0))
    first = done.value.value
    run.close()
    direct = llama_cpp.Llama(model_path=str(tiny_model.path), n_ctx=2048, n_threads=2, verbose=False)
    try:
        prompt = render_chat(direct.metadata["tokenizer.chat_template"], chunk.text)
        tokens = direct.tokenize(prompt.encode(), add_bos=False, special=True)
        raw = direct.create_completion(
            tokens,
            max_tokens=first.completion.completion_tokens,
            temperature=0,
            top_k=0,
            top_p=1,
            min_p=0,
            repeat_penalty=1,
        )["choices"][0]["text"]
    finally:
        direct.close()
    assert first.text == raw.strip()
    first_word = re.match(r"\W*(\w+)", first.text).group(1)
    assert re.search(rf"\b{re.escape(first_word)}\b", chunk.text, re.IGNORECASE), "answer starts mid-word"


def one_page_clean(model_path) -> list[str]:
    """A `clean` of half a page in small chunks: the shortest real run that still has several chunks."""
    return ["clean", str(PAPER), "--model", str(model_path), "--max-chars", "2000", "--chunk-tokens", "150"]


def test_greedy_runs_are_reproducible(tiny_model_path, tmp_path):
    args = one_page_clean(tiny_model_path)
    assert run_cli(*args, "-o", "a.txt").returncode == 0
    assert run_cli(*args, "-o", "b.txt").returncode == 0
    assert (tmp_path / "a.txt").read_text() == (tmp_path / "b.txt").read_text()


def test_rerun_of_a_finished_run_changes_nothing(tiny_model_path, tmp_path):
    args = one_page_clean(tiny_model_path)
    assert run_cli(*args).returncode == 0
    before = (tmp_path / "paper.clean.txt").stat().st_mtime_ns
    again = run_cli(*args)
    assert again.returncode == 0 and "already complete" in again.stderr
    assert (tmp_path / "paper.clean.txt").stat().st_mtime_ns == before


def test_rules_mode_needs_no_model(tmp_path):
    """No model file exists here (the default one is missing): --mode rules must not look for one."""
    result = run_cli("clean", str(PAPER), "--mode", "rules")
    assert result.returncode == 0, result.stderr
    cleaned = (tmp_path / "paper.clean.txt").read_text()
    assert "from individual researchers to smaller organizations." in cleaned
    assert "@" not in cleaned and debris(PAPER)["stamp"] not in cleaned and debris(PAPER)["header"] not in cleaned
    assert truth(PAPER).split("\n\n")[-1] in cleaned  # the last paragraph, unwrapped and de-hyphenated
    assert not re.search(r"\bmodel\b", result.stderr), "no model is loaded or named"


def test_rules_mode_needs_no_model_on_the_kd_survey(corpus, tmp_path):
    result = run_cli("clean", str(corpus / "kd-survey-2402.13116v4.pdf"), "--mode", "rules", "--pages", "1-3")
    assert result.returncode == 0, result.stderr
    cleaned = (tmp_path / "kd-survey-2402.13116v4.clean.txt").read_text()
    assert "from individual researchers to smaller organizations" in cleaned
    assert "@" not in cleaned and "arXiv:2402" not in cleaned
    assert not re.search(r"\bmodel\b", result.stderr), "no model is loaded or named"


def test_missing_default_model_says_how_to_get_one():
    result = run_cli("clean", str(PAPER))
    assert_one_clean_line_error(result, "Llama-3.2-1B-Instruct-Q4_K_M.gguf")


@pytest.mark.parametrize(
    ("pdf", "message"),
    [
        ("corrupted.pdf", "not a PDF"),
        ("encrypted.pdf", "pass --password"),
        ("image-only.pdf", "looks scanned"),
        ("empty-page.pdf", "looks scanned"),
    ],
)
def test_bad_pdfs_fail_with_one_line(tiny_model_path, pdf, message):
    result = run_cli("clean", str(FIXTURES / pdf), "--model", str(tiny_model_path))
    assert_one_clean_line_error(result, message)


def test_not_a_gguf_is_refused_before_loading(tmp_path):
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"<html>not a model</html>")
    result = run_cli("clean", str(PAPER), "--model", str(fake))
    assert_one_clean_line_error(result, "not a GGUF model file")


def test_existing_output_is_not_overwritten(tiny_model_path, tmp_path):
    (tmp_path / "paper.clean.txt").write_text("keep me")
    result = run_cli("clean", str(PAPER), "--model", str(tiny_model_path))
    assert_one_clean_line_error(result, "pass --restart")
    assert (tmp_path / "paper.clean.txt").read_text() == "keep me"


def test_chunk_that_cannot_fit_is_a_usage_error(tiny_model_path):
    result = run_cli("clean", str(PAPER), "--model", str(tiny_model_path), "--chunk-tokens", "5000")
    assert result.returncode == 2
    assert "use at most" in result.stderr and "Traceback" not in result.stderr


def test_info():
    result = run_cli("info", str(PAPER), "--json")
    assert result.returncode == 0
    info = json.loads(result.stdout)
    assert info["pages"] == debris(PAPER)["pages"] == 3 and info["has_text_layer"]
    assert len(truth(PAPER)) < info["characters"] < 2 * len(truth(PAPER))
    assert result.stderr == ""


def test_info_on_the_kd_survey(corpus):
    result = run_cli("info", str(corpus / "kd-survey-2402.13116v4.pdf"), "--json")
    assert result.returncode == 0
    info = json.loads(result.stdout)
    assert info["pages"] == 43 and info["has_text_layer"] and info["characters"] > 250_000
    assert result.stderr == ""


def test_help_shows_examples():
    result = run_cli("clean", "--help")
    assert result.returncode == 0
    assert "edgeclean clean paper.pdf" in result.stdout and "--pages" in result.stdout


def test_readme_commands_are_the_ones_ci_runs():
    """CI runs the corpus and Ray tests in the checkout (with the ray extra), then both README commands, exactly,
    in a fresh clone."""
    readme = (ROOT / "README.md").read_text()
    checkout, fresh_clone = (ROOT / ".ci" / "run").read_text().split("git clone", 1)

    def command(section: str) -> str:
        return re.search(r"```(?:sh|bash)\n(.+?)\n```", readme.split(section, 1)[1], re.S).group(1).strip()

    assert f'EDGECLEAN_EXTRAS=ray {command("## Run the tests")} -m "corpus or ray"' in checkout
    quick, tests = (f"\n{command(section)}\n" for section in ("## Quick start", "## Run the tests"))
    assert quick in fresh_clone and tests in fresh_clone.split(quick, 1)[1]
