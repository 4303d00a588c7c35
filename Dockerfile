# edgeclean for air-gapped servers. Build on a connected machine, with Docker (BuildKit, the default since
# Docker 23) or podman/buildah (Debian's 4.3/1.28 and later):
#
#   docker build -t edgeclean .                                             # CPU, any x86-64-v3 (AVX2) CPU
#   docker build -t edgeclean:cuda --target cuda .                          # NVIDIA GPUs; run with --gpus all
#   docker build -t edgeclean --build-arg MODEL=smollm2-135m-instruct .     # bake a model in: the default
#
# and run, with no network:
#
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD/models:/models:ro" -v "$PWD:/data" edgeclean clean paper.pdf
#   docker run --rm -v "$PWD/models:/models:ro" edgeclean doctor --probe
#
# The image is one of two final stages, chosen with --target (cpu, the default, or cuda), not by a build
# argument in a stage name: buildah 1.28 skips stages it cannot see are used, and it does not expand
# `FROM build-${BACKEND}` when it looks, so such a file fails there ("image not known").
#
# llama-cpp-python is compiled by .ci/setup, the same script CI and developers run, with --portable:
# GGML_NATIVE=OFF and the x86-64-v3 baseline (AVX2, FMA, F16C, BMI2), never -march=native, because a
# native build dies with SIGILL on an older CPU and segfaults on VMs that report AMX they cannot use.
# Not llama.cpp's runtime dispatch (GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS): it picks the variant from
# what the CPU reports, so on such a VM it would load the AMX variant and crash just the same. CPUs below
# x86-64-v3 (pre-2013, some Atom/Celeron/Pentium) need CPU_FLAGS, which replaces the baseline and must say
# -DGGML_NATIVE=OFF itself. GGML_NATIVE=OFF alone still means AVX2, so turn each one off for such CPUs:
#   --build-arg CPU_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF"
# or name more for a known, newer fleet:
#   --build-arg CPU_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON"
#
# A llama-cpp-python wheel built elsewhere with the same flags (.ci/setup caches one under
# ~/.cache/edgeclean/wheels/llama-cpp-python-VERSION-KEY/) can be put into image/wheels/: the build then
# skips the compile (about 15 minutes on 2 cores). setup takes it only when its KEY, a hash of version,
# flags, Python and machine, is the one this build would make. .ci/image does this.
#
# Dependencies are pinned by image/constraints.txt (bash .ci/refresh-constraints renews it), so a rebuild on
# another day installs the same versions.

# hadolint ignores: DL3008 (apt versions unpinned: the base image tag pins the distribution release, and
# pinned point versions vanish from the archive with security updates).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG CUDA_VERSION=12.4.1
ARG CUDA_UBUNTU=ubuntu22.04

# ======== CUDA: built only with --target cuda ==========================================================
FROM nvidia/cuda:${CUDA_VERSION}-devel-${CUDA_UBUNTU} AS builder-cuda
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential python3 python3-venv \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
# Turing (T4), Volta (V100), Ampere (A100, A10, RTX 30), Ada (L4, RTX 40), Hopper (H100): no GPU is
# needed at build time because the architectures are named; the driver library is only a link stub here.
ARG CUDA_ARCHITECTURES="70;75;80;86;89;90"
ENV CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES} -DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined"
# ---- the same steps as builder-cpu below (tests/test_docker.py checks they stay the same) ----
ARG CPU_FLAGS=""
ENV EDGECLEAN_VENV=/opt/edgeclean \
    EDGECLEAN_CACHE=/tmp/edgeclean-cache \
    EDGECLEAN_PREBUILT_WHEELS=/src/image/wheels \
    PIP_CONSTRAINT=/src/image/constraints.txt \
    PYTHON=python3 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY image/constraints.txt image/
COPY .ci/ .ci/
COPY edgeclean/ edgeclean/
# The wheel cache (keyed by llama-cpp-python version, flags and Python) survives rebuilds, not the image.
# EXTRAS=ray adds Ray for `edgeclean corpus --engine ray` (README: "Many machines"); not pinned by constraints.txt.
ARG EXTRAS=""
RUN --mount=type=cache,target=/tmp/edgeclean-cache --mount=type=bind,source=image/wheels,target=/src/image/wheels \
    CMAKE_ARGS="${CPU_FLAGS:+$CPU_FLAGS }${CMAKE_ARGS}" EDGECLEAN_EXTRAS="$EXTRAS" bash .ci/setup --portable --no-dev
# A model is fetched now, on the connected build machine, never by a running container.
ARG MODEL=""
RUN mkdir -p /models \
    && if [ -n "$MODEL" ]; then bash .ci/fetch-model "$MODEL" /models; fi \
    && bash .ci/slim-venv /opt/edgeclean
# ---- end of the shared builder steps ----

FROM nvidia/cuda:${CUDA_VERSION}-runtime-${CUDA_UBUNTU} AS cuda
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 libgomp1 \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
# The NVIDIA container toolkit mounts the driver when the container runs with --gpus all.
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
# ---- the same steps as the cpu image below (tests/test_docker.py checks they stay the same) ----
LABEL org.opencontainers.image.title="edgeclean" \
      org.opencontainers.image.description="PDF to clean, podcast-ready text with a local GGUF model, offline"
RUN groupadd --gid 10001 edgeclean \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin edgeclean \
    && mkdir -p /models /data \
    && chown edgeclean:edgeclean /models /data
COPY --from=builder-cuda /opt/edgeclean /opt/edgeclean
COPY --from=builder-cuda --chown=edgeclean:edgeclean /models /models
# EDGECLEAN_MODEL: a model baked in with MODEL is the default of clean and doctor (empty: the usual default).
# EDGECLEAN_CONTAINER: edgeclean's messages speak of `docker run` and mounts instead of shell commands.
ARG MODEL=""
ENV PATH=/opt/edgeclean/bin:$PATH \
    EDGECLEAN_MODELS_DIR=/models \
    EDGECLEAN_MODEL=${MODEL} \
    EDGECLEAN_CONTAINER=1 \
    HF_HUB_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
VOLUME ["/models", "/data"]
WORKDIR /data
USER 10001:10001
ENTRYPOINT ["edgeclean"]
CMD ["--help"]
# ---- end of the shared image steps ----

# ======== CPU: the default image (the last stage) ======================================================
FROM ${PYTHON_IMAGE} AS builder-cpu
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
ENV CMAKE_ARGS=""
# ---- the same steps as builder-cuda above ----
ARG CPU_FLAGS=""
ENV EDGECLEAN_VENV=/opt/edgeclean \
    EDGECLEAN_CACHE=/tmp/edgeclean-cache \
    EDGECLEAN_PREBUILT_WHEELS=/src/image/wheels \
    PIP_CONSTRAINT=/src/image/constraints.txt \
    PYTHON=python3 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY image/constraints.txt image/
COPY .ci/ .ci/
COPY edgeclean/ edgeclean/
# The wheel cache (keyed by llama-cpp-python version, flags and Python) survives rebuilds, not the image.
# EXTRAS=ray adds Ray for `edgeclean corpus --engine ray` (README: "Many machines"); not pinned by constraints.txt.
ARG EXTRAS=""
RUN --mount=type=cache,target=/tmp/edgeclean-cache --mount=type=bind,source=image/wheels,target=/src/image/wheels \
    CMAKE_ARGS="${CPU_FLAGS:+$CPU_FLAGS }${CMAKE_ARGS}" EDGECLEAN_EXTRAS="$EXTRAS" bash .ci/setup --portable --no-dev
# A model is fetched now, on the connected build machine, never by a running container.
ARG MODEL=""
RUN mkdir -p /models \
    && if [ -n "$MODEL" ]; then bash .ci/fetch-model "$MODEL" /models; fi \
    && bash .ci/slim-venv /opt/edgeclean
# ---- end of the shared builder steps ----

FROM ${PYTHON_IMAGE} AS cpu
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
# ---- the same steps as the cuda image above ----
LABEL org.opencontainers.image.title="edgeclean" \
      org.opencontainers.image.description="PDF to clean, podcast-ready text with a local GGUF model, offline"
RUN groupadd --gid 10001 edgeclean \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin edgeclean \
    && mkdir -p /models /data \
    && chown edgeclean:edgeclean /models /data
COPY --from=builder-cpu /opt/edgeclean /opt/edgeclean
COPY --from=builder-cpu --chown=edgeclean:edgeclean /models /models
# EDGECLEAN_MODEL: a model baked in with MODEL is the default of clean and doctor (empty: the usual default).
# EDGECLEAN_CONTAINER: edgeclean's messages speak of `docker run` and mounts instead of shell commands.
ARG MODEL=""
ENV PATH=/opt/edgeclean/bin:$PATH \
    EDGECLEAN_MODELS_DIR=/models \
    EDGECLEAN_MODEL=${MODEL} \
    EDGECLEAN_CONTAINER=1 \
    HF_HUB_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
VOLUME ["/models", "/data"]
WORKDIR /data
USER 10001:10001
ENTRYPOINT ["edgeclean"]
CMD ["--help"]
# ---- end of the shared image steps ----
