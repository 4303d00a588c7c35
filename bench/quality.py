"""Fidelity benchmark: how much of the source each cleaning mode keeps, invents, repeats and leaves as noise.

    .venv/bin/python -m bench.quality                                   # kd100k + docling, rules and select
    .venv/bin/python -m bench.quality --docs kd100k --modes rules,select,rewrite
    .venv/bin/python -m bench.quality --docs kd,docling --modes rules --examples 0
    .venv/bin/python -m bench.quality --docs paper                       # the generated fixture: no corpus needed

Every document but "paper" comes from the real-PDF corpus: --corpus PATH, else $EDGECLEAN_CORPUS, else
../shared/corpus beside the checkout.

Measures (edgeclean.guard's words: NFKC, lower-cased, line-break hyphens joined, runs of letters/digits;
content words: length >= 4, not a stop word, not a number), each against the raw extracted source:
  recall      multiset share of the source's content words present in the output
  invented    share of the output's content words that occur nowhere in the source
  novel3      share of the output's word 3-grams that occur nowhere in the source
  repeat8     share of the output's word 8-grams that repeat an earlier one (the "source" row is the source's)
  body_recall recall of the issue's content words (the guard's words with >= 3 letters, stop words out)
              against the body: the raw text up to the first line that is only "References" or
              "Bibliography" (the whole text when there is none)
  body_cw     the same with the guard's content words (>= 4 characters, "2023a" counts): the issue's
              before-figures (0.952 on the whole KD survey in rules mode) were counted this way
  refs_left   bibliography markers (arXiv preprint, Proceedings of, pp. N, vol. N, doi:, CoRR, ...) in the
              output / in the source
  ligatures   ligature code points (U+FB00-FB06) left in the output
  noise_left  noise in the output / noise in the source, counting emails, arXiv:NNNN.NNNNN stamps,
              "et al., YYYY" and "et al. (YYYY" citations, [n] refs, letter-hyphen-newline-letter breaks,
              page-number-only lines (issue 15's patterns)
  gt_recall / gt_precision   content words against the ground truth (docling's .md, the fixture's .txt)
Rows: "notebookllama" is Meta's published Step-1 output for the same first 100,000 characters of the KD survey.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from edgeclean.results import describe_fallbacks
from edgeclean.stages.extract import PdfDocument, limit_characters
from edgeclean.stages.guard import STOP_WORDS, content_words, ngrams, novel_share, recall, repeat_share, words

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = Path(os.environ.get("EDGECLEAN_CORPUS", ROOT.parent / "shared" / "corpus"))
FIXTURES = ROOT / "tests" / "fixtures"
PAPER = FIXTURES / "paper.pdf"
GENERATED = ("paper", "languages", "notes")  # the project's own fixtures: exact ground truth, no corpus needed
DOCLING = ("2305.03393v1-pg9", "code_and_formula", "multi_page")
DOCS = ("kd100k", "kd", *DOCLING, *GENERATED)
MODES = ("notebookllama", "rules", "select", "rewrite")
TINY_MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"

# Issue 15's definitions, word for word, so the benchmark counts as the issue does.
NOISE = {
    "email": re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    "arxiv": re.compile(r"arXiv:\d{4}\.\d{4,5}"),
    "et_al": re.compile(r"et al\.,?\s*\(?\d{4}"),  # narrative "Xu et al. (2023" counts too
    "ref": re.compile(r"\[\d+(?:\s*[,–-]\s*\d+)*\]"),
    "hyphen_break": re.compile(r"[a-z]-\n\s*[a-z]"),
    "page_number": re.compile(r"(?m)^\s*\d{1,3}\s*$"),
}
REFERENCES = re.compile(
    r"arXiv preprint|Proceedings of|\bIn Proc\.|\bpp\. ?\d|\bvol\. ?\d|abs/\d{4}\.\d{4,5}|\bdoi[:.]|\bCoRR\b|"
    r"Advances in Neural Information|Association for Computational Linguistics"
)
REFERENCES_HEADING = re.compile(r"^\s*(references|bibliography)\s*$", re.IGNORECASE | re.MULTILINE)
LIGATURES = re.compile("[\ufb00-\ufb06]")


@dataclass
class Doc:
    name: str
    pdf: Path
    max_chars: int | None = None
    truth: Path | None = None

    def source(self) -> str:
        pages = PdfDocument(self.pdf).pages()
        if self.max_chars:
            pages = limit_characters(pages, self.max_chars)
        return "\n".join(page.text for page in pages)


def documents(names: list[str], corpus: Path) -> list[Doc]:
    kd = corpus / "kd-survey-2402.13116v4.pdf"
    known = {
        "kd100k": Doc("kd100k", kd, 100_000),
        "kd": Doc("kd", kd),
        **{name: Doc(name, FIXTURES / f"{name}.pdf", truth=FIXTURES / f"{name}.txt") for name in GENERATED},
    }
    for name in DOCLING:
        known[name] = Doc(name, corpus / "docling" / f"{name}.pdf", truth=corpus / "docling" / f"{name}.md")
    return [known[name] for name in names]


def noise(text: str) -> int:
    return sum(len(pattern.findall(text)) for pattern in NOISE.values())


def body(source: str) -> str:
    """The raw text up to the first line that is only a references heading: what a listener should hear."""
    heading = REFERENCES_HEADING.search(source)
    return source[: heading.start()] if heading else source


def body_words(text: str) -> list[str]:
    """Issue 15's content words: the guard's words with at least 3 letters, stop words out ("2023a" is no word)."""
    return [w for w in words(text) if sum(ch.isalpha() for ch in w) >= 3 and w not in STOP_WORDS]


def scores(source: str, output: str, truth: str | None = None) -> dict[str, float]:
    src, out = words(source), words(output)
    src_content, out_content = content_words(src), content_words(out)
    row = {
        "recall": recall(src_content, out_content),
        "body_recall": recall(body_words(body(source)), body_words(output)),
        "body_cw": recall(content_words(words(body(source))), out_content),
        "refs_left": len(REFERENCES.findall(output)) / max(1, len(REFERENCES.findall(source))),
        "ligatures": len(LIGATURES.findall(output)),
        "invented": novel_share(out_content, set(src)),
        "novel3": novel_share(ngrams(out, 3), set(ngrams(src, 3))),
        "repeat8": repeat_share(out),
        "noise_left": noise(output) / max(1, noise(source)),
    }
    if truth is not None:
        gt = content_words(words(truth))
        overlap = sum((Counter(gt) & Counter(out_content)).values())
        row["gt_recall"] = overlap / max(1, len(gt))
        row["gt_precision"] = overlap / max(1, len(out_content))
    return row


def clean(doc: Doc, mode: str, model, workdir: Path) -> tuple[str, dict]:
    """Run the real pipeline on ``doc`` in ``mode``; the text and what happened on the way."""
    from edgeclean.api import CleaningRun
    from edgeclean.settings import CleanSettings

    settings = CleanSettings(mode=mode, max_chars=doc.max_chars)
    output = workdir / f"{doc.name}.{mode}.txt"
    started = time.perf_counter()
    run = CleaningRun(doc.pdf, model, settings, output=output, restart=True)
    run.run_to_end()
    results = run.checkpoint.ordered_results()
    decisions = Counter(r.decision for r in results)
    info = {
        "seconds": time.perf_counter() - started,
        "chunks": len(results),
        "tokens": sum(r.completion_tokens for r in results),
        "fallback": decisions["fallback"],
        "retry": decisions["retry"],
        "why": describe_fallbacks(results),
    }
    return output.read_text(encoding="utf-8"), info


def removed_examples(rules_text: str, mode_text: str, limit: int) -> list[str]:
    """Sentences the rules kept that the model mode did not: what the model earned its cost with."""
    from edgeclean.stages.sentences import split_sentences

    kept = Counter(s for p in split_sentences(mode_text) for s in p)
    flat = " ".join(mode_text.split())
    examples = []
    for sentence in (s for p in split_sentences(rules_text) for s in p):
        if kept[sentence] > 0:
            kept[sentence] -= 1
        elif sentence.strip() and " ".join(sentence.split()) not in flat:  # not just split at another chunk seam
            examples.append(sentence)
    return examples[:limit]


COLUMNS = (
    "recall", "body_recall", "body_cw", "refs_left", "ligatures", "invented", "novel3", "repeat8", "noise_left",
    "gt_recall", "gt_precision",
)  # fmt: skip


def print_table(doc: Doc, rows: list[tuple[str, dict, dict]]) -> None:
    print(f"\n## {doc.name} ({doc.pdf.name}{f', first {doc.max_chars:,} characters' if doc.max_chars else ''})")
    header = f"{'mode':<14}" + "".join(f"{c:>13}" for c in COLUMNS) + f"{'chunks':>8}{'fallback':>9}{'retry':>6}"
    print(header + f"{'tokens':>8}{'seconds':>9}")
    for mode, row, info in rows:
        cells = "".join(f"{row[c]:>13.3f}" if c in row else f"{'':>13}" for c in COLUMNS)
        extra = "".join(f"{info.get(k, ''):>{w}}" for k, w in (("chunks", 8), ("fallback", 9), ("retry", 6)))
        tokens, seconds = info.get("tokens", ""), info.get("seconds")
        print(f"{mode:<14}{cells}{extra}{tokens:>8}" + (f"{seconds:>9.1f}" if seconds is not None else ""))
    for mode, _, info in rows:
        if info.get("why"):
            print(f"  {mode} fell back: {info['why']}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", default="kd100k,docling", help=f"comma list of {', '.join(DOCS)}, or docling")
    parser.add_argument("--modes", default="notebookllama,rules,select", help=f"comma list of {', '.join(MODES)}")
    parser.add_argument("--model", default=str(TINY_MODEL), help="GGUF model for select and rewrite")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--examples", type=int, default=6, help="removals to show per model mode and document")
    parser.add_argument("--keep", type=Path, help="write the outputs into this directory")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="the real-PDF corpus [%(default)s]")
    args = parser.parse_args(argv)
    groups = {"docling": DOCLING, "fixtures": GENERATED}
    names = [n for item in args.docs.split(",") for n in groups.get(item, (item,))]
    modes = args.modes.split(",")
    for name in [*names, *modes]:
        if name not in DOCS + MODES:
            parser.error(f"unknown document or mode {name!r}")
    if set(names) - set(GENERATED) and not (args.corpus / "kd-survey-2402.13116v4.pdf").is_file():
        parser.error(
            f"no real-PDF corpus at {args.corpus}: pass --corpus PATH or set EDGECLEAN_CORPUS (--docs paper needs none)"
        )
    model = None
    if {"select", "rewrite"} & set(modes):
        from edgeclean.model.llama.adapter import LlamaCppModel

        model = LlamaCppModel(args.model, n_ctx=2048, n_gpu_layers=0, threads=args.threads)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="edgeclean-quality-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for doc in documents(names, args.corpus):
        run_document(doc, modes, model, workdir, args.examples, args.corpus)


def run_document(doc: Doc, modes: list[str], model, workdir: Path, examples: int, corpus: Path) -> None:
    source = doc.source()
    truth = doc.truth.read_text(encoding="utf-8") if doc.truth else None
    src_words = words(source)
    rows = [("source", {"repeat8": repeat_share(src_words)}, {})]
    if truth is not None:
        rows.append(("source (raw)", scores(source, source, truth), {}))
    texts = {}
    for mode in modes:
        if mode == "notebookllama":
            if doc.name == "kd100k":
                text = (corpus / "notebookllama-step1-output.txt").read_text(encoding="utf-8")
                rows.append((mode, scores(source, text, truth), {}))
            continue
        texts[mode], info = clean(doc, mode, model, workdir)
        rows.append((mode, scores(source, texts[mode], truth), info))
    print_table(doc, rows)
    for mode in ("select", "rewrite"):
        if mode in texts and "rules" in texts and examples:
            print(f"  {mode} removed, beyond the rules (up to {examples}):")
            for sentence in removed_examples(texts["rules"], texts[mode], examples):
                print(f"    - {sentence[:160]!r}")


if __name__ == "__main__":
    main()
