"""Speed of cleaning, every arm on the same chunks, prompt and weights, interleaved in one run.

    python -m bench.speed --pages 1-10 --chunks 8 --rounds 2

Arms, each in its own child process (so peak RSS is its own; model loading is not timed):
  a   edgeclean as users run it: greedy, --parallel K chunks per context, fixed groups (the default path)
  a1  the same engine with --parallel 1 (single-stream decode, compared with d)
  b   a naive loop: one llama-cpp-python create_chat_completion per chunk
  c   the notebook's way: HF transformers generate(), one chunk at a time, the same GGUF weights
      (skipped with a message when torch/transformers/gguf are missing)
  d   the ceiling: a bare low-level greedy decode, one sequence, of the token counts arm a produced
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PDF = ROOT.parent / "shared" / "corpus" / "kd-survey-2402.13116v4.pdf"
MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
ARMS = ("a", "a1", "b", "c", "d")


def prepare(args) -> dict:
    """Chunk the PDF the way edgeclean does and keep the first --chunks chunks with their answer limits."""
    from edgeclean.backend import LlamaCppModel
    from edgeclean.chunk import chunk_pages
    from edgeclean.extract import PdfDocument, parse_page_ranges
    from edgeclean.settings import CleanSettings

    model = LlamaCppModel(args.model, n_ctx=args.ctx, n_gpu_layers=0, threads=args.threads)
    document = PdfDocument(args.pdf)
    try:
        pages = document.pages(parse_page_ranges(args.pages, document.page_count))
        chunks = list(chunk_pages(pages, model.count_tokens, args.chunk_tokens))[: args.chunks]
    finally:
        document.close()
        model.close()
    settings = CleanSettings(n_ctx=args.ctx)
    limits = [min(settings.max_answer_tokens(c.tokens), args.max_tokens or 10**9) for c in chunks]
    return {
        "model": str(args.model),
        "ctx": args.ctx,
        "threads": args.threads,
        "parallel": args.parallel,
        "texts": [c.text for c in chunks],
        "limits": limits,
    }


def arm_edgeclean(job: dict, parallel: int) -> dict:
    from edgeclean.backend import LlamaCppModel
    from edgeclean.chunk import Chunk
    from edgeclean.clean import clean_chunks_batched
    from edgeclean.settings import CleanSettings

    model = LlamaCppModel(job["model"], n_ctx=job["ctx"], n_gpu_layers=0, threads=job["threads"])
    chunks = [Chunk(i, text, 1, 1, model.count_tokens(text)) for i, text in enumerate(job["texts"])]
    # The answer limit is the benchmark's, so every arm decodes the same budget.
    settings = _LimitedSettings(CleanSettings(n_ctx=job["ctx"], parallel=parallel), job["limits"], chunks)
    started = time.perf_counter()
    results = list(clean_chunks_batched(model, chunks, settings, done=set()))
    wall = time.perf_counter() - started
    by_index = {r.index: r for r in results}
    return _report(
        wall,
        [by_index[i].prompt_tokens for i in range(len(chunks))],
        [by_index[i].completion_tokens for i in range(len(chunks))],
    )


class _LimitedSettings:
    """CleanSettings whose answer limit for each chunk is the benchmark's (looked up by chunk token count)."""

    def __init__(self, settings, limits, chunks):
        self._settings = settings
        self._limits = {chunk.tokens: limit for chunk, limit in zip(chunks, limits, strict=True)}

    def __getattr__(self, name):
        return getattr(self._settings, name)

    def max_answer_tokens(self, chunk_tokens: int) -> int:
        return self._limits[chunk_tokens]


def arm_naive(job: dict) -> dict:
    import llama_cpp

    from edgeclean.prompt import SYSTEM_PROMPT

    llama = llama_cpp.Llama(
        job["model"], n_ctx=job["ctx"], n_threads=job["threads"], n_threads_batch=job["threads"], verbose=False
    )
    prompt_tokens, answer_tokens = [], []
    started = time.perf_counter()
    for text, limit in zip(job["texts"], job["limits"], strict=True):
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]
        answer = llama.create_chat_completion(messages, max_tokens=limit, temperature=0.0)
        prompt_tokens.append(answer["usage"]["prompt_tokens"])
        answer_tokens.append(answer["usage"]["completion_tokens"])
    return _report(time.perf_counter() - started, prompt_tokens, answer_tokens)


def arm_transformers(job: dict) -> dict:
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        return {"skipped": f"torch/transformers missing ({error}); pip install torch transformers gguf"}
    from edgeclean.prompt import SYSTEM_PROMPT

    torch.set_num_threads(job["threads"])
    path = Path(job["model"])
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
    prompt_tokens, answer_tokens = [], []
    started = time.perf_counter()
    for text, limit in zip(job["texts"], job["limits"], strict=True):
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(ids, max_new_tokens=limit, do_sample=False)
        prompt_tokens.append(ids.shape[1])
        answer_tokens.append(out.shape[1] - ids.shape[1])
    return _report(time.perf_counter() - started, prompt_tokens, answer_tokens)


def arm_bare(job: dict, answer_counts: list[int]) -> dict:
    """One sequence, the prompt in one batch, then exactly N single-token decodes: no text, no Python sampling."""
    import llama_cpp

    from edgeclean.backend import LlamaCppModel
    from edgeclean.clean import _prompt_text

    model = LlamaCppModel(job["model"], n_ctx=job["ctx"], n_gpu_layers=0, threads=job["threads"])
    ctx = model._llama._ctx.ctx
    memory = llama_cpp.llama_get_memory(ctx)
    sampler = llama_cpp.llama_sampler_init_greedy()
    prompts = [model._tokens(_prompt_text(model, text)) for text in job["texts"]]
    started = time.perf_counter()
    for tokens, count in zip(prompts, answer_counts, strict=True):
        llama_cpp.llama_memory_clear(memory, True)
        array = (llama_cpp.llama_token * len(tokens))(*tokens)
        llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(array, len(tokens)))
        token = (llama_cpp.llama_token * 1)()
        for _ in range(count):
            token[0] = llama_cpp.llama_sampler_sample(sampler, ctx, -1)
            llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(token, 1))
    wall = time.perf_counter() - started
    llama_cpp.llama_sampler_free(sampler)
    return _report(wall, [len(t) for t in prompts], answer_counts)


def _report(wall: float, prompt_tokens: list[int], answer_tokens: list[int]) -> dict:
    return {
        "wall": wall,
        "chunks": len(prompt_tokens),
        "prompt_tokens": sum(prompt_tokens),
        "answer_tokens": sum(answer_tokens),
        "answer_counts": answer_tokens,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(arm: str, job_path: Path, counts: list[int] | None) -> dict:
    command = [sys.executable, "-m", "bench.speed", "--child", arm, "--job", str(job_path)]
    if counts is not None:
        command += ["--counts", ",".join(map(str, counts))]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
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
    for other in ("b", "c", "d"):
        if "a" in best and other in best:
            lines.append(f"a/{other}: {best[other]['wall'] / best['a']['wall']:.2f}x faster (wall time ratio)")
    if "a1" in best and "d" in best:
        a1, d = best["a1"], best["d"]
        ratio = (a1["answer_tokens"] / a1["wall"]) / (d["answer_tokens"] / d["wall"])
        lines.append(f"a1/d single-stream: {ratio:.2f}x the bare loop's answer tok/s")
    model_mb = Path(job["model"]).stat().st_size / 2**20
    lines.append(f"model file {model_mb:.0f} MB; RSS target <= {model_mb + 300:.0f} MB")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdf", type=Path, default=PDF)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--pages", default="1-10")
    parser.add_argument("--chunks", type=int, default=8, help="Clean only the first N chunks.")
    parser.add_argument("--chunk-tokens", type=int, default=300)
    parser.add_argument("--max-tokens", type=int, default=None, help="Cap every answer (default: edgeclean's limit).")
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1, help="Interleaved rounds; the table shows each arm's best.")
    parser.add_argument("--arms", default=",".join(ARMS))
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
        }[args.child]
        print(json.dumps(run()))
        return
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
                result = _child(arm, job_path, counts if arm == "d" else None)
                runs[arm].append(result)
                if arm == "a" and "answer_counts" in result:
                    counts = result["answer_counts"]
                print(f"  {arm}: {result.get('wall', result.get('skipped'))}", flush=True)
    print(_table(job, runs))


if __name__ == "__main__":
    main()
