# edgeclean for air-gapped servers. Build on a connected machine (BuildKit, the default since Docker 23):
#
#   docker build -t edgeclean .                                             # CPU, any x86-64-v3 (AVX2) CPU
#   docker build -t edgeclean:cuda --build-arg BACKEND=cuda .               # NVIDIA GPUs; run with --gpus all
#   docker build -t edgeclean --build-arg MODEL=llama-3.2-1b-instruct-q4_k_m .   # bake the model in
#
# and run, with no network:
#
#   docker run --rm -v "$PWD/models:/models:ro" -v "$PWD:/data" edgeclean clean paper.pdf
#   docker run --rm -v "$PWD/models:/models:ro" edgeclean doctor --probe
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

# hadolint ignores: DL3008 (apt versions unpinned: the base image tag pins the distribution release, and
# pinned point versions vanish from the archive with security updates); DL3006 (build-${BACKEND} and
# runtime-${BACKEND} are stages of this file picked by BACKEND, not images to tag).
ARG BACKEND=cpu
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG CUDA_VERSION=12.4.1
ARG CUDA_UBUNTU=ubuntu22.04

# ---- build bases: a compiler, and the same Python as the matching runtime base ----------------------
FROM ${PYTHON_IMAGE} AS build-cpu
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV CMAKE_ARGS=""

FROM nvidia/cuda:${CUDA_VERSION}-devel-${CUDA_UBUNTU} AS build-cuda
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
# Turing (T4), Volta (V100), Ampere (A100, A10, RTX 30), Ada (L4, RTX 40), Hopper (H100): no GPU is
# needed at build time because the architectures are named; the driver library is only a link stub here.
ARG CUDA_ARCHITECTURES="70;75;80;86;89;90"
ENV CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES} -DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined"

# ---- builder: llama-cpp-python compiled once into a wheel, edgeclean installed into /opt/edgeclean ----
# hadolint ignore=DL3006
FROM build-${BACKEND} AS builder
ARG CPU_FLAGS=""
ENV EDGECLEAN_VENV=/opt/edgeclean \
    EDGECLEAN_CACHE=/tmp/edgeclean-cache \
    PYTHON=python3 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY .ci/ .ci/
COPY edgeclean/ edgeclean/
# The wheel cache (keyed by llama-cpp-python version, flags and Python) survives rebuilds, not the image.
RUN --mount=type=cache,target=/tmp/edgeclean-cache \
    CMAKE_ARGS="${CPU_FLAGS:+$CPU_FLAGS }${CMAKE_ARGS}" bash .ci/setup --portable --no-dev

# ---- model: optionally fetched now, on the connected build machine, never by a running container ----
FROM builder AS model
ARG MODEL=""
RUN mkdir -p /models \
    && if [ -n "$MODEL" ]; then bash .ci/fetch-model "$MODEL" /models; fi

# ---- runtime bases: what running needs, no compiler ---------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime-cpu
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

FROM nvidia/cuda:${CUDA_VERSION}-runtime-${CUDA_UBUNTU} AS runtime-cuda
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 libgomp1 \
    && rm -rf /var/lib/apt/lists/*
# The NVIDIA container toolkit mounts the driver when the container runs with --gpus all.
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

# ---- the image ----------------------------------------------------------------------------------------
# hadolint ignore=DL3006
FROM runtime-${BACKEND}
LABEL org.opencontainers.image.title="edgeclean" \
      org.opencontainers.image.description="PDF to clean, podcast-ready text with a local GGUF model, offline"
RUN groupadd --gid 10001 edgeclean \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin edgeclean \
    && mkdir -p /models /data \
    && chown edgeclean:edgeclean /models /data
COPY --from=builder /opt/edgeclean /opt/edgeclean
COPY --from=model --chown=edgeclean:edgeclean /models /models
ENV PATH=/opt/edgeclean/bin:$PATH \
    EDGECLEAN_MODELS_DIR=/models \
    HF_HUB_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
VOLUME ["/models", "/data"]
WORKDIR /data
USER 10001:10001
ENTRYPOINT ["edgeclean"]
CMD ["--help"]
