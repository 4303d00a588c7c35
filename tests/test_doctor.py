import importlib.metadata
import re

import pytest

from edgeclean.model.doctor import offloaded_layers, simd_summary

from .conftest import run_cli


def field(stdout: str, label: str) -> list[str]:
    return [line[len(label) :].strip() for line in stdout.splitlines() if re.match(rf"{label}\s", line)]


@pytest.fixture
def models_here(tmp_path, tiny_model_path):
    directory = tmp_path / "models"
    directory.mkdir()
    (directory / tiny_model_path.name).symlink_to(tiny_model_path)
    return directory


def test_reports_what_clean_would_run_on(models_here):
    result = run_cli("doctor", "--model", "smollm2-135m-instruct", env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert field(out, "llama-cpp-python")[0].startswith(importlib.metadata.version("llama-cpp-python"))
    assert field(out, "gpu offload")[0].startswith(("yes", "no"))
    assert any(entry.startswith("CPU:") for entry in field(out, "backend"))
    assert re.match(r"\d+ \(", field(out, "threads")[0])
    assert field(out, "models dir")[0].startswith(str(models_here))
    assert field(out, "model") == ["SmolLM2-135M-Instruct.Q4_1.gguf, 98 MB (--model smollm2-135m-instruct)"]
    assert field(out, "will use")[0].startswith(str(models_here / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    assert field(out, "offline")[0].startswith("yes (HF_HUB_OFFLINE=1)")
    assert result.stderr == ""


def test_threads_and_network_follow_the_environment(models_here):
    result = run_cli("doctor", "--model", "smollm2-135m-instruct", env={"EDGECLEAN_THREADS": "1", "HF_HUB_OFFLINE": ""})
    assert result.returncode == 0, result.stderr
    assert field(result.stdout, "threads") == ["1 (--threads or EDGECLEAN_THREADS)"]
    assert field(result.stdout, "offline")[0].startswith("not enforced")


def test_no_model_fails_with_the_fix_in_one_line():
    result = run_cli("doctor")
    assert result.returncode == 1
    assert field(result.stdout, "model") == ["none in the models dir"]
    assert result.stderr.count("\n") == 1
    assert "model not found" in result.stderr and "edgeclean models pull llama-3.2-1b-instruct-q4_k_m" in result.stderr


def test_missing_default_points_at_a_model_that_is_here(models_here):
    result = run_cli("doctor")
    assert result.returncode == 1
    assert "Or use one that is here: --model smollm2-135m-instruct" in result.stderr


def test_a_file_that_is_not_gguf_is_flagged(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "broken.gguf").write_bytes(b"not a model at all")
    result = run_cli("doctor", "--model", str(tmp_path / "models" / "broken.gguf"))
    assert result.returncode == 1
    assert "unusable" in field(result.stdout, "model")[0]
    assert "is not a GGUF model file" in result.stderr


def test_missing_llama_cpp_fails_with_the_setup_command(tmp_path, models_here):
    shadow = tmp_path / "shadow" / "llama_cpp"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('libllama.so: cannot open shared object file')\n")
    result = run_cli("doctor", "--model", "smollm2-135m-instruct", env={"PYTHONPATH": str(shadow.parent)})
    assert result.returncode == 1
    assert field(result.stdout, "llama-cpp-python") == [
        f"{importlib.metadata.version('llama-cpp-python')}, does not load"
    ]
    assert "llama-cpp-python is not installed" in result.stderr and "bash .ci/setup" in result.stderr


def test_a_cuda_build_without_the_driver_says_gpus_all(tmp_path, models_here):
    shadow = tmp_path / "shadow" / "llama_cpp"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise RuntimeError(\"Failed to load shared library 'libllama.so': libcuda.so.1: cannot open shared object\")\n"
    )
    result = run_cli("doctor", "--model", "smollm2-135m-instruct", env={"PYTHONPATH": str(shadow.parent)})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "libcuda.so.1" in result.stderr and "--gpus all" in result.stderr


@pytest.mark.model
def test_probe_loads_the_model_and_times_it(models_here):
    # one thread: two OpenMP threads spin-wait for a minute when a shared CI box is busy
    result = run_cli("doctor", "--model", "smollm2-135m-instruct", "--probe", "--threads", "1")
    assert result.returncode == 0, result.stderr
    gpu = field(result.stdout, "gpu offload")[0].startswith("yes")
    assert (field(result.stdout, "probe device") != ["CPU"]) == gpu
    layers = re.fullmatch(r"(\d+) of (\d+) offloaded to a GPU", field(result.stdout, "probe layers")[0])
    assert layers and int(layers.group(2)) in (30, 31)  # SmolLM2-135M's 30 blocks (+ the output layer on a GPU)
    assert (int(layers.group(1)) > 0) == gpu
    speed = re.fullmatch(
        r"([\d.]+) tokens/s \((\d+) tokens in [\d.]+ s, prompt included\)", field(result.stdout, "probe speed")[0]
    )
    assert speed and float(speed.group(1)) > 0 and int(speed.group(2)) > 0


def test_offloaded_layers_from_a_gpu_log():
    log = "print_info: n_layer          = 16\nload_tensors: offloading 16 repeating layers to GPU\n"
    log += "load_tensors: offloaded 17/17 layers to GPU\n"
    assert offloaded_layers(log) == (17, 17)


def test_offloaded_layers_from_per_layer_assignments():
    log = "print_info: n_layer = 3\n" + "".join(
        f"load_tensors: layer {i} assigned to device {device}, is_swa = 0\n"
        for i, device in enumerate(["CPU", "CUDA0", "CUDA0"])
    )
    assert offloaded_layers(log) == (2, 3)


def test_simd_summary_lists_each_backend_and_its_features():
    info = (
        "CUDA : ARCHS = 750,860 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | CPU : SSE3 = 1 | AVX = 1 | AVX512 = 0 | "
    )
    assert simd_summary(info) == ["CUDA: ARCHS=750,860 USE_GRAPHS PEER_MAX_BATCH_SIZE=128", "CPU: SSE3 AVX"]
