"""What will actually run here: llama.cpp build, devices, threads, models and network, and optionally a probe."""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import os
import platform
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..container import in_container
from ..errors import EdgecleanError, ModelError
from ..version import __version__
from .gguf_file import check_gguf
from .hardware import apply_openmp_wait, resolve_threads
from .llama.adapter import LlamaCppModel, device_name, import_llama_cpp
from .registry import DEFAULT_MODEL, KNOWN_MODELS, models_dir, resolve_model

PROBE_PROMPT = "The three most useful things to know about reading a research paper are"
PROBE_TOKENS = 32
TRUE_VALUES = ("1", "true", "yes", "on")


@dataclass
class Report:
    """Labelled lines to print, and the first problem that would stop ``clean`` (None when all is usable)."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    problem: EdgecleanError | None = None
    model_path: Path | None = None

    def add(self, label: str, value: str) -> None:
        self.lines.append((label, value))


@dataclass(frozen=True)
class ProbeResult:
    device: str
    layers_offloaded: int
    layers_total: int
    completion_tokens: int
    seconds: float

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds else 0.0


def diagnose(model: str | None, threads: int | None = None) -> Report:
    """Everything ``clean`` would use with the same model and threads, without loading the model."""
    report = Report()
    report.add("edgeclean", f"{__version__} (Python {platform.python_version()}, {platform.machine()})")
    _describe_llama_cpp(report)
    count, why = resolve_threads(threads, "--threads or EDGECLEAN_THREADS")
    report.add("threads", f"{count} ({why})")
    report.add("openmp wait", apply_openmp_wait())
    _describe_models(report, model)
    report.add("offline", _offline())
    return report


def probe(path: Path, *, n_gpu_layers: int, threads: int, n_ctx: int = 512) -> ProbeResult:
    """Load the model as ``clean`` would and time a short greedy completion."""
    with _llama_log() as log:
        model = LlamaCppModel(path, n_ctx=n_ctx, n_gpu_layers=n_gpu_layers, threads=threads)
    try:
        completion = model.complete(PROBE_PROMPT, PROBE_TOKENS, temperature=0.0, seed=0)
    finally:
        model.close()
    offloaded, total = offloaded_layers("".join(log))
    return ProbeResult(model.device, offloaded, total, completion.completion_tokens, completion.seconds)


def run_probe(path: Path, *, n_gpu_layers: int, threads: int | None) -> list[tuple[str, str]]:
    """The probe as labelled lines: where the layers went and how fast a short answer came."""
    result = probe(path, n_gpu_layers=n_gpu_layers, threads=resolve_threads(threads)[0])
    return [
        ("probe device", result.device),
        ("probe layers", f"{result.layers_offloaded} of {result.layers_total} offloaded to a GPU"),
        (
            "probe speed",
            f"{result.tokens_per_second:.1f} tokens/s ({result.completion_tokens} tokens in {result.seconds:.2f} s, "
            "prompt included)",
        ),
    ]


def offloaded_layers(load_log: str) -> tuple[int, int]:
    """``(offloaded, total)`` repeating layers, from llama.cpp's own model-loading log."""
    total = re.search(r"n_layer\s*=\s*(\d+)", load_log)
    summary = re.search(r"offloaded (\d+)/(\d+) layers to GPU", load_log)
    if summary:
        return int(summary.group(1)), int(summary.group(2))
    devices = re.findall(r"layer\s+\d+ assigned to device (\S+?),", load_log)
    offloaded = sum(1 for device in devices if not device.upper().startswith("CPU"))
    return offloaded, int(total.group(1)) if total else len(devices)


def simd_summary(system_info: str) -> list[str]:
    """``llama_print_system_info()`` as one entry per backend: its name and the features that are on."""
    entries = []
    for section in re.findall(r"(\w+) : ((?:[^|:]+=[^|]*\| )+)", system_info):
        name, pairs = section
        features = []
        for pair in pairs.split("|"):
            key, _, value = pair.partition("=")
            key, value = key.strip(), value.strip()
            if key and value == "1":
                features.append(key)
            elif key and value not in ("0", ""):
                features.append(f"{key}={value}")
        entries.append(f"{name}: {' '.join(features) or 'baseline'}")
    return entries


def _describe_llama_cpp(report: Report) -> None:
    try:
        version = importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        version = None
    try:
        llama_cpp = import_llama_cpp()
    except ModelError as error:
        report.add("llama-cpp-python", f"{version}, does not load" if version else "not installed")
        report.problem = error
        return
    report.add("llama-cpp-python", f"{version} ({Path(llama_cpp.__file__).parent})")
    system_info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    if llama_cpp.llama_supports_gpu_offload():
        report.add("gpu offload", f"yes, layers go to {device_name(llama_cpp, -1)} (--n-gpu-layers, default -1: all)")
    else:
        report.add("gpu offload", "no: this llama-cpp-python was built for the CPU only")
    for entry in simd_summary(system_info) or [system_info.strip()]:
        report.add("backend", entry)


def _describe_models(report: Report, wanted: str | None) -> None:
    directory = models_dir()
    from_env = os.environ.get("EDGECLEAN_MODELS_DIR")
    source = "from EDGECLEAN_MODELS_DIR" if from_env else "set EDGECLEAN_MODELS_DIR to move it"
    missing = "" if directory.is_dir() else ", does not exist"
    report.add("models dir", f"{directory.resolve()} ({source}{missing})")
    names = {known.filename: known.name for known in KNOWN_MODELS.values()}
    present = sorted(directory.glob("*.gguf")) if directory.is_dir() else []
    for path in present:
        report.add("model", _model_line(path, names.get(path.name)))
    if not present:
        report.add("model", "none in the models dir")
    try:
        report.model_path = resolve_model(wanted, directory)
        check_gguf(report.model_path)
    except EdgecleanError as error:
        report.add("will use", f"{wanted or DEFAULT_MODEL}: unusable")
        alternatives = [names.get(path.name, str(path)) for path in present]
        report.problem = report.problem or _with_alternatives(error, alternatives)
        return
    report.add("will use", f"{report.model_path} ({_model_source(wanted)})")


def _model_source(wanted: str | None) -> str:
    if not wanted:
        return f"the default, {DEFAULT_MODEL}"
    if wanted == os.environ.get("EDGECLEAN_MODEL"):
        return "EDGECLEAN_MODEL: the model built into this image" if in_container() else "EDGECLEAN_MODEL"
    return "--model"


def _model_line(path: Path, known_name: str | None) -> str:
    size = f"{path.stat().st_size / 1e6:,.0f} MB"
    try:
        check_gguf(path)
    except ModelError as error:
        return f"{path.name}, {size}: unusable, {error}"
    return f"{path.name}, {size}" + (f" (--model {known_name})" if known_name else f" (--model {path})")


def _with_alternatives(error: EdgecleanError, alternatives: list[str]) -> EdgecleanError:
    if alternatives:
        return ModelError(f"{error} Or use one that is here: --model {alternatives[0]}")
    return error


def _offline() -> str:
    value = os.environ.get("HF_HUB_OFFLINE", "")
    if value.lower() in TRUE_VALUES:
        return f"yes (HF_HUB_OFFLINE={value}): nothing reaches for the network"
    return "not enforced: HF_HUB_OFFLINE is not set (clean never downloads; set HF_HUB_OFFLINE=1 to be sure)"


# llama.cpp logs through one process-wide callback; keep ours referenced while it is installed.
_capture = None


@contextlib.contextmanager
def _llama_log() -> Iterator[list[str]]:
    """Collect llama.cpp's log text (not shown) for the duration, then restore llama-cpp-python's handler."""
    global _capture
    import llama_cpp
    from llama_cpp import _logger

    lines: list[str] = []

    def collect(level: int, text: bytes, user_data) -> None:
        lines.append(text.decode("utf-8", errors="replace"))

    _capture = llama_cpp.llama_log_callback(collect)
    llama_cpp.llama_log_set(_capture, ctypes.c_void_p(0))
    try:
        yield lines
    finally:
        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
