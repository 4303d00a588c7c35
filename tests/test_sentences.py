"""The units --mode select numbers and may drop: sentences that survive real layouts, prose in any language."""

import pytest

from edgeclean.stages.sentences import drop_sentences, numbered_sentences, reads_as_prose, split_sentences


def sentences(text: str) -> list[str]:
    return [s for paragraph in split_sentences(text) for s in paragraph]


def test_dot_leaders_are_not_sentence_ends():
    toc = " ".join(f"{n}.1 Topologische Räume . . . . . . . . . . {n}" for n in range(1, 301))
    assert len(sentences(toc)) == 1
    assert len(sentences("Notices........ vii Trademarks....... viii")) == 1


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Xu et al. propose a method. It works.", ["Xu et al. propose a method.", "It works."]),
        ("See Fig. 3 and Eq. 2 for it. Then stop.", ["See Fig. 3 and Eq. 2 for it.", "Then stop."]),
        ("J. Smith and A. B. Jones wrote it. Fine.", ["J. Smith and A. B. Jones wrote it.", "Fine."]),
        ("Pi is 3.14 here. The end.", ["Pi is 3.14 here.", "The end."]),
        ("2. Related work comes next. It is short.", ["2. Related work comes next.", "It is short."]),
        ("It grew in 2020. Then it shrank.", ["It grew in 2020.", "Then it shrank."]),
        ("这是第一句。这是第二句！还有吗？", ["这是第一句。", "这是第二句！", "还有吗？"]),
        ("هل هذا سؤال؟ نعم هذا صحيح.", ["هل هذا سؤال؟", "نعم هذا صحيح."]),
        ("यह पहला वाक्य है। यह दूसरा है।", ["यह पहला वाक्य है।", "यह दूसरा है।"]),
    ],
)
def test_sentence_ends_in_real_layouts(text, expected):
    assert sentences(text) == expected


def test_numbering_shows_every_sentence_once_in_order():
    assert numbered_sentences("One is here. Two is here.\n\nThree.") == "1: One is here.\n2: Two is here.\n3: Three."


@pytest.mark.parametrize(
    "sentence",
    [
        "이 보고서는 국내 산업의 디지털 전환 현황을 분석하고 정책 과제를 제시함",  # Korean report style: no period
        "本文提出了一种新的知识蒸馏方法用于大型语言模型的压缩和加速",
        "Die Menge der offenen Mengen bildet eine Topologie auf dem Raum",
        "تقدم هذه الورقة طريقة جديدة لتقطير المعرفة من النماذج اللغوية الكبيرة",
        "in this section we describe the method used for the distillation of large models",
        "A Glimpse Into the Future",  # headings and lead-ins are content: docling's ground truth keeps them
        "Some exciting possibilities include:",
        "Knowledge Distillation of LLMs",
    ],
)
def test_running_text_without_a_sentence_end_is_prose_in_any_script(sentence):
    assert reads_as_prose(sentence)


@pytest.mark.parametrize(
    "debris",
    [
        "StudentModel Llama KnowledgeDataset Demonstrations Rawdata",
        "0.12 0.34 0.56 0.78 0.91 0.23 0.45",
        "Alice Zhang Bob Müller Chen Wei Dana Ortiz Emil Novak",
        "x1 y2 z3 w4 v5 u6 t7 s8",
        "KnowledgeElicitation DistillationAlgorithm Train",
        "0 500 1000 1500",
    ],
)
def test_labels_numbers_and_names_are_not_prose(debris):
    assert not reads_as_prose(debris)


def test_sentences_rejoin_as_they_were_written():
    """Keeping every sentence gives the paragraph back: no spaces put between CJK sentences (the guard's length
    check once failed every Chinese select answer because the kept text grew)."""
    for text in ["这是第一句。这是第二句！还有吗？", "One is here. Two is here.", "هل هذا سؤال؟ نعم هذا صحيح."]:
        assert drop_sentences(split_sentences(text), set()) == text


def test_the_candidate_view_numbers_what_could_be_dropped_among_unnumbered_neighbours():
    from edgeclean.stages.sentences import candidate_view

    prose = [f"This is sentence number {word} of the body, and it reads as prose." for word in "abcdef"]
    paragraphs = [prose[:3], ["DirectionofKD ① ②"], prose[3:], ["StudentModel Llama"]]
    view = candidate_view(paragraphs)
    assert view.numbers == [4, 8]
    assert view.text.splitlines() == [
        "…",
        prose[2],
        "1: DirectionofKD ① ②",
        prose[3],
        "…",
        prose[5],
        "2: StudentModel Llama",
    ]
    assert view.sentences_named({2, 3, 0}) == {8}
    assert len(view.text) <= len(numbered_sentences("\n\n".join(" ".join(p) for p in paragraphs)))
    assert candidate_view([prose]).numbers == [] and candidate_view([prose]).text == ""


def test_a_run_in_heading_is_never_a_candidate():
    from edgeclean.stages.sentences import candidate_view

    prose = "This survey represents our earnest effort to give an overview of the field."
    paragraphs = [["Declaration.", prose], ["Skill Distillation.", prose], ["Declaration."], ["Llama GPT4 ①.", prose]]
    assert candidate_view(paragraphs).numbers == [5, 6], "a lone label, and glued or symbol labels, still are"


# Bibliography entries and table rows that end like a sentence, so read as prose; the structure rules vet them.
ENTRIES = [
    "L. Ouyang, J. Wu, X. Jiang, D. Almeida, C. Wainwright, P. Mishkin et al., “Training language models to follow "
    "instructions with human feedback,” Advances in Neural Information Processing Systems, vol. 35, pp. 27 730–27 744, "
    "2022.",
    "X. Xu, C. Tao, T. Shen, C. Xu, H. Xu, G. Long, and J. guang Lou, “Re-reading improves reasoning in large "
    "language models,” 2024.",
    'Y. Kim and A. M. Rush, "Sequence-level knowledge distillation," in Proceedings of the Conference on Empirical '
    "Methods in Natural Language Processing, 2016, pp. 1317–1327.",
]
DEBRIS = ["HTML 0.944 0.903 0.931 0.824 2.", "Feature 𝑥 Input 𝑦Output𝐼 Instruction 𝑦! 𝑦# 𝑥."]
PROSE = [
    "Ouyang et al. trained language models to follow instructions with human feedback in 2022.",
    "The scores were 0.965, 0.934 and 0.955 on the three sets, and 2.73 seconds per page.",
    "As the Proceedings of the harbour conference show, the ferries ran at night until 1921.",
    "4.1 Knowledge Distillation",
    "Smith and Jones wrote “Ferries and bridges” for the town council in 2021.",
]


@pytest.mark.parametrize("sentence", ENTRIES + DEBRIS)
def test_entries_and_debris_that_read_as_prose_may_be_dropped_while_the_run_drops_them(sentence):
    from edgeclean.stages.sentences import vetted_by_structure

    assert reads_as_prose(sentence) and vetted_by_structure(sentence)
    assert not vetted_by_structure(sentence, frozenset()), "kept (--keep references, figures): vetoed as prose again"


@pytest.mark.parametrize("sentence", PROSE)
def test_prose_that_cites_names_a_venue_or_reports_numbers_is_never_dropped(sentence):
    from edgeclean.stages.sentences import vetted_by_structure

    assert reads_as_prose(sentence) and not vetted_by_structure(sentence)


def test_select_mode_drops_a_named_entry_and_never_the_prose_beside_it():
    from edgeclean.settings import CleanSettings
    from edgeclean.stages.chunk import Chunk
    from edgeclean.stages.model_pass import pass_chunk

    from .conftest import RecordingModel

    prose = " ".join(PROSE[:3])
    text = f"{prose}\n\n{ENTRIES[1]}\n\n{PROSE[4]}"
    chunk = Chunk(index=0, text=text, first_page=1, last_page=1, tokens=len(text.split()))
    model = RecordingModel(answer=lambda shown: "1, 2, 3, 4, 5")
    result = pass_chunk(model, chunk, CleanSettings(mode="select"))
    assert f"1: {ENTRIES[1]}" in model.prompts[0] and "2:" not in model.prompts[0]
    assert result.decision == "model" and result.text == f"{prose}\n\n{PROSE[4]}"
    assert result.attempts[0]["vetoed"] == 4, "numbers of no candidate drop nothing"
    kept = RecordingModel(answer=lambda shown: "1")
    result = pass_chunk(kept, chunk, CleanSettings(mode="select", keep="references"))
    assert not kept.prompts and result.text == text, "--keep references: the entry is no candidate"
    listed = Chunk(index=1, text="\n\n".join(ENTRIES), first_page=2, last_page=2, tokens=200)
    result = pass_chunk(RecordingModel(answer=lambda shown: "1, 2, 3"), listed, CleanSettings(mode="select"))
    assert result.decision == "model" and result.text == "", "a reference list the section rule missed may go whole"


@pytest.mark.model
def test_the_tiny_model_may_name_entries_and_never_drops_the_prose(tiny_model):
    """The real 135M model in select mode over prose and a reference list no heading announced: whatever it
    names, every prose sentence stays, and what goes is a vetted entry or debris."""
    from edgeclean.settings import CleanSettings
    from edgeclean.stages.chunk import Chunk
    from edgeclean.stages.model_pass import pass_chunk

    text = "\n\n".join([" ".join(PROSE[:3]), *ENTRIES, PROSE[4], *DEBRIS])
    chunk = Chunk(index=0, text=text, first_page=1, last_page=1, tokens=tiny_model.count_tokens(text))
    result = pass_chunk(tiny_model, chunk, CleanSettings(mode="select"))
    assert result.decision in {"model", "retry", "fallback"} and result.attempts
    kept = [s for paragraph in split_sentences(result.text) for s in paragraph]
    for sentence in PROSE[:3] + PROSE[4:]:
        assert sentence in kept, sentence
    assert set(sentences(text)) - set(kept) <= set(ENTRIES + DEBRIS)


def test_dropped_debris_is_still_held_to_the_guard():
    """A table's rows may be content (docling's ground truth keeps them): unlike entries, they count."""
    from edgeclean.settings import CleanSettings
    from edgeclean.stages.chunk import Chunk
    from edgeclean.stages.model_pass import pass_chunk

    from .conftest import RecordingModel

    rows = [f"Row{n} OTSL 0.9{n}5 0.9{n}4 HTML 0.8{n}3 2.{n}1." for n in range(8)]
    text = "\n\n".join([PROSE[0], *rows])
    chunk = Chunk(index=0, text=text, first_page=1, last_page=1, tokens=200)
    result = pass_chunk(
        RecordingModel(answer=lambda shown: "1, 2, 3, 4, 5, 6, 7, 8"), chunk, CleanSettings(mode="select")
    )
    assert result.decision == "fallback" and result.text == text
