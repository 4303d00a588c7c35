"""The model behind a small interface: llama.cpp through llama-cpp-python, imported only when loaded."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .errors import ModelError, ModelNotFound

log = logging.getLogger("edgeclean.backend")

GGUF_MAGIC = b"GGUF"
GPU_BACKENDS = ("CUDA", "Metal", "Vulkan", "HIP", "SYCL", "OpenCL")


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str  # "stop" (end-of-generation token) or "length" (hit max_tokens)
    prompt_tokens: int
    completion_tokens: int
    seconds: float


class Model(Protocol):
    """What the pipeline needs from a model; tests may pass a recording fake."""

    name: str
    n_ctx: int
    device: str  # what actually runs the layers: "CPU", "CUDA", "Metal", ...
    chat_template: str | None
    bos_token: str
    eos_token: str

    def count_tokens(self, text: str) -> int: ...

    def complete(
        self, prompt: str, max_tokens: int, temperature: float, seed: int, only: str | None = None
    ) -> Completion:
        """Continue ``prompt``; with ``only``, the answer can hold no other characters than these."""
        ...

    def close(self) -> None: ...


class LlamaCppModel:
    """A GGUF file loaded by llama.cpp. One instance is not thread-safe; call ``close()`` when done."""

    def __init__(self, path: str | Path, *, n_ctx: int, n_gpu_layers: int = -1, threads: int = 1):
        self.path = Path(path)
        check_gguf(self.path)
        llama_cpp = _import_llama_cpp()
        try:
            self._llama = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=n_ctx,
                n_gpu_layers=n_gpu_layers,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as error:
            raise ModelError(f"llama.cpp could not load {self.path} ({error})") from None
        self.name = self.path.name
        self.n_ctx = self._llama.n_ctx()
        self.n_ctx_train = self._llama._model.n_ctx_train()
        self.threads = threads
        self.device = _device(llama_cpp, n_gpu_layers)
        self.chat_template = self._llama.metadata.get("tokenizer.chat_template")
        if not self.chat_template:
            log.warning("%s has no chat template; prompts use ChatML, which it may not understand", self.name)
        self.bos_token = self._token_text(self._llama.token_bos())
        self.eos_token = self._token_text(self._llama.token_eos())
        self._masks: dict = {}

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llama.detokenize([token], special=True).decode("utf-8", errors="replace")

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def complete(
        self, prompt: str, max_tokens: int, temperature: float, seed: int, only: str | None = None
    ) -> Completion:
        # The rendered template already carries BOS and special tokens; tokenizing it ourselves avoids a
        # second BOS. reset() drops the previous chunk's cache so every chunk is evaluated the same way,
        # which keeps greedy answers identical whether or not a run was resumed.
        tokens = self._llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        room = self.n_ctx - len(tokens)
        if room < 1:
            raise ModelError(f"a prompt of {len(tokens)} tokens does not fit the {self.n_ctx}-token context")
        self._llama.reset()
        self._llama.set_seed(seed)
        started = time.perf_counter()
        answer = self._llama.create_completion(
            tokens,
            max_tokens=min(max_tokens, room),
            temperature=temperature,
            top_k=0 if temperature == 0 else 40,
            top_p=1.0 if temperature == 0 else 0.95,
            min_p=0.0,
            repeat_penalty=1.0,
            seed=seed,
            logits_processor=[self._only_processor(only)] if only else None,
        )
        choice, usage = answer["choices"][0], answer["usage"]
        return Completion(
            text=choice["text"],
            finish_reason=choice["finish_reason"] or "stop",
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            seconds=time.perf_counter() - started,
        )

    def _only_processor(self, characters: str):
        """A logits mask allowing only tokens made of ``characters``, and end-of-generation.

        A GBNF grammar would say the same, but llama.cpp checks a grammar against the whole vocabulary at every
        step: measured here at under 1 token/s against ~70 for a mask.
        """
        import numpy as np

        if characters not in self._masks:
            allowed = set(characters)
            mask = np.zeros(self._llama.n_vocab(), dtype=bool)
            for token in range(len(mask)):
                piece = self._llama.detokenize([token]).decode("utf-8", errors="replace")
                mask[token] = bool(piece) and set(piece) <= allowed
            mask[self._llama.token_eos()] = True
            self._masks[characters] = mask
        mask = self._masks[characters]
        return lambda input_ids, logits: np.where(mask, logits, -np.inf)

    def close(self) -> None:
        self._llama.close()


def check_gguf(path: Path) -> None:
    """Refuse a missing or non-GGUF file before llama.cpp gets a chance to crash on it."""
    if not path.is_file():
        raise ModelNotFound(str(path), "Pass --model with the path of a GGUF file.")
    with path.open("rb") as handle:
        header = handle.read(8)
    if len(header) < 8 or header[:4] != GGUF_MAGIC:
        raise ModelError(f"{path} is not a GGUF model file (bad header)")
    version = int.from_bytes(header[4:8], "little")
    if version not in (2, 3):
        raise ModelError(f"{path} is GGUF version {version}; this llama.cpp reads versions 2 and 3")


def gpu_offload_supported() -> bool:
    return bool(_import_llama_cpp().llama_supports_gpu_offload())


def _device(llama_cpp, n_gpu_layers: int) -> str:
    if n_gpu_layers == 0 or not llama_cpp.llama_supports_gpu_offload():
        return "CPU"
    system_info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    return next((name for name in GPU_BACKENDS if name.upper() in system_info.upper()), "GPU")


def _import_llama_cpp():
    try:
        import llama_cpp
    except ImportError as error:
        raise ModelError(f"llama-cpp-python is not installed ({error}); run scripts/install.sh") from None
    return llama_cpp
