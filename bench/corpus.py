"""Corpus mode on Ray: documents/s and answer tokens/s at 1, 2 and 4 workers, and the work redone after a kill.

    python -m bench.corpus                     # fake cleaner and the real tiny model, 1/2/4 workers, a kill
    python -m bench.corpus --skip-real --skip-kill --docs 16 --sleep 0.5

One local Ray cluster of 4 logical CPUs (``ray.init(num_cpus=4)``) serves every arm. Two cleaners: the real
SmolLM2-135M Q4_1 GGUF in rewrite mode (one llama.cpp thread per worker), and a fake model that sleeps
``--sleep`` seconds per chunk and echoes it (rewrite mode), which shows the engine's own overhead apart from this
machine's 2 cores. efficiency(k) = throughput(k) / (k × throughput(1)). Ray takes about 4 s (quiet) to 8 s
(loaded) to start an actor pool, whatever the corpus, and that start counts k times against k workers: the
default fake corpus (24 documents of 5 chunks at 1 s, a chunk still faster than any real model's) is sized so the
start is a small part of a run. Engine overhead at 1 worker (real model) is the share of wall time no worker
spent inside ``clean``, and the same wall time against the local engine. For redone work, a driver with the fake
cleaner is killed with SIGKILL part-way, the same command run again, and every chunk the fake model started is
counted: redone = chunks started − chunks in the checkpoints (target: at most the chunks in flight, one per
worker).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from edgeclean.corpus import run_corpus
from edgeclean.model.protocol import Completion, complete_in_turn
from edgeclean.settings import CleanSettings

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
sys.path.insert(0, str(ROOT))
SENTENCES = [
    "The river rose slowly through the night and the ferry stopped running.",
    "A lighthouse keeper wrote down every ship that passed, with the time and the weather.",
    "The orchard was planted long ago, and its old trees still bear fruit every autumn.",
    "Children from the village are allowed to pick up whatever falls into the grass.",
    "In winter the road over the pass is closed, and the post comes by the valley instead.",
]


class SleepingModel:
    """The Model protocol without llama.cpp: sleeps per chunk, answers with the chunk, logs each start."""

    name = "sleeping-model"
    n_ctx = 2048
    device = "CPU"
    chat_template = None
    bos_token = ""
    eos_token = ""

    def __init__(self, seconds: float, log: str | None = None):
        self.seconds, self.log = seconds, log

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))

    def complete(self, prompt: str, max_tokens: int, temperature: float, seed: int, only=None) -> Completion:
        if self.log:
            with open(self.log, "a") as handle:  # O_APPEND: one whole line per start, from any worker
                handle.write(hashlib.sha256(prompt.encode()).hexdigest()[:16] + "\n")
        time.sleep(self.seconds)
        user = prompt.split("<|im_start|>user\n", 1)[1].rsplit("<|im_end|>", 1)[0]
        return Completion(user, "stop", self.count_tokens(prompt), self.count_tokens(user), self.seconds)

    def complete_many(self, asks, *, parallel, prefixes=()):
        return complete_in_turn(self, asks)

    def close(self) -> None:
        pass


@dataclass
class Arm:
    cleaner: str
    workers: int
    documents: int
    wall: float
    busy: float
    tokens: int
    actors: int

    @property
    def docs_per_s(self) -> float:
        return self.documents / self.wall


def make_corpus(folder: Path, documents: int) -> Path:
    from tests.pdfgen import text_pdf

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(documents):
        # Every sentence names its document and place, so no two chunks (prompts) of the corpus are alike.
        text = " ".join(f"Entry {i}.{j}: {SENTENCES[(i + j) % len(SENTENCES)]}" for j in range(12))
        text_pdf(folder / f"doc{i:03}.pdf", [text])
    return folder


def settings_for(cleaner: str) -> CleanSettings:
    """Rewrite mode for both: in select mode (the default) these prose-only documents never reach the model
    (every chunk is "rules-only: no candidates"), and the engine's start would be measured against no work."""
    return CleanSettings(mode="rewrite", chunk_tokens=60, threads=1)


def factory(cleaner: str, sleep: float, log: str | None = None):
    return functools.partial(SleepingModel, sleep, log) if cleaner == "fake" else None


def run_arm(corpus: Path, out: Path, cleaner: str, workers: int, sleep: float, engine: str = "ray") -> Arm:
    started = time.perf_counter()
    rows = run_corpus(
        [corpus],
        out,
        engine=engine,
        settings=settings_for(cleaner),
        model=str(MODEL),
        workers=(workers, workers),
        threads_per_worker=1,
        model_factory=factory(cleaner, sleep),
    )
    wall = time.perf_counter() - started
    assert all(row.status == "done" for row in rows), [row for row in rows if row.status != "done"]
    busy, tokens = sum(r.seconds for r in rows), sum(r.answer_tokens for r in rows)
    return Arm(cleaner, workers, len(rows), wall, busy, tokens, len({r.worker for r in rows}))


def overhead_at_one_worker(corpus: Path, work: Path, rounds: int) -> tuple[Arm, Arm]:
    """The real model at 1 worker, local engine and Ray in turn (best of ``rounds``: the machine is shared)."""
    local, ray1 = [], []
    for r in range(rounds):
        local.append(run_arm(corpus, work / f"out-real-local-{r}", "real", 1, 0, engine="local"))
        ray1.append(run_arm(corpus, work / f"out-real-1-{r}", "real", 1, 0))
        print(f"round {r}: local {local[-1].wall:.1f} s, ray {ray1[-1].wall:.1f} s", file=sys.stderr)
    return min(local, key=lambda a: a.wall), min(ray1, key=lambda a: a.wall)


def kill_and_rerun(corpus: Path, out: Path, address: str, workers: int, sleep: float, after: float) -> dict:
    """A driver killed with SIGKILL ``after`` seconds in, then run again to the end; chunks started, counted."""
    log = out.with_suffix(".log")
    child = [sys.executable, "-m", "bench.corpus", "--child", str(corpus), str(out), address, str(workers), str(sleep)]
    first = subprocess.Popen([*child, str(log)], cwd=ROOT)
    time.sleep(after)
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before = len(list(out.glob("*.clean.txt")))
    time.sleep(3)  # the killed driver's actors are reaped by Ray; a document they still lock waits (BUSY_WAIT)
    subprocess.run([*child, str(log)], cwd=ROOT, check=True)
    starts = len(log.read_text().split())
    records = [line for ckpt in out.glob("*.ckpt") for line in ckpt.read_text().splitlines()]
    chunks = sum(line.startswith('{"index":') for line in records)  # beside them: a header and an output record
    return {"documents_before": done_before, "chunks": chunks, "started": starts, "redone": starts - chunks}


def child_main(argv: list[str]) -> None:
    corpus, out, address, workers, sleep, log = argv
    rows = run_corpus(
        [Path(corpus)],
        Path(out),
        engine="ray",
        settings=settings_for("fake"),
        workers=(int(workers), int(workers)),
        threads_per_worker=1,
        address=address,
        model_factory=factory("fake", float(sleep), log),
    )
    print(json.dumps({"rows": len(rows)}), file=sys.stderr)


def table(arms: list[Arm]) -> str:
    lines = [
        "| cleaner | workers | actors | docs | wall s | docs/s | answer tok/s | efficiency | busy share |",
        "|---" * 9 + "|",
    ]
    for arm in arms:
        one = next(a for a in arms if a.cleaner.split()[0] == arm.cleaner.split()[0] and a.workers == 1)
        efficiency = arm.docs_per_s / (arm.workers * one.docs_per_s)
        lines.append(
            f"| {arm.cleaner} | {arm.workers} | {arm.actors} | {arm.documents} | {arm.wall:.1f} | "
            f"{arm.docs_per_s:.2f} | "
            f"{arm.tokens / arm.wall:.1f} | {efficiency:.0%} | {arm.busy / (arm.wall * arm.actors):.0%} |"
        )
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        return child_main(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=24, help="documents for the fake cleaner")
    parser.add_argument("--real-docs", type=int, default=12, help="documents for the real model")
    parser.add_argument("--sleep", type=float, default=1.0, help="the fake cleaner's seconds per chunk")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-kill", action="store_true")
    parser.add_argument("--kill-only", action="store_true")
    parser.add_argument("--skip-fake", action="store_true")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the 1-worker real-model arms")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import ray

    address = ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False).address_info["gcs_address"]
    ks = [int(k) for k in args.workers.split(",")]
    arms = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-corpus-") as scratch:
            work = Path(scratch)
            fake = make_corpus(work / "fake", args.docs)
            for k in [] if args.kill_only or args.skip_fake else ks:
                arms.append(run_arm(fake, work / f"out-fake-{k}", "fake", k, args.sleep))
                print(table(arms), file=sys.stderr)
            if not args.skip_real and not args.kill_only:
                real = make_corpus(work / "real", args.real_docs)
                local, ray1 = overhead_at_one_worker(real, work, rounds=args.rounds)
                arms.append(ray1)
                for k in ks[1:]:
                    arms.append(run_arm(real, work / f"out-real-{k}", "real", k, 0))
                    print(table(arms), file=sys.stderr)
                print(
                    f"real model, 1 worker: ray {ray1.wall:.1f} s, local engine {local.wall:.1f} s "
                    f"({ray1.wall / local.wall - 1:+.1%}); workers busy {ray1.busy / ray1.wall:.1%} of ray's wall"
                )
            if not args.skip_kill:
                killed = kill_and_rerun(fake, work / "out-kill", address, 2, args.sleep, after=12)
                print(f"kill: {json.dumps(killed)}", file=sys.stderr)
    finally:
        ray.shutdown()
    print(table(arms))
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
