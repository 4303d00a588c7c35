"""Real layouts that once ended a whole document: each generated PDF completes in every mode, exit 0.

A dotted table of contents became hundreds of one-dot "sentences" whose numbered select prompt outgrew the
context (`a prompt of 3471 tokens does not fit 2048 tokens`, exit 1, no output). No PDF that extracts may fail
because of one chunk's model pass.
"""

import json
import random
import string

import pytest

from .conftest import run_cli
from .pdfgen import text_pdf

pytestmark = pytest.mark.model

MODES = ("select", "rewrite", "rules")
PROSE = "This closing paragraph is ordinary prose, so every document also has a sentence worth keeping."


def _contents(entries: int = 300, per_page: int = 40) -> list[str]:
    lines = ["Contents"] + [
        f"{n // 10 + 1}.{n % 10 + 1} Topologische Räume, Teil {_letters(n)} {'. ' * 24}{n + 3}" for n in range(entries)
    ]
    return ["\n".join(lines[i : i + per_page]) for i in range(0, len(lines), per_page)] + [PROSE]


def _letters(n: int) -> str:
    """A different word for each entry: entries alike but for their numbers would read as running headers."""
    return "".join(string.ascii_lowercase[d] for d in (n // 26 // 26, n // 26 % 26, n % 26))


def _one_word_lines() -> list[str]:
    rng = random.Random(1)
    return ["\n".join(rng.choice(["alpha", "beta", "gamma", "delta", "Omega", "x", "42"]) for _ in range(500)), PROSE]


def _unbroken_token() -> list[str]:
    rng = random.Random(2)
    return ["".join(rng.choice(string.ascii_letters + string.digits) for _ in range(5000)), PROSE]


def _number_table() -> list[str]:
    rng = random.Random(3)
    return ["\n".join(" ".join(str(rng.randint(0, 99)) for _ in range(50)) for _ in range(40)), PROSE]


CJK = "知识蒸馏是一种将大型模型的能力转移到小型模型的方法。" * 12 + "本节介绍其基本原理。"
ARABIC = "تقطير المعرفة طريقة لنقل قدرات النماذج الكبيرة إلى نماذج أصغر حجما. " * 8

SHAPES = {
    "contents": _contents,
    "one-word-lines": _one_word_lines,
    "unbroken-token": _unbroken_token,
    "number-table": _number_table,
    "cjk": lambda: [CJK, PROSE],
    "arabic": lambda: [ARABIC, PROSE],
}


@pytest.fixture(scope="module")
def shape_pdfs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes")
    return {name: text_pdf(folder / f"{name}.pdf", make()) for name, make in SHAPES.items()}


def _clean(pdf, model_path, mode, *extra):
    args = ["clean", str(pdf), "--mode", mode, "-o", f"{pdf.stem}.{mode}.txt", "--restart", *extra]
    return run_cli(*args, *(["--model", str(model_path)] if mode != "rules" else []))


def _fallbacks(checkpoint) -> list[str]:
    records = [json.loads(line) for line in checkpoint.read_text(encoding="utf-8").splitlines()[1:]]
    return [r.get("fallback_reason", "") for r in records if r.get("decision") == "fallback"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_completes_in_every_mode(shape_pdfs, tiny_model_path, tmp_path, shape, mode):
    pdf = shape_pdfs[shape]
    result = _clean(pdf, tiny_model_path, mode)
    assert result.returncode == 0, result.stderr
    output = (tmp_path / f"{pdf.stem}.{mode}.txt").read_text(encoding="utf-8")
    assert "ordinary prose" in output
    assert "prompt too long" not in _fallbacks(tmp_path / f"{pdf.stem}.{mode}.txt.ckpt")
    if shape == "cjk":
        assert "知识蒸馏" in output
    if shape == "arabic":
        assert "المعرفة" in output
    if shape == "contents":
        assert "Topologische" not in output, "a table of contents is dropped for a podcast"


def test_a_kept_table_of_contents_fits_every_select_prompt(shape_pdfs, tiny_model_path, tmp_path):
    """With --keep-contents the dot leaders reach the model; chunks are sized to the numbered prompt."""
    pdf = shape_pdfs["contents"]
    result = _clean(pdf, tiny_model_path, "select", "--keep-contents")
    assert result.returncode == 0, result.stderr
    checkpoint = tmp_path / f"{pdf.stem}.select.txt.ckpt"
    records = [json.loads(line) for line in checkpoint.read_text(encoding="utf-8").splitlines()[1:]]
    shown = sum(r["source_text"].count("Topologische") for r in records if "source_text" in r)
    assert shown == 300, "every entry reached the model (which may still drop entries: they are not prose)"
    assert "prompt too long" not in _fallbacks(checkpoint)
