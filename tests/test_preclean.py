"""Rule pre-cleaning: what layout broke is repaired, page furniture is dropped, and nothing else is touched."""

from edgeclean.stages.extract import Page, PdfDocument
from edgeclean.stages.guard import content_words, recall, words
from edgeclean.stages.rules import RuleOptions, apply_rules, apply_rules_to_pages, running_lines

from .conftest import LANGUAGES, PAPER, debris, truth

WRAPPED = """Without the constraints of licensing fees, these models are available to a
broader range of users, from individual re-
searchers to smaller organizations. This openness fosters a more collaborative
and inclusive environment (Wei et al., 2022a,b; Ouyang et al., 2022).
Short last line of a paragraph.
A new paragraph starts here and runs on for a while across the whole column, until it
ends with a self-
improvement claim as in [12] and [3, 4]."""


def test_hyphenation_is_joined_and_lines_unwrapped_into_paragraphs():
    text = apply_rules(WRAPPED + "\nNote the self-improvement.")
    assert "individual researchers to smaller organizations" in text
    assert "a self-improvement claim" in text, "a compound written with its hyphen elsewhere keeps it"
    first, second = text.split("\n\n")
    assert first.endswith("Short last line of a paragraph.")
    assert "\n" not in first and second.startswith("A new paragraph")


def test_a_compound_of_three_parts_broken_at_a_hyphen_keeps_it():
    text = apply_rules("Promising areas such as weak-\nto-strong generalization stay open.\nSee weak-to-strong work.")
    assert "such as weak-to-strong generalization" in text


def test_citations_are_dropped_unless_kept():
    text = apply_rules(WRAPPED)
    assert "et al." not in text and "[12]" not in text and "[3, 4]" not in text
    assert "inclusive environment." in text and "claim as in and." in text
    kept = apply_rules(WRAPPED, RuleOptions(drop_citations=False))
    assert "(Wei et al., 2022a,b; Ouyang et al., 2022)" in kept and "[12]" in kept


def test_emails_and_arxiv_stamps_go():
    text = apply_rules(
        "Xiaohan Xu, Ming Li\n{shawnxxh,chongyangtao}@gmail.com ckcheng@cs.hku.hk\n"
        "Abstract—In the era of large models.\narXiv:2402.13116v4  [cs.CL]  21 Oct 2024"
    )
    assert "@" not in text and "arXiv" not in text and "In the era of large models." in text


def test_page_numbers_and_running_headers_go_but_body_lines_stay():
    topics = ["apples", "boats", "clouds", "dunes", "eagles"]
    pages = [
        Page(
            n,
            "\n".join(
                [str(n), "JOURNAL OF LATEX CLASS FILES, VOL. 14", f"The method works on {t}.", "42"]
                + [f"It ends with {t}.", f"Then {t} rest.", f"Really {t}."]
            ),
        )
        for n, t in enumerate(topics, start=1)
    ]
    assert running_lines([p.text for p in pages]) == {"journal of latex class files, vol. #"}
    cleaned = list(apply_rules_to_pages(pages))
    assert all(p.text.startswith("The method works") for p in cleaned)
    assert all("JOURNAL" not in p.text and "42" in p.text for p in cleaned), "only edge lines are page furniture"


def test_other_scripts_are_kept_intact():
    text = "東京大学の研究者が新しい手法を提案した。\nΗ μέθοδος λειτουργεί καλά.\nМетод работает хорошо.\nالطريقة تعمل"
    cleaned = apply_rules(text)
    for line in text.splitlines():
        assert line in cleaned


def test_the_fixture_papers_layout_debris_goes_and_its_prose_stays():
    """Everything the rules are for, on a generated paper whose ground truth is exact."""
    pages = list(PdfDocument(PAPER).pages())
    cleaned_pages = list(apply_rules_to_pages(pages))
    cleaned = "\n\n".join(p.text for p in cleaned_pages)
    known, expected = debris(PAPER), truth(PAPER)
    for line in (known["header"], known["footer"], known["stamp"], *known["emails"]):
        assert line in pages[0].text and line not in cleaned
    assert all(p.text.splitlines()[-1] == str(p.number) for p in pages)
    assert all(p.text.split("\n\n")[-1] != str(p.number) for p in cleaned_pages), "page numbers go"
    for citation in ("(Touvron et al.", "(Hinton et al.", "(Lo et al., 2020)", "[1, 5]", "[4]"):
        assert citation in " ".join(p.text for p in pages).replace("\n", " ") and citation not in cleaned
    assert known["hyphenated"]
    for word in known["hyphenated"]:
        assert cleaned.count(word) >= expected.count(word), f"{word} is joined again"
    assert "self-improvement when" in cleaned, "a compound broken at its own hyphen keeps it"
    assert "GPT-3.5 and Llama-3.2-1B-Instruct" in cleaned
    assert recall(content_words(words(expected)), content_words(words(cleaned))) > 0.99
    prose = [p for p in expected.split("\n\n") if len(p) > 300]
    assert sum(p in cleaned for p in prose) >= len(prose) - 3, "paragraphs cut only by columns, pages or a footnote"


def test_cjk_and_arabic_pages_keep_every_character():
    cleaned = "".join(p.text for p in apply_rules_to_pages(PdfDocument(LANGUAGES).pages()))
    assert "".join(cleaned.split()) == "".join(truth(LANGUAGES).split())


def test_kd_survey_first_pages(corpus):
    pages = list(PdfDocument(corpus / "kd-survey-2402.13116v4.pdf").pages(range(1, 4)))
    cleaned = "\n\n".join(p.text for p in apply_rules_to_pages(pages))
    assert "gmail.com" not in cleaned and "arXiv:2402.13116v4" not in cleaned
    assert "from individual researchers to smaller organizations" in cleaned
    assert "GPT-3.5" in cleaned
    assert not cleaned.startswith("1\n")


def test_a_dotted_table_of_contents_is_dropped_with_its_heading():
    page = "\n".join(
        ["Contents", "Notices . . . . . . . . . . vii", "Trademarks . . . . . . . . viii"]
        + [f"{n}.{k} Topologische Räume . . . . . . . . {n * 10 + k}" for n in range(1, 4) for k in range(1, 4)]
        + ["List of Figures", "3.1 A compact set ........................ 14", "Preface", "This book is about spaces."]
    )
    assert apply_rules(page) == "Preface\n\nThis book is about spaces."


def test_contents_are_kept_on_request_and_prose_with_an_ellipsis_is_never_an_entry():
    page = "Notices . . . . . . . . . . vii\nHe waited . . . and then he spoke again to the room."
    assert "Notices" in apply_rules(page, RuleOptions(drop_contents=False))
    assert apply_rules(page).startswith("He waited . . . and then")
