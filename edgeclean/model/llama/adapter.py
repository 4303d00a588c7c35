"""The Model interface on llama.cpp, through llama-cpp-python (imported only when a model loads)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Hashable, Iterator, Sequence
from pathlib import Path

from ...errors import ModelError
from ..gguf_file import check_gguf
from ..hardware import apply_openmp_wait
from ..protocol import CONTEXT_SLACK, Ask, Completion

log = logging.getLogger("edgeclean.model")

GPU_BACKENDS = ("CUDA", "Metal", "Vulkan", "HIP", "SYCL", "OpenCL")


# The Llama object only loads the weights and tokenizes; every answer comes from a BatchEngine context, so its
# own context stays as small as llama.cpp allows.
_LOADER_CTX = 256


class LlamaCppModel:
    """A GGUF file loaded by llama.cpp. One instance is not thread-safe; call ``close()`` when done."""

    def __init__(self, path: str | Path, *, n_ctx: int, n_gpu_layers: int = -1, threads: int = 1, draft: int = 0):
        self.path = Path(path)
        check_gguf(self.path)
        llama_cpp = import_llama_cpp()
        try:
            self._llama = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=_LOADER_CTX,
                n_batch=_LOADER_CTX,
                n_ubatch=_LOADER_CTX,
                n_gpu_layers=n_gpu_layers,
                n_threads=threads,
                n_threads_batch=threads,
                # Read the weights in, not mmap them: on CPU llama.cpp repacks most weight tensors into anonymous
                # memory, and the mapped file pages it read stay in the process too (1.5B Q4_K_M, 1.07 GB file:
                # peak RSS 1958 MB mapped, 1353 MB read, measured). Load time is the same from the page cache.
                use_mmap=False,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as error:
            raise ModelError(f"llama.cpp could not load {self.path} ({error})") from None
        self.name = self.path.name
        self.n_ctx = n_ctx
        self.threads = threads
        self.draft = draft
        self.device = device_name(llama_cpp, n_gpu_layers)
        self.chat_template = self._llama.metadata.get("tokenizer.chat_template")
        if not self.chat_template:
            log.warning("%s has no chat template; prompts use ChatML, which it may not understand", self.name)
        self.bos_token = self._token_text(self._llama.token_bos())
        self.eos_token = self._token_text(self._llama.token_eos())
        self._allowed_tokens: dict = {}
        self._engine = None

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llama.detokenize([token], special=True).decode("utf-8", errors="replace")

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def complete(
        self, prompt: str, max_tokens: int, temperature: float, seed: int, only: str | None = None
    ) -> Completion:
        ask = Ask(prompt, max_tokens, temperature, seed, only)
        ((_, completion),) = self._answer(deque([(0, ask)]), parallel=1, context=self.n_ctx)
        if completion.failed:  # one call, one answer: a failure is the caller's to handle
            raise ModelError(completion.error)
        return completion

    def complete_many(
        self, asks: deque[tuple[Hashable, Ask]], *, parallel: int, prefixes: Sequence[str] = ()
    ) -> Iterator[tuple[Hashable, Completion]]:
        return self._answer(asks, parallel=parallel, context=self.context_needed(asks, prefixes), prefixes=prefixes)

    def context_needed(self, asks: Sequence[tuple[Hashable, Ask]], prefixes: Sequence[str] = ()) -> int:
        """The most tokens one sequence needs: the longest prompt and its answer, plus room for a follow-up
        whose prefix is longer than that prompt's own (a retry's stricter system prompt).

        Select answers are a few dozen tokens, so a context sized to them needs far less memory than --ctx.
        """
        longest, prompt = max((self.count_tokens(ask.prompt) + ask.max_tokens, ask.prompt) for _, ask in asks)
        sizes = {prefix: self.count_tokens(prefix) for prefix in prefixes}
        own = max((size for prefix, size in sizes.items() if prompt.startswith(prefix)), default=0)
        extra = max(0, max(sizes.values(), default=0) - own)
        return min(self.n_ctx, longest + extra + CONTEXT_SLACK + self.draft)  # drafts decode past the answer

    def _answer(
        self, asks: deque[tuple[Hashable, Ask]], *, parallel: int, context: int, prefixes: Sequence[str] = ()
    ) -> Iterator[tuple[Hashable, Completion]]:
        # Slots beyond the asks queued now would only hold KV cache: follow-ups such as retries take the slot
        # their first ask freed.
        parallel = max(1, min(parallel, len(asks)))
        engine = self._engine_for(parallel, min(context, self.n_ctx))
        for prefix in prefixes:
            engine.add_prefix(self._tokens(prefix))

        def take():
            if not asks:
                return None
            key, ask = asks.popleft()
            return key, self._request(ask)

        yield from engine.run(take, parallel=parallel)

    def _request(self, ask: Ask):
        from .engine import Request

        # The rendered template already carries BOS and special tokens; tokenizing it ourselves avoids a second BOS.
        allowed = self._allowed(ask.only) if ask.only else None
        return Request(self._tokens(ask.prompt), ask.max_tokens, ask.temperature, ask.seed, allowed)

    def _tokens(self, prompt: str) -> list[int]:
        return self._llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def _engine_for(self, parallel: int, context: int):
        """The cached engine when it has these slots and room enough; else a new one (the old one is freed first)."""
        from .engine import BatchEngine

        engine = self._engine
        if engine is not None and engine.parallel >= parallel and engine.n_ctx_per_seq >= context:
            return engine
        if engine is not None:
            engine.close()
            self._engine = None
        self._engine = BatchEngine(
            self._llama, parallel=parallel, n_ctx_per_seq=context, threads=self.threads, draft=self.draft
        )
        return self._engine

    def _allowed(self, characters: str):
        """A vocabulary mask of the tokens made only of ``characters``, and end-of-generation.

        A GBNF grammar would say the same, but llama.cpp checks a grammar against the whole vocabulary at every
        step: measured here at under 1 token/s against ~70 for a mask.
        """
        import numpy as np

        if characters not in self._allowed_tokens:
            allowed = set(characters)
            mask = np.zeros(self._llama.n_vocab(), dtype=bool)
            for token in range(len(mask)):
                piece = self._llama.detokenize([token]).decode("utf-8", errors="replace")
                mask[token] = bool(piece) and set(piece) <= allowed
            mask[self._llama.token_eos()] = True
            self._allowed_tokens[characters] = mask
        return self._allowed_tokens[characters]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        self._llama.close()


def gpu_offload_supported() -> bool:
    return bool(import_llama_cpp().llama_supports_gpu_offload())


def device_name(llama_cpp, n_gpu_layers: int) -> str:
    if n_gpu_layers == 0 or not llama_cpp.llama_supports_gpu_offload():
        return "CPU"
    system_info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    return next((name for name in GPU_BACKENDS if name.upper() in system_info.upper()), "GPU")


def import_llama_cpp():
    apply_openmp_wait()  # libgomp reads its settings once, when llama.cpp loads
    try:
        import llama_cpp
    except ImportError as error:
        raise ModelError(f"llama-cpp-python is not installed ({error}); run: bash .ci/setup") from None
    except (OSError, RuntimeError) as error:  # installed, but libllama or a library it needs does not load
        raise ModelError(f"llama-cpp-python does not load ({error}); {_load_fix(str(error))}") from None
    return llama_cpp


def _load_fix(message: str) -> str:
    if "libcuda" in message:
        return "this CUDA build needs the NVIDIA driver: install it, and in Docker run with --gpus all"
    return "rebuild it for this machine: bash .ci/setup"
