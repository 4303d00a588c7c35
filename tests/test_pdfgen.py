"""The test PDF generator: what it writes, pypdf reads back."""

import re

import pytest
from pypdf import PdfReader

from .pdfgen import corrupted_pdf, encrypted_pdf, image_only_pdf, text_pdf


def squeezed(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def page_texts(path, password=None) -> list[str]:
    reader = PdfReader(path, password=password)
    return [page.extract_text() for page in reader.pages]


LATIN = "Knowledge distillation: café, naïve, Straße, Übung.\nA second line, kept as a line."
SYMBOLS = "Greek α β γ, an en dash – and “curly quotes”, a sum ∑ and ≤."
CHINESE = "知识蒸馏 (knowledge distillation, KD) 是一种将大模型的能力转移到小模型的方法，2024年。"
JAPANESE = "日本語の文章です。ひらがなとカタカナも使います。"
ARABIC = "تقطير المعرفة هو نقل قدرات النموذج الكبير إلى نموذج صغير"


def test_each_string_is_a_page_and_its_text_comes_back(tmp_path):
    pdf = text_pdf(tmp_path / "t.pdf", [LATIN, SYMBOLS, CHINESE, JAPANESE, ARABIC])
    assert page_texts(pdf) == [LATIN, SYMBOLS, CHINESE, JAPANESE, ARABIC]


def test_a_line_break_in_arabic_text_is_kept_and_its_words_stay_in_order(tmp_path):
    text = "تقطير المعرفة\nنموذج صغير"
    assert page_texts(text_pdf(tmp_path / "t.pdf", [text])) == [text]


def test_long_lines_wrap_and_a_full_page_runs_on(tmp_path):
    sentence = "The quick brown fox jumps over the lazy dog. "
    long_page = "\n".join(sentence * 6 for _ in range(40))  # far more than one page of wrapped lines
    texts = page_texts(text_pdf(tmp_path / "t.pdf", [long_page, "after"]))
    assert len(texts) > 2 and texts[-1] == "after"
    assert squeezed(" ".join(texts[:-1])) == squeezed(long_page)
    assert max(len(line) for line in texts[0].splitlines()) < len(sentence) * 3


def test_an_unbroken_token_is_split_across_lines_with_nothing_added(tmp_path):
    token = "".join(chr(ord("a") + i % 26) for i in range(5000))
    texts = page_texts(text_pdf(tmp_path / "t.pdf", [token]))
    assert "".join(texts).replace("\n", "") == token


def test_the_same_pages_give_the_same_bytes(tmp_path):
    first = text_pdf(tmp_path / "a.pdf", [LATIN, CHINESE]).read_bytes()
    assert text_pdf(tmp_path / "b.pdf", [LATIN, CHINESE]).read_bytes() == first


def test_a_character_no_font_has_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"U\+1F600"):
        text_pdf(tmp_path / "t.pdf", ["a smile 😀"])


def test_image_only_page_has_pixels_and_no_text(tmp_path):
    reader = PdfReader(image_only_pdf(tmp_path / "scan.pdf"))
    assert len(reader.pages) == 1 and reader.pages[0].extract_text() == ""
    assert len(reader.pages[0].images) == 1


def test_encrypted_copy_opens_only_with_its_password(tmp_path):
    plain = text_pdf(tmp_path / "plain.pdf", [LATIN])
    locked = encrypted_pdf(plain, tmp_path / "locked.pdf", "s3cret")
    reader = PdfReader(locked)
    assert reader.is_encrypted and not reader.decrypt("wrong")
    assert page_texts(locked, password="s3cret") == [LATIN]


def test_corrupted_file_is_no_pdf(tmp_path):
    path = corrupted_pdf(tmp_path / "broken.pdf")
    assert path.stat().st_size > 0 and not path.read_bytes().startswith(b"%PDF")
