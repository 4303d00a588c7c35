"""What the hardware allows: CPUs this process may really use (affinity, cgroup quota), chunks to decode at once."""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cpus(cgroup_root: Path = CGROUP_ROOT) -> tuple[int, str]:
    """Return ``(count, why)``: the CPUs granted by affinity, lowered by a cgroup CPU quota if one is set."""
    try:
        count = len(os.sched_getaffinity(0))
        why = f"{count} CPUs in this process's affinity mask"
    except AttributeError:  # macOS and Windows have no affinity call
        count = os.cpu_count() or 1
        why = f"{count} CPUs reported by the OS"
    quota = cgroup_cpu_quota(cgroup_root)
    if quota is not None and quota < count:
        count = quota
        why = f"{quota} CPUs allowed by the cgroup CPU quota"
    return max(1, count), why


def resolve_threads(requested: int | None, why: str = "--threads") -> tuple[int, str]:
    """The CPU threads a run uses, and why: the number asked for, else the CPUs this process may run on."""
    return (requested, why) if requested else usable_cpus()


def cgroup_cpu_quota(root: Path = CGROUP_ROOT) -> int | None:
    """The cgroup CPU limit rounded up to whole CPUs, or None when unlimited (v2 ``cpu.max``, then v1)."""
    v2 = root / "cpu.max"
    if v2.is_file():
        fields = v2.read_text().split()
        if len(fields) == 2 and fields[0] != "max":
            return _whole_cpus(int(fields[0]), int(fields[1]))
        return None
    v1_quota, v1_period = root / "cpu" / "cpu.cfs_quota_us", root / "cpu" / "cpu.cfs_period_us"
    if v1_quota.is_file() and v1_period.is_file():
        quota = int(v1_quota.read_text())
        if quota > 0:
            return _whole_cpus(quota, int(v1_period.read_text()))
    return None


def _whole_cpus(quota: int, period: int) -> int:
    return max(1, math.ceil(quota / period))


# Chunks decoded together. On a CPU a decode step is mostly compute, so batching gains less than on a GPU:
# measured on 2 cores with SmolLM2-135M Q4_1 (bench/decode_steps.py), 8 sequences decode 2.0x the tokens/s
# of one at 128 tokens of context, 1.5x at 512 and 1.1x at 1024; 4 sequences gain less. Each sequence costs its
# own KV cache of up to n_ctx cells.
PARALLEL_CPU = 8
PARALLEL_GPU = 16


# --mode select answers are a few dozen tokens, so reading the prompts takes the time, and batching the answers
# gained nothing measurable on a CPU (16 KD chunks: 0.96x and 1.11x as fast at K=4 and 8) for 52 and 121 MB more.
PARALLEL_CPU_SELECT = 1


def default_parallel(device: str, mode: str) -> tuple[int, str]:
    """Return ``(chunks decoded at once, why)`` for a model running on ``device`` in ``mode``."""
    if device != "CPU":
        return PARALLEL_GPU, f"the default on {device}"
    if mode == "select":
        return PARALLEL_CPU_SELECT, "the default for --mode select on a CPU"
    return PARALLEL_CPU, "the default on a CPU"


# OpenMP (llama.cpp's CPU threads) makes a thread that finished its share of a step spin, waiting for the next
# one. On an idle machine that saves a wake-up per step; beside other busy processes the spinning threads steal
# the cores the working ones need. Measured with bench/load.py (0.5B model, 2 threads, 2 cores, 128 answer tokens,
# "busy" = one spinning process per core), three runs: libgomp's default spin gave 42-45 tok/s quiet and 8-13
# busy; PASSIVE (no spin) 25-27 and 18-21; GOMP_SPINCOUNT=1000 40-46 and 20 every time; 10000 swung from 6 to 19
# busy. A short spin keeps the quiet speed and, under load, about half of it (the most 2 threads sharing 2 cores
# with 2 other processes can get). Applied only where the user set neither variable, before llama.cpp loads.
OPENMP_SPIN_COUNT = "1000"
OPENMP_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


_openmp_in_force: str | None = None  # what the first call found for this process, which later calls repeat


def apply_openmp_wait(environ: dict | None = None) -> str:
    """Set edgeclean's OpenMP spin default unless the user chose a policy; return what is in force, and why."""
    global _openmp_in_force
    if environ is None:
        if _openmp_in_force is None:
            _openmp_in_force = apply_openmp_wait(os.environ)
        return _openmp_in_force
    chosen = [f"{name}={environ[name]}" for name in OPENMP_VARIABLES if environ.get(name)]
    if chosen:
        return f"{', '.join(chosen)} (set in the environment)"
    environ["GOMP_SPINCOUNT"] = OPENMP_SPIN_COUNT
    return f"GOMP_SPINCOUNT={OPENMP_SPIN_COUNT} (edgeclean's default: keeps its speed when other processes are busy)"
