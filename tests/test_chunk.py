import re

import pytest

from edgeclean.stages.chunk import chunk_pages
from edgeclean.stages.extract import Page

from .conftest import PAPER, RecordingModel

count = RecordingModel().count_tokens


def words(text: str) -> list[str]:
    return text.split()


def test_chunks_keep_every_word_in_order_and_never_cut_inside_one():
    text = " ".join(f"word{i}." if i % 9 == 0 else f"word{i}" for i in range(3000))
    chunks = list(chunk_pages([Page(1, text)], count, budget=100))
    assert len(chunks) > 10
    assert [w for chunk in chunks for w in words(chunk.text)] == words(text)
    assert all(chunk.tokens <= 100 for chunk in chunks)
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))


def test_prefers_paragraph_then_sentence_boundaries():
    paragraph = "This is a sentence with several words in it. " * 6
    text = "\n\n".join(paragraph.strip() for _ in range(6))
    chunks = list(chunk_pages([Page(1, text)], count, budget=150))
    assert all(chunk.text.endswith(".") for chunk in chunks)
    assert all(chunk.text == paragraph.strip() or "\n\n" in chunk.text for chunk in chunks[:-1])


def test_page_spans_follow_the_text():
    pages = [Page(n, f"Page {n} begins. " + "filler text here. " * 40) for n in range(1, 6)]
    chunks = list(chunk_pages(pages, count, budget=120))
    assert chunks[0].first_page == 1
    assert chunks[-1].last_page == 5
    for chunk in chunks:
        for number in re.findall(r"Page (\d+) begins", chunk.text):
            assert chunk.first_page <= int(number) <= chunk.last_page
    assert all(a.last_page <= b.first_page for a, b in zip(chunks, chunks[1:], strict=False))


def test_empty_pages_are_skipped_and_page_numbers_kept():
    pages = [Page(1, ""), Page(2, "   "), Page(3, "Only text here.")]
    [chunk] = chunk_pages(pages, count, budget=50)
    assert (chunk.first_page, chunk.last_page, chunk.text) == (3, 3, "Only text here.")


@pytest.mark.parametrize(
    "sample",
    [
        "知识蒸馏是一种将大型模型的能力转移到小型模型的方法。" * 40,  # unspaced CJK
        "تقطير المعرفة هو نقل قدرات النماذج الكبيرة إلى النماذج الصغيرة. " * 40,  # Arabic, spaced
        "Ünïcödé façade naïve café coöperate résumé. " * 40,
    ],
)
def test_non_latin_text_survives_chunking(sample):
    chunks = list(chunk_pages([Page(1, sample)], count, budget=60))
    assert len(chunks) > 1
    assert "".join("".join(c.text.split()) for c in chunks) == "".join(sample.split())
    assert all(c.tokens <= 60 for c in chunks)


def test_a_word_longer_than_the_budget_is_split_between_characters():
    text = "short words then " + "x" * 500 + " and more"
    chunks = list(chunk_pages([Page(1, text)], count, budget=5))
    assert "".join("".join(c.text.split()) for c in chunks) == "".join(text.split())


@pytest.mark.parametrize("pdf", ["paper", "kd-survey"])
def test_real_tokenizer_budgets_and_word_boundaries(tiny_model, request, pdf):
    from edgeclean.stages.extract import PdfDocument

    path = PAPER if pdf == "paper" else request.getfixturevalue("corpus") / "kd-survey-2402.13116v4.pdf"
    pages = list(PdfDocument(path).pages(range(1, 4)))
    source = "\n\n".join(page.text for page in pages)
    chunks = list(chunk_pages(pages, tiny_model.count_tokens, budget=300))
    assert all(tiny_model.count_tokens(c.text) <= 300 for c in chunks)
    assert all(c.tokens >= 150 for c in chunks[:-1]), "coarse boundaries must not leave chunks under half full"
    assert [w for c in chunks for w in words(c.text)] == words(source)
