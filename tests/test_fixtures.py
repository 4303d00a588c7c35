"""The committed fixtures are what tests/fixtures/make.py writes today, and carry the debris they claim to."""

import pytest
from pypdf import PdfReader

from .conftest import FIXTURES, PAPER, debris, truth
from .fixtures import make


def texts(pdf) -> list[str]:
    return [page.extract_text() for page in PdfReader(pdf).pages]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """The fixtures written again by the generator, into a scratch folder."""
    folder = tmp_path_factory.mktemp("fixtures")
    paper = make.write_paper(folder / "paper.pdf")
    languages = make.write_languages(folder / "languages.pdf")
    return folder, paper, languages


def test_committed_fixtures_are_what_the_generator_writes(fresh):
    folder, paper, languages = fresh
    assert texts(folder / "paper.pdf") == texts(PAPER)
    assert paper["truth"] + "\n" == truth(PAPER) and paper["debris"] == debris(PAPER)
    assert texts(folder / "languages.pdf") == texts(FIXTURES / "languages.pdf")
    assert languages + "\n" == truth(FIXTURES / "languages.pdf")
    assert (make.EXAMPLES / "paper.pdf").read_bytes() == PAPER.read_bytes(), "the demo's PDF is the fixture paper"


def test_the_paper_carries_every_kind_of_debris_its_truth_lacks():
    pages = texts(PAPER)
    known, expected = debris(PAPER), truth(PAPER)
    assert len(pages) == known["pages"] >= 3, "a running line needs three pages to be recognised"
    assert all(page.startswith(known["header"]) for page in pages)
    assert all(page.splitlines()[-2:] == [known["footer"], str(n)] for n, page in enumerate(pages, start=1))
    assert known["stamp"] in pages[0] and all(email in pages[0] for email in known["emails"])
    first, second = (" ".join(page.split()) for page in pages[:2])
    assert "¹ Code and data" in first and "(Touvron et al., 2023;" in first and "[4]" in first
    assert "Model size (M parameters)" in second and "rewrite 0.842 0.03 14.7" in second
    assert "L_KD = α · KL(p_T ‖ p_S)" in second and "References" in second
    broken = sum(line.endswith("-") and not line.endswith("self-") for page in pages for line in page.splitlines())
    assert broken >= len(known["hyphenated"]) >= 10
    for item in (known["header"], known["stamp"], "@", "et al.", "[4]", "Model size", "0.842", "L_KD", "Hinton,"):
        assert item not in expected
    assert "Abstract" in expected and "Figure 1: Throughput" in expected and "6 Conclusion" in expected
