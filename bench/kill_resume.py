"""Kill -9 a real `edgeclean clean` again and again; resumed, it must equal an uninterrupted run byte for byte.

    python -m bench.kill_resume --kills 40

Kills land at three kinds of moment, in turn: while the model loads, in the middle of a chunk, and just
after a chunk's record was fsynced (before the next chunk gets far). Every fifth kill also tears the
checkpoint's last record, as a power cut in the middle of an append would.
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PDF = ROOT / "tests" / "fixtures" / "paper.pdf"  # generated, committed: no corpus needed
MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
# Two pages, rewrite mode: every chunk goes to the model (select asks only about chunks with debris, and the
# fixture's are few), so a run lasts long enough to be killed at each kind of moment.
ARGS = ["--pages", "1-2", "--chunk-tokens", "80", "--threads", "2", "--mode", "rewrite"]
KILLED_PARALLEL = 8  # the killed runs decode 8 chunks at once; the reference run decodes one at a time
MOMENTS = ("model-load", "mid-chunk", "after-fsync")


@dataclass
class KillReport:
    kills: Counter = field(default_factory=Counter)
    torn: int = 0
    runs: int = 0
    output: bytes = b""

    @property
    def total(self) -> int:
        return sum(self.kills.values())


def clean_command(
    output: Path, pdf: Path = PDF, model: Path = MODEL, extra: list[str] = ARGS, parallel: int = KILLED_PARALLEL
) -> list[str]:
    command = [sys.executable, "-m", "edgeclean", "clean", str(pdf), "--model", str(model), "-o", str(output)]
    return [*command, *extra, "--parallel", str(parallel)]


def reference_output(workdir: Path) -> bytes:
    """An uninterrupted run one chunk at a time, to compare the killed runs' output with."""
    output = workdir / "reference.txt"
    subprocess.run(clean_command(output, parallel=1), check=True, capture_output=True, cwd=workdir)
    return output.read_bytes()


def kill_until_done(workdir: Path, kills_wanted: int, seed: int = 0) -> KillReport:
    """Kill runs at chosen moments until ``kills_wanted`` kills landed, then let one run finish."""
    rng = random.Random(seed)
    output = workdir / "killed.txt"
    checkpoint = workdir / "killed.txt.ckpt"
    report = KillReport()
    while True:
        moment = MOMENTS[report.total % len(MOMENTS)] if report.total < kills_wanted else None
        report.runs += 1
        process = _Child(clean_command(output), workdir)
        if moment is None:
            if process.wait() != 0:
                raise RuntimeError(f"final run failed: {process.stderr_text()}")
            report.output = output.read_bytes()
            return report
        if _kill_at(process, moment, checkpoint, rng):
            report.kills[moment] += 1
            if report.total % 5 == 0 and _tear_last_record(checkpoint, rng):
                report.torn += 1
        elif output.exists():  # finished before the kill landed: nothing left to interrupt
            report.output = output.read_bytes()
            return report


def _kill_at(process: _Child, moment: str, checkpoint: Path, rng: random.Random) -> bool:
    if moment == "model-load":
        time.sleep(rng.uniform(0.05, 0.6))
    elif moment == "mid-chunk":
        if not process.wait_for_line("model ", timeout=60):
            return False
        time.sleep(rng.uniform(0.1, 2.5))
    else:
        records = _records(checkpoint)
        deadline = time.monotonic() + 60
        while _records(checkpoint) <= records and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
    return process.kill9()


def _records(checkpoint: Path) -> int:
    try:
        return checkpoint.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _tear_last_record(checkpoint: Path, rng: random.Random) -> bool:
    data = checkpoint.read_bytes() if checkpoint.exists() else b""
    if data.count(b"\n") < 2:
        return False
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    cut = rng.randint(last_start + 1, len(data) - 1)
    checkpoint.write_bytes(data[:cut])
    return True


class _Child:
    """A running `edgeclean clean` whose stderr lines are collected as they come."""

    def __init__(self, command: list[str], workdir: Path):
        self._process = subprocess.Popen(
            command,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with self._process.stderr:
            for line in self._process.stderr:
                self._lines.put(line)

    def wait_for_line(self, prefix: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.05)
            except queue.Empty:
                if self._process.poll() is not None and self._lines.empty():
                    return False
                continue
            self._seen.append(line)
            if line.startswith(prefix):
                return True
        return False

    def poll(self):
        return self._process.poll()

    def kill9(self) -> bool:
        """SIGKILL; True if the process was still running when it landed."""
        if self._process.poll() is not None:
            self.wait()
            return False
        os.kill(self._process.pid, signal.SIGKILL)
        return self.wait() == -signal.SIGKILL

    def wait(self) -> int:
        code = self._process.wait()
        self._reader.join(timeout=10)
        return code

    def stderr_text(self) -> str:
        while not self._lines.empty():
            self._seen.append(self._lines.get())
        return "".join(self._seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        started = time.perf_counter()
        reference = reference_output(workdir)
        reference_seconds = time.perf_counter() - started
        report = kill_until_done(workdir, options.kills, options.seed)
    same = report.output == reference
    print(f"uninterrupted run: {reference_seconds:.1f} s, {len(reference)} bytes")
    print(
        f"kills: {report.total} ({', '.join(f'{k} {v}' for k, v in sorted(report.kills.items()))}), "
        f"torn last records: {report.torn}, runs: {report.runs}"
    )
    print(f"resumed output identical to uninterrupted: {'yes' if same else 'NO'}")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
