"""The real CLI in a child process, with the real tiny model through real llama.cpp, on real PDFs."""

import json
import re

import pytest

from .conftest import ROOT, run_cli

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


def test_clean_multi_page_pdf(corpus, tiny_model_path, tmp_path):
    result = run_cli(
        "clean", str(corpus / "docling" / "multi_page.pdf"), "--model", str(tiny_model_path), "--chunk-tokens", "300"
    )
    assert result.returncode == 0, result.stderr
    output = tmp_path / "multi_page.clean.txt"
    assert output.read_text().strip()
    header, records = checkpoint_records(tmp_path / "multi_page.clean.txt.ckpt")
    assert len(records) == header["chunks"] > 1, "one output part per chunk"
    assert sorted(r["index"] for r in records) == list(range(header["chunks"]))  # finished out of order
    assert all(r["text"].strip() for r in records)
    in_order = sorted(records, key=lambda r: r["index"])
    assert output.read_text() == "\n\n".join(r["text"] for r in in_order) + "\n"
    assert "on CPU" in result.stderr and "wrote multi_page.clean.txt" in result.stderr
    assert "1 chunk at once (the default for --mode select on a CPU)" in result.stderr


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


def test_answers_are_the_models_own_words_unsliced(corpus, tiny_model, tmp_path):
    """The notebook chopped ~100 characters off each answer; ours must be exactly what llama.cpp generated."""
    import llama_cpp

    from edgeclean.clean import _ask_rewrite
    from edgeclean.pipeline import CleaningRun
    from edgeclean.prompt import render_chat
    from edgeclean.settings import CleanSettings

    settings = CleanSettings(chunk_tokens=120, mode="rewrite")
    run = CleaningRun(corpus / "docling" / "multi_page.pdf", tiny_model, settings, output="x.txt")
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


def one_page_clean(corpus, model_path) -> list[str]:
    """A `clean` of one page in small chunks: the shortest real run that still has several chunks."""
    pdf = str(corpus / "docling" / "multi_page.pdf")
    return ["clean", pdf, "--model", str(model_path), "--pages", "1", "--chunk-tokens", "150"]


def test_greedy_runs_are_reproducible(corpus, tiny_model_path, tmp_path):
    args = one_page_clean(corpus, tiny_model_path)
    assert run_cli(*args, "-o", "a.txt").returncode == 0
    assert run_cli(*args, "-o", "b.txt").returncode == 0
    assert (tmp_path / "a.txt").read_text() == (tmp_path / "b.txt").read_text()


def test_rerun_of_a_finished_run_changes_nothing(corpus, tiny_model_path, tmp_path):
    args = one_page_clean(corpus, tiny_model_path)
    assert run_cli(*args).returncode == 0
    before = (tmp_path / "multi_page.clean.txt").stat().st_mtime_ns
    again = run_cli(*args)
    assert again.returncode == 0 and "already complete" in again.stderr
    assert (tmp_path / "multi_page.clean.txt").stat().st_mtime_ns == before


def test_rules_mode_needs_no_model(corpus, tmp_path):
    """No model file exists here (the default one is missing): --mode rules must not look for one."""
    result = run_cli("clean", str(corpus / "kd-survey-2402.13116v4.pdf"), "--mode", "rules", "--pages", "1-3")
    assert result.returncode == 0, result.stderr
    cleaned = (tmp_path / "kd-survey-2402.13116v4.clean.txt").read_text()
    assert "from individual researchers to smaller organizations" in cleaned
    assert "@" not in cleaned and "arXiv:2402" not in cleaned
    assert not re.search(r"\bmodel\b", result.stderr), "no model is loaded or named"


def test_missing_default_model_says_how_to_get_one(corpus):
    result = run_cli("clean", str(corpus / "docling" / "multi_page.pdf"))
    assert_one_clean_line_error(result, "Llama-3.2-1B-Instruct-Q4_K_M.gguf")


@pytest.mark.parametrize(
    ("pdf", "message"),
    [
        ("bad/corrupted.pdf", "not a PDF"),
        ("bad/password-protected.pdf", "pass --password"),
        ("bad/image-only.pdf", "looks scanned"),
        ("bad/empty-page.pdf", "looks scanned"),
    ],
)
def test_bad_pdfs_fail_with_one_line(corpus, tiny_model_path, pdf, message):
    result = run_cli("clean", str(corpus / pdf), "--model", str(tiny_model_path))
    assert_one_clean_line_error(result, message)


def test_not_a_gguf_is_refused_before_loading(corpus, tmp_path):
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"<html>not a model</html>")
    result = run_cli("clean", str(corpus / "docling" / "multi_page.pdf"), "--model", str(fake))
    assert_one_clean_line_error(result, "not a GGUF model file")


def test_existing_output_is_not_overwritten(corpus, tiny_model_path, tmp_path):
    (tmp_path / "multi_page.clean.txt").write_text("keep me")
    result = run_cli("clean", str(corpus / "docling" / "multi_page.pdf"), "--model", str(tiny_model_path))
    assert_one_clean_line_error(result, "pass --restart")
    assert (tmp_path / "multi_page.clean.txt").read_text() == "keep me"


def test_chunk_that_cannot_fit_is_a_usage_error(corpus, tiny_model_path):
    result = run_cli(
        "clean", str(corpus / "docling" / "multi_page.pdf"), "--model", str(tiny_model_path), "--chunk-tokens", "5000"
    )
    assert result.returncode == 2
    assert "use at most" in result.stderr and "Traceback" not in result.stderr


def test_info(corpus):
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
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = re.search(r"```(?:sh|bash)\n(.+?)\n```", readme.split("## Run the tests", 1)[1], re.S).group(1)
    assert test_command.strip() in ci
