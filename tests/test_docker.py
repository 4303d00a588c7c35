"""The Dockerfile and the install script it shares with CI: linted, portable, non-root and offline."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"
SETUP = ROOT / ".ci" / "setup"
NATIVE = re.compile(r"GGML_NATIVE=ON|-march=native|-mcpu=native", re.IGNORECASE)


def dev_tool(name: str) -> str:
    found = shutil.which(name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if not found:
        pytest.fail(f"{name} is missing: it is a dev extra, install with: pip install -e '.[dev]'")
    return found


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, comments dropped and continuation lines joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in path.read_text().splitlines() if not line.startswith("#")))
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), " ".join(rest.split())))
    return pairs


def final_stage() -> list[tuple[str, str]]:
    """The stage `docker build .` makes without --target: the last one."""
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def stage_names() -> list[str]:
    return [args.split(" AS ")[-1] for keyword, args in instructions() if keyword == "FROM" and " AS " in args]


def shared_block(text: str, start: str) -> str:
    """Lines from a `# ---- the same steps as …` marker to the next `# ---- end` marker, marker lines left out."""
    lines = text.splitlines()
    first = lines.index(start) + 1
    last = next(i for i in range(first, len(lines)) if lines[i].startswith("# ---- end of the shared"))
    return "\n".join(lines[first:last])


def stage(name: str) -> list[tuple[str, str]]:
    steps = instructions()
    start = next(i for i, (k, args) in enumerate(steps) if k == "FROM" and args.endswith(f" AS {name}"))
    end = next((i for i in range(start + 1, len(steps)) if steps[i][0] == "FROM"), len(steps))
    return steps[start:end]


def setup_cmake_args(*options: str, cmake_args: str | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "CMAKE_ARGS"}
    if cmake_args is not None:
        env["CMAKE_ARGS"] = cmake_args
    return subprocess.run(
        ["bash", str(SETUP), *options, "--print-cmake-args"], capture_output=True, text=True, env=env, timeout=60
    )


def test_hadolint_passes():
    result = subprocess.run([dev_tool("hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_passes_on_the_ci_scripts():
    scripts = sorted(str(path) for path in (ROOT / ".ci").iterdir() if path.is_file())
    result = subprocess.run([dev_tool("shellcheck"), *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_is_built_by_the_install_script_ci_runs():
    for backend in ("cpu", "cuda"):
        runs = [args for keyword, args in stage(f"builder-{backend}") if keyword == "RUN"]
        assert any("bash .ci/setup --portable --no-dev" in args for args in runs)
        env = " ".join(args for keyword, args in stage(f"builder-{backend}") if keyword == "ENV").split()
        assert "EDGECLEAN_VENV=/opt/edgeclean" in env
        copied = [args for keyword, args in stage(backend) if keyword == "COPY"]
        assert f"--from=builder-{backend} /opt/edgeclean /opt/edgeclean" in copied


def test_cpu_and_cuda_stages_run_the_same_steps():
    text = DOCKERFILE.read_text()
    assert shared_block(
        text, "# ---- the same steps as builder-cpu below (tests/test_docker.py checks they stay the same) ----"
    ) == shared_block(text, "# ---- the same steps as builder-cuda above ----")
    cuda_image = shared_block(
        text, "# ---- the same steps as the cpu image below (tests/test_docker.py checks they stay the same) ----"
    )
    cpu_image = shared_block(text, "# ---- the same steps as the cuda image above ----")
    assert cuda_image.replace("builder-cuda", "builder-cpu") == cpu_image
    assert "COPY --from=builder-cpu /opt/edgeclean /opt/edgeclean" in cpu_image


def test_no_stage_is_named_through_a_build_argument():
    """buildah 1.28 decides which stages are used before it expands ARGs: `FROM stage-${X}` fails there."""
    names = set(stage_names())
    for keyword, args in instructions():
        sources = [args.split()[0]] if keyword == "FROM" else re.findall(r"--from=(\S+)", args)
        for source in sources:
            if "$" in source:
                assert ":" in source or "/" in source or source.startswith("${PYTHON_IMAGE"), f"{keyword} {args}"
            elif "/" not in source and ":" not in source:
                assert source in names, f"{keyword} {args}: no stage named {source}"


def test_the_image_installs_the_pinned_versions():
    env = " ".join(args for keyword, args in stage("builder-cpu") if keyword == "ENV").split()
    assert "PIP_CONSTRAINT=/src/image/constraints.txt" in env
    assert ("COPY", "image/constraints.txt image/") in stage("builder-cpu")
    pins = {}
    for line in (ROOT / "image" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            requirement, _, marker = line.partition(";")
            name, _, version = requirement.strip().partition("==")
            assert version and marker.strip() == 'python_version == "3.11"', line
            pins[re.sub(r"[-_.]+", "-", name.lower())] = version
    setup_version = re.search(r"LLAMA_CPP_VERSION=\$\{LLAMA_CPP_VERSION:-([\d.]+)\}", SETUP.read_text()).group(1)
    assert pins["llama-cpp-python"] == setup_version
    assert {"pypdf", "huggingface-hub", "typer", "jinja2", "numpy", "setuptools"} <= set(pins)


def test_apt_leaves_no_cache_in_a_layer():
    for keyword, args in instructions():
        if keyword == "RUN" and "apt-get install" in args:
            assert "apt-get clean" in args and "rm -rf /var/lib/apt/lists/*" in args, args


def test_a_prebuilt_wheel_can_replace_the_compile():
    for backend in ("cpu", "cuda"):
        run = next(args for keyword, args in stage(f"builder-{backend}") if keyword == "RUN" and ".ci/setup" in args)
        assert "--mount=type=bind,source=image/wheels,target=/src/image/wheels" in run
    assert (ROOT / "image" / "wheels" / "README.md").is_file()  # a bind mount needs its folder in the context
    assert "EDGECLEAN_PREBUILT_WHEELS" in SETUP.read_text()


def test_never_a_native_cpu_build():
    assert not NATIVE.search(" ".join(args for _, args in instructions()))  # comments may explain why not
    portable = setup_cmake_args("--portable")
    assert portable.returncode == 0, portable.stderr
    flags = portable.stdout.split()
    assert flags[0] == "-DGGML_NATIVE=OFF"
    assert {"-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON"} <= set(flags)
    assert not any(re.search("AVX512|AMX|AVX_VNNI", flag) for flag in flags), "beyond the x86-64-v3 baseline"


def test_setup_adds_gpu_flags_to_the_portable_baseline():
    cuda = setup_cmake_args("--portable", cmake_args="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=75;86")
    assert cuda.stdout.split()[0] == "-DGGML_NATIVE=OFF"
    assert cuda.stdout.split()[-2:] == ["-DGGML_CUDA=on", "-DCMAKE_CUDA_ARCHITECTURES=75;86"]
    chosen = setup_cmake_args("--portable", cmake_args="-DGGML_NATIVE=OFF -DGGML_AVX512=ON")
    assert chosen.stdout.strip() == "-DGGML_NATIVE=OFF -DGGML_AVX512=ON"


def test_setup_refuses_a_native_portable_build_and_unknown_options():
    native = setup_cmake_args("--portable", cmake_args="-DGGML_NATIVE=ON")
    assert native.returncode == 2 and "GGML_NATIVE=ON" in native.stderr
    unknown = setup_cmake_args("--fast")
    assert unknown.returncode == 2 and "unknown option --fast" in unknown.stderr


def test_cpu_and_cuda_backends():
    froms = [args for keyword, args in instructions() if keyword == "FROM"]
    assert "nvidia/cuda:${CUDA_VERSION}-devel-${CUDA_UBUNTU} AS builder-cuda" in froms
    assert "nvidia/cuda:${CUDA_VERSION}-runtime-${CUDA_UBUNTU} AS cuda" in froms
    assert "${PYTHON_IMAGE} AS builder-cpu" in froms and froms[-1] == "${PYTHON_IMAGE} AS cpu"  # the default
    cuda_env = " ".join(args for keyword, args in stage("builder-cuda") if keyword == "ENV")
    assert "-DGGML_CUDA=on" in cuda_env and "-DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES}" in cuda_env
    assert re.search(r'ARG CUDA_ARCHITECTURES="[\d;]+"', DOCKERFILE.read_text()), "explicit, not native"


def test_image_stages_hold_no_compiler():
    for name in ("cpu", "cuda"):
        installs = " ".join(args for keyword, args in stage(name) if keyword == "RUN")
        assert "build-essential" not in installs and "devel" not in stage(name)[0][1]
        copied = [args for keyword, args in stage(name) if keyword == "COPY"]
        assert all(args.startswith(f"--from=builder-{name} ") for args in copied)  # only the venv and models


def test_the_venv_is_slimmed_after_the_last_install():
    runs = [args for keyword, args in stage("builder-cpu") if keyword == "RUN"]
    assert "bash .ci/slim-venv /opt/edgeclean" in runs[-1] and ".ci/fetch-model" in runs[-1]


def test_runs_as_a_non_root_user():
    for name in ("cpu", "cuda"):
        users = [args for keyword, args in stage(name) if keyword == "USER"]
        assert users and users[-1].split(":")[0] not in ("root", "0")


def test_entrypoint_volumes_and_offline_environment():
    final = final_stage()
    assert [json.loads(args) for keyword, args in final if keyword == "ENTRYPOINT"] == [["edgeclean"]]
    volumes = [json.loads(args) for keyword, args in final if keyword == "VOLUME"]
    assert volumes == [["/models", "/data"]]
    env = " ".join(args for keyword, args in final if keyword == "ENV").split()
    assert "HF_HUB_OFFLINE=1" in env and "EDGECLEAN_MODELS_DIR=/models" in env
    assert "EDGECLEAN_CONTAINER=1" in env  # edgeclean.container: messages about docker run and mounts


def test_model_is_fetched_only_at_build_time_and_becomes_the_default():
    model_runs = " ".join(args for keyword, args in stage("builder-cpu") if keyword == "RUN")
    assert 'bash .ci/fetch-model "$MODEL" /models' in model_runs
    assert (ROOT / ".ci" / "fetch-model").is_file()
    assert ("COPY", "--from=builder-cpu --chown=edgeclean:edgeclean /models /models") in final_stage()
    assert ("ARG", 'MODEL=""') in final_stage()
    assert "EDGECLEAN_MODEL=${MODEL}" in " ".join(args for keyword, args in final_stage() if keyword == "ENV").split()


def test_dockerignore_lets_in_exactly_what_the_build_uses():
    allowed = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines() if line[:1] == "!"}
    used = set()
    for keyword, args in instructions():
        if keyword == "COPY" and not args.startswith("--from"):
            used.update(source.rstrip("/").split("/")[0] for source in args.split()[:-1])
        used.update(source.split("/")[0] for source in re.findall(r"--mount=type=bind,source=([^,\s]+)", args))
    assert used == allowed
    assert "*" in (ROOT / ".dockerignore").read_text().splitlines()


def test_fetch_model_refuses_an_unknown_name(tmp_path):
    env = {**os.environ, "EDGECLEAN_VENV": str(Path(sys.executable).parent.parent)}
    result = subprocess.run(
        ["bash", str(ROOT / ".ci" / "fetch-model"), "no-such-model", str(tmp_path / "m")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode != 0
    assert "no-such-model" in result.stderr and "Known models: llama-3.2-1b-instruct-q4_k_m" in result.stderr
