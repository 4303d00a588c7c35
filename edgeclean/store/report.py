"""A single self-contained HTML page showing, chunk by chunk, what cleaning changed; built from a checkpoint."""

from __future__ import annotations

import difflib
import html
import re
from pathlib import Path

from ..paths import run_name
from ..results import ChunkResult, RunSummary, describe_removed
from .checkpoint import Checkpoint
from .output import write_atomically

WORD = re.compile(r"\S+\s*")
# The guard's decisions that changed what the model answered: a second answer, or the rule-cleaned text kept.
INTERVENTIONS = ("retry", "fallback")


def write_report(checkpoint_path: Path, report_path: Path) -> Path:
    write_atomically(report_path, render_report(Checkpoint.read(checkpoint_path), checkpoint_path))
    return report_path


class Html(str):
    """Markup built here from escaped parts: the one kind of value ``fill`` puts in a page unescaped."""


def fill(template: str, **values) -> Html:
    """The one place values enter the page: each is escaped, numbers and checkpoint fields alike, unless it is
    markup this module built (``Html``)."""
    return Html(template.format(**{k: v if isinstance(v, Html) else html.escape(str(v)) for k, v in values.items()}))


def render_report(checkpoint: Checkpoint, checkpoint_path: Path) -> str:
    summary = checkpoint.summary()
    sections = Html("\n".join(_chunk_section(result) for result in summary.results))
    removed = _removed_section(checkpoint.header.get("rules_removed_examples", {}))
    return fill(
        PAGE,
        title=run_name(checkpoint_path),
        summary=_summary(checkpoint, summary),
        removed=removed,
        sections=sections or Html("<p>No chunk has been cleaned yet.</p>"),
    )


def _summary(checkpoint: Checkpoint, summary: RunSummary) -> Html:
    fingerprint = checkpoint.fingerprint
    rows = [
        ("document", f"sha256 {str(fingerprint.get('pdf_sha256', '?'))[:16]}…"),
        ("model", fingerprint.get("model", "?")),
        ("backend", fingerprint.get("device", "?")),
        ("mode", fingerprint.get("mode", "rewrite")),
        ("chunks", f"{summary.done} of {summary.total} cleaned"),
        ("model time", f"{summary.model_seconds:.1f} s"),
        ("tokens/s", f"{summary.tokens_per_chunk_second:.0f}" if summary.model_seconds else "–"),
        ("outcomes", ", ".join(f"{name}: {count}" for name, count in sorted(summary.decisions().items())) or "–"),
        ("fell back", summary.describe_fallbacks() or "–"),
        ("rules removed", describe_removed(checkpoint.header.get("rules_removed", {})) or "–"),
        ("started", checkpoint.header.get("started", "?")),
    ]
    return Html("\n".join(fill("<tr><th>{k}</th><td>{v}</td></tr>", k=k, v=v) for k, v in rows))


def _removed_section(examples: dict) -> Html:
    """The first spans each rule removed before any chunk was cut, struck through, so a rule can be judged."""
    rules = [(rule, spans) for rule, spans in sorted(examples.items()) if spans]
    if not rules:
        return Html("")
    items = (
        fill(
            "<li><b>{rule}</b>: {spans}</li>",
            rule=rule,
            spans=Html(" · ".join(fill("<del>{span}</del>", span=span) for span in spans)),
        )
        for rule, spans in rules
    )
    return fill(REMOVED, items=Html("\n".join(items)))


def _decision_text(result: ChunkResult) -> str:
    """ "fallback (guard: summarised)", "rules-only: no candidates", "model"."""
    if not result.fallback_reason:
        return result.decision
    if result.decision == "rules-only":
        return f"rules-only: {result.fallback_reason}"
    return f"{result.decision} ({result.fallback_reason})"


def _chunk_section(result: ChunkResult) -> Html:
    attempts = result.attempts or [{}]
    scores = {k: v for k, v in attempts[-1].items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    score_text = " · ".join(f"{k} {_number(v)}" for k, v in scores.items())
    before, after = side_by_side(result.source_text, result.text)
    decision = result.decision
    return fill(
        CHUNK,
        index=result.index + 1,
        pages=result.pages,
        decision=_decision_text(result),
        flag="intervened" if decision in INTERVENTIONS else "kept",
        scores=score_text or f"{result.completion_tokens} answer tokens · finish {result.finish_reason}",
        before=before or Html("<em>(source text not recorded)</em>"),
        after=after,
    )


def side_by_side(source: str, cleaned: str) -> tuple[Html, Html]:
    """Word-level diff: removed words marked on the left, added words on the right, all text escaped."""
    left_words, right_words = WORD.findall(source), WORD.findall(cleaned)
    matcher = difflib.SequenceMatcher(
        a=[w.strip() for w in left_words], b=[w.strip() for w in right_words], autojunk=False
    )
    left, right = [], []
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        old, new = "".join(left_words[a1:a2]), "".join(right_words[b1:b2])
        if tag == "equal":
            left.append(fill("{text}", text=old))
            right.append(fill("{text}", text=new))
        else:
            if old:
                left.append(fill("<del>{text}</del>", text=old))
            if new:
                right.append(fill("<ins>{text}</ins>", text=new))
    return Html("".join(left)), Html("".join(right))


def _number(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeclean report: {title}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #222; }}
h1 {{ font-size: 1.3rem; }}
table.summary th {{ text-align: left; padding-right: 1rem; color: #555; font-weight: 600; }}
.controls {{ margin: 1rem 0; display: flex; gap: 1.5rem; align-items: center; }}
details {{ border: 1px solid #ddd; border-radius: 6px; margin: .4rem 0; }}
details[data-flag=intervened] {{ border-color: #d08a00; }}
summary {{ cursor: pointer; padding: .4rem .7rem; background: #f6f6f6; }}
summary .decision {{ font-weight: 600; }}
details[data-flag=intervened] summary .decision {{ color: #a05a00; }}
.scores {{ color: #666; margin-left: 1rem; }}
.diff {{ display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; padding: .7rem; }}
.diff h3 {{ margin: 0 0 .3rem; font-size: .9rem; color: #555; }}
.diff div.text {{ white-space: pre-wrap; word-wrap: break-word; font: 12.5px/1.5 ui-monospace, monospace; }}
del {{ background: #ffd7d5; text-decoration: line-through; color: #8a1f17; }}
ins {{ background: #d3f5d3; text-decoration: none; color: #155d15; }}
body.only-intervened details[data-flag=kept] {{ display: none; }}
</style></head>
<body>
<h1>edgeclean report: {title}</h1>
<table class="summary">
{summary}
</table>
{removed}
<div class="controls">
<label><input type="checkbox" id="only-intervened"> only chunks where the guard intervened</label>
<button type="button" id="expand">expand all</button>
<button type="button" id="collapse">collapse all</button>
<span id="shown"></span>
</div>
{sections}
<script>
(function () {{
  var all = document.querySelectorAll("details.chunk");
  function count() {{
    var only = document.body.classList.contains("only-intervened");
    var shown = Array.prototype.filter.call(all, function (d) {{ return !only || d.dataset.flag === "intervened"; }});
    document.getElementById("shown").textContent = shown.length + " of " + all.length + " chunks shown";
  }}
  document.getElementById("only-intervened").addEventListener("change", function (e) {{
    document.body.classList.toggle("only-intervened", e.target.checked); count();
  }});
  function setOpen(open) {{ all.forEach(function (d) {{ d.open = open; }}); }}
  document.getElementById("expand").addEventListener("click", function () {{ setOpen(true); }});
  document.getElementById("collapse").addEventListener("click", function () {{ setOpen(false); }});
  var linked = location.hash && document.getElementById(location.hash.slice(1));
  if (linked && linked.tagName === "DETAILS") {{ linked.open = true; }}
  count();
  document.body.dataset.ready = "yes";
}})();
</script>
</body></html>
"""

REMOVED = """<details class="removed">
<summary>removed by the rules before chunking (the first spans of each rule)</summary>
<ul>
{items}
</ul></details>"""

CHUNK = """<details class="chunk" data-flag="{flag}" id="chunk-{index}">
<summary>chunk {index} · pages {pages} · <span class="decision">{decision}</span>
<span class="scores">{scores}</span></summary>
<div class="diff"><div><h3>input (after rule pre-cleaning)</h3><div class="text">{before}</div></div>
<div><h3>cleaned</h3><div class="text">{after}</div></div></div>
</details>"""
