"""Copy-aware (prompt-lookup) decoding against plain decoding, on bench.speed's chunks, in one run.

    python -m bench.lookup --model /tmp/proxy/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
    python -m bench.lookup --pdf tests/fixtures/paper.pdf --pages 1-3 --arms a1,l1   # no corpus needed

Arms (each in its own child process, loading not timed; --rounds alternates them):
  a1  edgeclean's rewrite decode, one chunk at a time, plain decoding
  d   the bare loop: one sequence, prompt then single-token greedy decodes of a1's answer lengths (bench.speed's d)
  b   the naive loop: one create_chat_completion per chunk (bench.speed's arm b)
  a   the same, K at a time
  l1  a1 with drafts of up to --draft tokens copied from the chunk, verified in one decode
  l   a with drafts
  p   a, but every waiting prompt of the first wave evaluated together in one decode (BatchEngine.prompts_together)
The table gives each arm's wall time, answer tokens/s, its speed against b, whether its answers equal a1's
byte for byte, and for l/l1 the drafts: how many, the mean accepted length, the share of drafted tokens kept.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

from bench.speed import DEFAULT_CORPUS, KD_SURVEY, MODEL, ROOT, _report, arm_bare, arm_naive, prepare

ARMS = ("a1", "d", "b", "a", "l1", "l", "p")  # a1 first: d decodes a1's answer lengths


def arm_engine(job: dict, parallel: int, draft: int, together: bool = False) -> dict:
    from edgeclean.model.llama.adapter import LlamaCppModel
    from edgeclean.model.protocol import Ask
    from edgeclean.settings import CleanSettings
    from edgeclean.stages.model_pass import prompt_prefixes

    model = LlamaCppModel(job["model"], n_ctx=job["ctx"], n_gpu_layers=0, threads=job["threads"], draft=draft)
    prefixes = prompt_prefixes(model, CleanSettings(n_ctx=job["ctx"], mode="rewrite"))
    asks = deque(enumerate(Ask(p, limit) for p, limit in zip(job["prompts"], job["limits"], strict=True)))
    if together:
        model._engine_for(parallel, model.context_needed(asks, prefixes)).prompts_together = True
    started = time.perf_counter()
    answers = dict(model.complete_many(asks, parallel=parallel, prefixes=prefixes))
    wall = time.perf_counter() - started
    ordered = [answers[i] for i in range(len(job["prompts"]))]
    report = _report(wall, [a.prompt_tokens for a in ordered], [a.completion_tokens for a in ordered], ordered)
    engine = model._engine
    report.update(drafts=engine.drafts, drafted=engine.drafted, accepted=engine.accepted)
    model.close()
    return report


def _child(arm: str, job_path: Path, counts: list[int] | None) -> dict:
    command = [sys.executable, "-m", "bench.lookup", "--child", arm, "--job", str(job_path)]
    if counts is not None:
        command += ["--counts", ",".join(map(str, counts))]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    if done.returncode != 0:
        return {"skipped": f"failed: {done.stderr.strip().splitlines()[-1:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _table(runs: dict[str, list[dict]]) -> str:
    lines = [f"{'arm':4} {'wall s':>8} {'answer tok/s':>13} {'answer tok':>11} {'vs b':>6} {'= a1':>5}  drafts"]
    best = {arm: min(rs, key=lambda r: r["wall"]) for arm, rs in runs.items() if rs and "wall" in rs[0]}
    for arm, r in best.items():
        speed = f"{best['b']['wall'] / r['wall']:6.2f}" if "b" in best else "     -"
        same = "-" if "texts" not in r or "a1" not in best else ("yes" if r["texts"] == best["a1"]["texts"] else "NO")
        drafts = ""
        if r.get("drafts"):
            drafts = (
                f"{r['drafts']} drafting steps, {r['accepted'] / r['drafts']:.2f} draft tokens accepted per step, "
                f"{r['accepted'] / r['drafted']:.0%} of {r['drafted']} draft rows kept"
            )
        lines.append(
            f"{arm:4} {r['wall']:8.1f} {r['answer_tokens'] / r['wall']:13.1f} {r['answer_tokens']:11d} {speed} "
            f"{same:>5}  {drafts}"
        )
        if "texts" in r and "a1" in best and r["texts"] != best["a1"]["texts"]:
            lines.append("     " + _first_difference(best["a1"]["texts"], r["texts"]))
    if "l" in best and "l1" in best:
        lines.append(f"l answers identical to l1's (drafts at K and at 1): {best['l']['texts'] == best['l1']['texts']}")
    lines.append(
        "walls per round: "
        + "; ".join(f"{a}=" + ",".join(f"{r.get('wall', 0):.1f}" for r in rs) for a, rs in runs.items())
    )
    for arm, rs in runs.items():
        lines += [f"{arm}: {r['skipped']}" for r in rs if "skipped" in r]
    return "\n".join(lines)


def _first_difference(expected: list[str], got: list[str]) -> str:
    for chunk, (x, y) in enumerate(zip(expected, got, strict=True)):
        if x != y:
            at = next((i for i, (u, v) in enumerate(zip(x, y, strict=False)) if u != v), min(len(x), len(y)))
            return (
                f"chunk {chunk} differs from a1 at character {at}: {x[at - 30 : at + 20]!r} vs {y[at - 30 : at + 20]!r}"
            )
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--pdf", type=Path)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--pages", default="1-10")
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--chunk-tokens", type=int, default=300)
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=8, help="K of arms a, l and p.")
    parser.add_argument("--draft", type=int, default=8, help="Most draft tokens of arms l and l1.")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--child", choices=ARMS, help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--counts", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(args.job.read_text())
        counts = [int(x) for x in args.counts.split(",")] if args.counts else None
        k, draft = job["parallel"], job["draft"]
        run = {
            "b": lambda: arm_naive(job),
            "d": lambda: arm_bare(job, counts),
            "a1": lambda: arm_engine(job, 1, 0),
            "a": lambda: arm_engine(job, k, 0),
            "l1": lambda: arm_engine(job, 1, draft),
            "l": lambda: arm_engine(job, k, draft),
            "p": lambda: arm_engine(job, k, 0, together=True),
        }[args.child]
        print(json.dumps(run()))
        return
    args.pdf = args.pdf or args.corpus / KD_SURVEY
    job = prepare(args)
    job["draft"] = args.draft
    arms = [arm for arm in ARMS if arm in args.arms.split(",")]
    print(
        f"{len(job['texts'])} chunks, limits {job['limits']}, K={args.parallel}, draft {args.draft}, "
        f"{args.threads} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, "
        f"{Path(args.model).name}",
        flush=True,
    )
    runs: dict[str, list[dict]] = {arm: [] for arm in arms}
    with tempfile.TemporaryDirectory() as scratch:
        job_path = Path(scratch) / "job.json"
        job_path.write_text(json.dumps(job))
        counts = job["limits"]
        for round_ in range(args.rounds):
            for arm in arms if round_ % 2 == 0 else arms[::-1]:  # alternate the order: load drifts
                result = _child(arm, job_path, counts if arm == "d" else None)
                runs[arm].append(result)
                if arm == "a1" and "answer_counts" in result:
                    counts = result["answer_counts"]
                print(f"  {arm}: {result.get('wall', result.get('skipped'))}", flush=True)
    print(_table(runs))


if __name__ == "__main__":
    main()
