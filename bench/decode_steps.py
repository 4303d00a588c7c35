"""Time bare llama.cpp decode steps: K sequences, one token each, at several context lengths.

    python -m bench.decode_steps                                   # the test model, K = 1, 4, 8, 16
    python -m bench.decode_steps --model other.gguf --parallel 1,8 --contexts 512

Shows how much batching can gain on this machine for these weights, apart from edgeclean's Python: the
context is edgeclean's own BatchEngine (a KV stream per sequence), driven by bare decode calls, and every step
asks for logits of all K tokens. K=1 and larger K
are timed in the same run, one after the other.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

MODEL = Path(__file__).resolve().parent.parent / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def step_times(model_path: Path, parallel: int, contexts: list[int], threads: int, steps: int) -> list[float]:
    """Seconds per decode step of ``parallel`` tokens once each sequence holds each of ``contexts`` tokens."""
    import llama_cpp

    from edgeclean.model.llama.engine import BatchEngine

    loader = llama_cpp.Llama(str(model_path), n_ctx=256, n_threads=threads, verbose=False)
    engine = BatchEngine(loader, parallel=parallel, n_ctx_per_seq=max(contexts) + steps, threads=threads)
    timings, position = [], 0
    try:
        for length in contexts:
            while position < length:  # fill every sequence up to this length, a prompt's worth at a time
                n = min(length - position, 512 // parallel)
                engine.decode(
                    [(100 + (position + j) % 50, position + j, s, False) for s in range(parallel) for j in range(n)]
                )
                position += n
            started = time.perf_counter()
            for _ in range(steps):
                engine.decode([(200, position, s, True) for s in range(parallel)])
                position += 1
            timings.append((time.perf_counter() - started) / steps)
    finally:
        engine.close()
        loader.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--parallel", default="1,4,8,16", help="Values of K, comma-separated.")
    parser.add_argument("--contexts", default="128,512,1024", help="Tokens each sequence holds, comma-separated.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12, help="Steps timed at each context length.")
    args = parser.parse_args()
    contexts = [int(c) for c in args.contexts.split(",")]
    ks = [int(k) for k in args.parallel.split(",")]
    print(f"{args.model.name}, {args.threads} threads; tokens/s summed over the K sequences")
    single = None
    for k in ks:
        timings = step_times(args.model, k, contexts, args.threads, args.steps)
        rates = [k / t for t in timings]
        single = single or (rates if k == 1 else None)
        cells = []
        for length, seconds, rate, i in zip(contexts, timings, rates, range(len(contexts)), strict=True):
            versus = f" ({rate / single[i]:.2f}x K=1)" if single and k != 1 else ""
            cells.append(f"ctx {length}: {seconds * 1000:5.1f} ms/step {rate:6.1f} tok/s{versus}")
        print(f"K={k:<3}" + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
