"""Speed of cleaning: every arm on the same chunks, the same prompt text and the same weights, in one run.

    python -m bench.speed                              # KD survey pages 1-10, 8 chunks, K=8
    python -m bench.speed --torch-python /tmp/tvenv/bin/python --rounds 2
    python -m bench.speed --pdf tests/fixtures/paper.pdf --pages 1-3   # no corpus needed

The default PDF is the KD survey in the real-PDF corpus: --corpus PATH, else $EDGECLEAN_CORPUS, else
../shared/corpus beside the checkout.

Each arm runs in its own child process, so its peak RSS is its own; loading the model is not timed.
  a   edgeclean's decode path as `clean --mode rewrite` runs it: the chunks' rewrite prompts through
      LlamaCppModel.complete_many, K at a time, continuous batching, system prompt evaluated once
  a1  the same with --parallel 1 (single-stream decode, compared with d)
  b   a naive loop: one llama-cpp-python create_chat_completion per chunk
  c   the notebook's way: HF transformers generate(), one chunk at a time, the same GGUF weights
      (run by --torch-python, an interpreter with torch, transformers and gguf; skipped without one)
  d   the ceiling: a bare low-level greedy decode, one sequence, of the answer lengths arm a produced
  s   `clean` as users run it by default (--mode select, guard and retries included), K at a time
  s1  the same one chunk at a time
  Wr, Ws, Ww  the whole document (--doc-pages), `edgeclean clean --mode rules|select|rewrite` as a user runs it,
      model load included, with bench.quality's fidelity figures (bench/whole.py)
Every answer is greedy with the same limit (rewrite's: 1.25 x the chunk's tokens + 16), so a, a1, b and d
decode the same tokens; c's numerics differ, so its answers may end elsewhere (its tokens are counted).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

from bench.whole import WHOLE_ARMS, arm_whole, whole_lines

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = Path(os.environ.get("EDGECLEAN_CORPUS", ROOT.parent / "shared" / "corpus"))
KD_SURVEY = "kd-survey-2402.13116v4.pdf"
MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
ARMS = ("a", "a1", "b", "c", "d", "s", "s1", *WHOLE_ARMS)


def prepare(args) -> dict:
    """Extract, rule-clean and chunk the PDF as edgeclean does; keep the first --chunks chunks and their prompts."""
    from edgeclean.model.llama.adapter import LlamaCppModel
    from edgeclean.plan import RunPlan
    from edgeclean.settings import CleanSettings
    from edgeclean.stages.extract import PdfDocument
    from edgeclean.stages.model_pass import rewrite_answer_limit, rewrite_prompt
    from edgeclean.stages.prepare import prepare_chunks

    settings = CleanSettings(n_ctx=args.ctx, chunk_tokens=args.chunk_tokens, pages=args.pages, mode="rewrite")
    model = LlamaCppModel(args.model, n_ctx=args.ctx, n_gpu_layers=0, threads=args.threads)
    document = PdfDocument(args.pdf)
    plan = RunPlan.resolve(settings, model, document.page_count)
    prepared = prepare_chunks(document, model, settings, chunk_tokens=plan.chunk_tokens, page_numbers=plan.page_numbers)
    chunks = prepared.chunks[: args.chunks]
    job = {
        "model": str(args.model),
        "ctx": args.ctx,
        "threads": args.threads,
        "parallel": args.parallel,
        "texts": [c.text for c in chunks],
        "tokens": [c.tokens for c in chunks],
        "prompts": [rewrite_prompt(model, c.text) for c in chunks],
        "limits": [rewrite_answer_limit(settings, c.tokens) for c in chunks],
        "pdf": str(args.pdf),
        "doc_pages": args.doc_pages,
    }
    model.close()
    return job


def _model(job: dict):
    from edgeclean.model.llama.adapter import LlamaCppModel

    return LlamaCppModel(job["model"], n_ctx=job["ctx"], n_gpu_layers=0, threads=job["threads"])


def arm_edgeclean(job: dict, parallel: int) -> dict:
    from edgeclean.model.protocol import Ask
    from edgeclean.settings import CleanSettings
    from edgeclean.stages.model_pass import prompt_prefixes

    model = _model(job)
    settings = CleanSettings(n_ctx=job["ctx"], mode="rewrite")
    asks = deque(enumerate(Ask(p, limit) for p, limit in zip(job["prompts"], job["limits"], strict=True)))
    started = time.perf_counter()
    answers = dict(
        model.complete_many(
            asks,
            parallel=parallel,
            prefixes=prompt_prefixes(model, settings),
        )
    )
    wall = time.perf_counter() - started
    ordered = [answers[i] for i in range(len(job["prompts"]))]
    report = _report(wall, [a.prompt_tokens for a in ordered], [a.completion_tokens for a in ordered], ordered)
    if parallel == 1:  # one at a time, so the answers' own clocks add up to the decode time
        report["decode_seconds"] = sum(a.seconds - a.prompt_seconds for a in ordered)
    return report


def arm_select(job: dict, parallel: int) -> dict:
    from edgeclean.settings import CleanSettings
    from edgeclean.stages.chunk import Chunk
    from edgeclean.stages.model_pass import pass_chunks

    model = _model(job)
    pairs = enumerate(zip(job["texts"], job["tokens"], strict=True))
    chunks = [Chunk(i, text, 1, 1, tokens) for i, (text, tokens) in pairs]
    started = time.perf_counter()
    results = list(pass_chunks(model, chunks, CleanSettings(n_ctx=job["ctx"]), parallel=parallel))
    wall = time.perf_counter() - started
    report = _report(wall, [r.prompt_tokens for r in results], [r.completion_tokens for r in results])
    report["decisions"] = sorted(r.decision for r in results)
    return report


def arm_naive(job: dict) -> dict:
    import llama_cpp

    from edgeclean.stages.prompt import SYSTEM_PROMPT

    llama = llama_cpp.Llama(
        job["model"], n_ctx=job["ctx"], n_threads=job["threads"], n_threads_batch=job["threads"], verbose=False
    )
    prompt_tokens, answer_tokens, texts = [], [], []
    started = time.perf_counter()
    for text, limit in zip(job["texts"], job["limits"], strict=True):
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]
        answer = llama.create_chat_completion(
            messages, max_tokens=limit, temperature=0.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0
        )
        prompt_tokens.append(answer["usage"]["prompt_tokens"])
        answer_tokens.append(answer["usage"]["completion_tokens"])
        texts.append(answer["choices"][0]["message"]["content"])
    wall = time.perf_counter() - started
    llama.close()
    report = _report(wall, prompt_tokens, answer_tokens)
    report["texts"] = texts
    return report


def arm_transformers(job: dict) -> dict:
    """Runs under --torch-python: needs only torch, transformers and gguf, not edgeclean's own dependencies."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(job["threads"])
    path = Path(job["model"])
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
    prompt_tokens, answer_tokens = [], []
    started = time.perf_counter()
    for prompt, limit in zip(job["prompts"], job["limits"], strict=True):
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
        with torch.inference_mode():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=limit, do_sample=False)
        prompt_tokens.append(ids.shape[1])
        answer_tokens.append(out.shape[1] - ids.shape[1])
    return _report(time.perf_counter() - started, prompt_tokens, answer_tokens)


def arm_bare(job: dict, answer_counts: list[int]) -> dict:
    """One sequence: the prompt in one batch, then exactly N single-token greedy decodes. No text, no Python work."""
    import llama_cpp

    llama = llama_cpp.Llama(
        job["model"], n_ctx=job["ctx"], n_threads=job["threads"], n_threads_batch=job["threads"], verbose=False
    )
    ctx = llama._ctx.ctx
    memory = llama_cpp.llama_get_memory(ctx)
    sampler = llama_cpp.llama_sampler_init_greedy()
    prompts = [llama.tokenize(p.encode(), add_bos=False, special=True) for p in job["prompts"]]
    started, decode_seconds = time.perf_counter(), 0.0
    for tokens, count in zip(prompts, answer_counts, strict=True):
        llama_cpp.llama_memory_clear(memory, True)
        array = (llama_cpp.llama_token * len(tokens))(*tokens)
        llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(array, len(tokens)))
        token = (llama_cpp.llama_token * 1)()
        first = time.perf_counter()
        token[0] = llama_cpp.llama_sampler_sample(sampler, ctx, -1)
        for _ in range(count - 1):  # the last answer token is sampled, never decoded, as in arm a
            llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(token, 1))
            token[0] = llama_cpp.llama_sampler_sample(sampler, ctx, -1)
        decode_seconds += time.perf_counter() - first
    wall = time.perf_counter() - started
    llama_cpp.llama_sampler_free(sampler)
    llama.close()
    report = _report(wall, [len(t) for t in prompts], answer_counts)
    report["decode_seconds"] = decode_seconds
    return report


def _report(wall: float, prompt_tokens: list[int], answer_tokens: list[int], completions=None) -> dict:
    report = {
        "wall": wall,
        "chunks": len(prompt_tokens),
        "prompt_tokens": sum(prompt_tokens),
        "answer_tokens": sum(answer_tokens),
        "answer_counts": answer_tokens,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if completions is not None:
        report["texts"] = [c.text for c in completions]
    return report


def _child(arm: str, job_path: Path, counts: list[int] | None, torch_python: str | None) -> dict:
    python = torch_python if arm == "c" else sys.executable
    if python is None:
        return {"skipped": "no --torch-python (an interpreter with torch, transformers and gguf) was given"}
    command = [python, "-m", "bench.speed", "--child", arm, "--job", str(job_path)]
    if counts is not None:
        command += ["--counts", ",".join(map(str, counts))]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"skipped": f"failed: {done.stderr.strip().splitlines()[-1:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _table(job: dict, runs: dict[str, list[dict]]) -> str:
    lines = [
        f"{'arm':4} {'wall s':>8} {'chunks/s':>9} {'prompt tok/s':>13} {'answer tok/s':>13} {'answer tok':>11} "
        f"{'peak RSS MB':>12}"
    ]
    best = {}
    for arm, results in runs.items():
        done = [r for r in results if "skipped" not in r]
        if not done:
            lines.append(f"{arm:4} skipped: {results[0]['skipped']}")
            continue
        r = min(done, key=lambda x: x["wall"])  # best of rounds: the least disturbed by other load
        best[arm] = r
        lines.append(
            f"{arm:4} {r['wall']:8.1f} {r['chunks'] / r['wall']:9.3f} {r['prompt_tokens'] / r['wall']:13.1f} "
            f"{r['answer_tokens'] / r['wall']:13.1f} {r['answer_tokens']:11d} {r['peak_rss_mb']:12.0f}"
        )
    lines.append(
        "walls per round: "
        + "; ".join(f"{a}=" + ",".join(f"{r.get('wall', 0):.1f}" for r in rs) for a, rs in runs.items())
    )
    for other in ("b", "c", "d", "a1"):
        if "a" in best and other in best:
            lines.append(f"a vs {other}: {best[other]['wall'] / best['a']['wall']:.2f}x faster (wall time ratio)")
    if "a1" in best and "d" in best:
        a1, d = best["a1"], best["d"]
        rates = [r["answer_tokens"] / r["decode_seconds"] for r in (a1, d)]
        lines.append(
            f"single-stream decode (after the prompt): a1 {rates[0]:.1f} tok/s, bare loop d {rates[1]:.1f} tok/s: "
            f"{rates[0] / rates[1]:.2f}x"
        )
    if "s" in best and "s1" in best:
        speedup = best["s1"]["wall"] / best["s"]["wall"]
        lines.append(f"s vs s1: {speedup:.2f}x faster; decisions {best['s']['decisions']}")
    same = [arm for arm in ("a1", "b") if arm in best and "a" in best and best[arm]["texts"] == best["a"]["texts"]]
    if "a" in best:
        lines.append(f"answers identical to arm a's: {', '.join(same) or 'none'} (of a1, b)")
    lines += whole_lines(best)
    model_mb = Path(job["model"]).stat().st_size / 2**20
    lines.append(f"model file {model_mb:.0f} MB; RSS target <= {model_mb + 300:.0f} MB")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="the real-PDF corpus [%(default)s]")
    parser.add_argument("--pdf", type=Path, help=f"the PDF to clean [the corpus's {KD_SURVEY}]")
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--pages", default="1-10")
    parser.add_argument("--chunks", type=int, default=8, help="Clean only the first N chunks.")
    parser.add_argument("--doc-pages", default="", help="Pages for the whole-document arms [all]")
    parser.add_argument("--chunk-tokens", type=int, default=300)
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parallel", type=int, help="K of arms a and s. [default: edgeclean's on a CPU]")
    parser.add_argument("--rounds", type=int, default=1, help="Interleaved rounds; the table shows each arm's best.")
    parser.add_argument("--arms", default="a,a1,b,c,d,s,s1", help=f"comma list of {', '.join(ARMS)}")
    parser.add_argument("--torch-python", help="A Python with torch, transformers and gguf, for arm c.")
    parser.add_argument("--child", choices=ARMS, help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--counts", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(args.job.read_text())
        counts = [int(x) for x in args.counts.split(",")] if args.counts else None
        run = {
            "a": lambda: arm_edgeclean(job, job["parallel"]),
            "a1": lambda: arm_edgeclean(job, 1),
            "b": lambda: arm_naive(job),
            "c": lambda: arm_transformers(job),
            "d": lambda: arm_bare(job, counts),
            "s": lambda: arm_select(job, job["parallel"]),
            "s1": lambda: arm_select(job, 1),
            **{arm: (lambda mode=mode: arm_whole(job, mode)) for arm, mode in WHOLE_ARMS.items()},
        }[args.child]
        print(json.dumps(run()))
        return
    from edgeclean.model.hardware import PARALLEL_CPU  # not at the top: arm c's interpreter lacks edgeclean's needs

    args.parallel = args.parallel or PARALLEL_CPU
    args.pdf = args.pdf or args.corpus / KD_SURVEY
    if not args.pdf.is_file():
        parser.error(f"no PDF at {args.pdf}: pass --corpus PATH, set EDGECLEAN_CORPUS, or pass --pdf FILE")
    job = prepare(args)
    arms = [arm for arm in ARMS if arm in args.arms.split(",")]
    print(
        f"{len(job['texts'])} chunks from {args.pdf.name} pages {args.pages}, {args.chunk_tokens}-token chunks, "
        f"answer limits {job['limits']}, K={args.parallel}, {args.threads} threads, {args.rounds} round(s)",
        flush=True,
    )
    runs: dict[str, list[dict]] = {arm: [] for arm in arms}
    with tempfile.TemporaryDirectory() as scratch:
        job_path = Path(scratch) / "job.json"
        job_path.write_text(json.dumps(job))
        counts = None
        for _ in range(args.rounds):
            for arm in arms:
                if arm == "d" and counts is None:
                    counts = job["limits"]  # arm a did not run: decode the full answer limits
                result = _child(arm, job_path, counts if arm == "d" else None, args.torch_python)
                runs[arm].append(result)
                if arm == "a" and "answer_counts" in result:
                    counts = result["answer_counts"]
                print(f"  {arm}: {result.get('wall', result.get('skipped'))}", flush=True)
    print(_table(job, runs))


if __name__ == "__main__":
    main()
