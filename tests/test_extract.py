import logging

import pytest

from edgeclean.errors import InputError
from edgeclean.stages.extract import Page, PdfDocument, limit_characters, parse_page_ranges

from .conftest import FIXTURES, PAPER, debris
from .pdfgen import text_pdf


def test_pages_stream_with_their_numbers():
    document = PdfDocument(PAPER)
    assert document.page_count == 3
    pages = list(document.pages([2, 3]))
    assert [p.number for p in pages] == [2, 3]
    assert pages[0].text.startswith(debris(PAPER)["header"]) and "DistilBERT, a distilled" in pages[1].text


def test_whole_document_has_no_silent_character_cap(tmp_path):
    page = "A sentence of plain prose that fills the page line after line. " * 60
    pdf = text_pdf(tmp_path / "long.pdf", [page] * 30)  # about 115,000 characters on 30 pages
    info = PdfDocument(pdf).info()
    assert info.characters > 110_000  # the notebook stopped at 100,000
    assert info.has_text_layer and info.pages_with_text == 30


def test_pages_stream_with_their_numbers_in_the_kd_survey(corpus):
    document = PdfDocument(corpus / "kd-survey-2402.13116v4.pdf")
    assert document.page_count == 43
    pages = list(document.pages([2, 3]))
    assert [p.number for p in pages] == [2, 3]
    assert all(len(p.text) > 1000 for p in pages)


def test_the_kd_survey_has_no_silent_character_cap(corpus):
    info = PdfDocument(corpus / "kd-survey-2402.13116v4.pdf").info()
    assert info.characters > 250_000  # the notebook stopped at 100,000
    assert info.has_text_layer and info.pages_with_text == 43


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("corrupted.pdf", "not a PDF"),
        ("encrypted.pdf", "password-protected; pass --password"),
        ("does-not-exist.pdf", "no such file"),
    ],
)
def test_bad_pdfs_give_clear_errors(name, message):
    with pytest.raises(InputError, match=message):
        PdfDocument(FIXTURES / name)


def test_image_only_pdf_reports_no_text_layer():
    info = PdfDocument(FIXTURES / "image-only.pdf").info()
    assert not info.has_text_layer


def test_wrong_password_is_named():
    with pytest.raises(InputError, match="wrong password"):
        PdfDocument(FIXTURES / "encrypted.pdf", password="not-it")


def test_the_right_password_opens_it():
    pages = list(PdfDocument(FIXTURES / "encrypted.pdf", password=debris(PAPER)["password"]).pages())
    assert [p.text for p in pages] == [p.text for p in PdfDocument(PAPER).pages()]


def _log_of_opening(paths, capfd, caplog) -> str:
    """Open every PDF as info does; pypdf's warnings must reach the log only, never stdout or stderr."""
    caplog.set_level(logging.DEBUG, logger="edgeclean")
    for path in paths:
        try:
            PdfDocument(path).info()
        except InputError:
            pass
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    return caplog.text


def test_pypdf_warnings_go_to_the_log_not_the_screen(capfd, caplog):
    log = _log_of_opening(sorted(FIXTURES.glob("*.pdf")), capfd, caplog)
    assert "pypdf: Object ID 2,0 ref repaired" in log  # from broken-xref.pdf


def test_pypdf_warnings_on_the_corpus_go_to_the_log_not_the_screen(corpus, capfd, caplog):
    log = _log_of_opening(sorted(corpus.rglob("*.pdf")), capfd, caplog)
    assert "pypdf: Ignoring wrong pointing object" in log


def test_page_ranges():
    assert parse_page_ranges("1-3,5, 7-", 8) == [1, 2, 3, 5, 7, 8]
    for bad in ("0-2", "3-1", "9", "a-b", ","):
        with pytest.raises(InputError):
            parse_page_ranges(bad, 8)


def test_max_chars_cuts_between_words_and_says_so(caplog):
    pages = [Page(1, "alpha beta gamma"), Page(2, "delta epsilon zeta")]
    kept = list(limit_characters(pages, 24))
    assert kept == [Page(1, "alpha beta gamma"), Page(2, "delta")]
    assert "text stops on page 2" in caplog.text
