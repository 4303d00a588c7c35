"""Decode speed on a quiet machine and under load, for each OpenMP wait policy and thread count.

    .venv/bin/python -m bench.load --model /tmp/proxy/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
    .venv/bin/python -m bench.load --rounds 3 --tokens 192 --settings unset,PASSIVE,ACTIVE,threads-1

Each measurement is a fresh process (OpenMP reads OMP_WAIT_POLICY once, when it loads), greedy-decoding up to
--tokens answer tokens of one prompt, stopped after --cap seconds. "busy" runs it beside one spinning Python
process per CPU, started before and killed after. Arms alternate within each round, so a noisy neighbour hits
them alike; the table prints the median answer tokens/s and the busy/quiet ratio per setting.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPT = (
    "Rewrite the following paragraph in plain words, keeping every fact:\n\n"
    "Knowledge distillation transfers the abilities of a large teacher model to a smaller student model. "
    "In the era of large language models it has become a way to give open models the skills of proprietary ones, "
    "and to compress them so that they run on laptops and phones without a network connection."
)

SETTINGS = {
    "unset": ({}, 0),
    "PASSIVE": ({"OMP_WAIT_POLICY": "PASSIVE"}, 0),
    "ACTIVE": ({"OMP_WAIT_POLICY": "ACTIVE"}, 0),
    "threads-1": ({}, -1),
    "PASSIVE,threads-1": ({"OMP_WAIT_POLICY": "PASSIVE"}, -1),
    "SPIN1k": ({"GOMP_SPINCOUNT": "1000"}, 0),
    "SPIN10k": ({"GOMP_SPINCOUNT": "10000"}, 0),
    "SPIN100k": ({"GOMP_SPINCOUNT": "100000"}, 0),
}


def measure_once(model: str, threads: int, tokens: int, cap: float) -> dict:
    """In this process: load, decode, and return prompt and answer rates."""
    import llama_cpp

    llama = llama_cpp.Llama(model_path=model, n_ctx=512, n_threads=threads, n_threads_batch=threads, verbose=False)
    started = time.perf_counter()
    first = None
    count = 0
    for _ in llama.create_completion(PROMPT, max_tokens=tokens, temperature=0.0, stream=True):
        count += 1
        now = time.perf_counter()
        if first is None:
            first = now
        if now - first > cap:
            break
    end = time.perf_counter()
    answer_rate = (count - 1) / (end - first) if count > 1 else 0.0
    return {"prompt_s": round(first - started, 3), "tokens": count, "tok_s": round(answer_rate, 2)}


def spinners(count: int) -> list[subprocess.Popen]:
    return [
        subprocess.Popen([sys.executable, "-c", "import time\nend=time.time()+900\nwhile time.time()<end: pass"])
        for _ in range(count)
    ]


def run_arm(model: str, setting: str, busy: bool, cores: int, tokens: int, cap: float) -> dict:
    env_extra, thread_delta = SETTINGS[setting]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(env_extra)
    threads = max(1, cores + thread_delta)
    code = (
        "import json,sys; from bench.load import measure_once; "
        f"print(json.dumps(measure_once({model!r}, {threads}, {tokens}, {cap})))"
    )
    load = spinners(cores) if busy else []
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
        )
    finally:
        for process in load:
            process.kill()
            process.wait()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    parser.add_argument("--settings", default="unset,PASSIVE,ACTIVE,threads-1")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=160)
    parser.add_argument("--cap", type=float, default=20.0, help="stop an answer after this many seconds")
    parser.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args(argv)
    names = args.settings.split(",")
    rates: dict[tuple[str, bool], list[float]] = {}
    for round_number in range(args.rounds):
        for name in names:
            for busy in (False, True):
                result = run_arm(args.model, name, busy, args.cores, args.tokens, args.cap)
                rates.setdefault((name, busy), []).append(result["tok_s"])
                print(
                    f"round {round_number + 1} {name:>18} {'busy ' if busy else 'quiet'} {json.dumps(result)}",
                    flush=True,
                )
    print(f"\nmodel {Path(args.model).name}, {args.cores} cores; median answer tok/s over {args.rounds} rounds")
    print("| setting | threads | quiet tok/s | busy tok/s | busy/quiet |\n|---|---|---|---|---|")
    for name in names:
        quiet, busy = statistics.median(rates[(name, False)]), statistics.median(rates[(name, True)])
        threads = max(1, args.cores + SETTINGS[name][1])
        print(f"| {name} | {threads} | {quiet:.1f} | {busy:.1f} | {busy / quiet if quiet else 0:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
