"""The model behind a small interface: llama.cpp through llama-cpp-python, imported only when loaded."""

from __future__ import annotations

import logging
import math
import mmap
import struct
from collections import deque
from collections.abc import Hashable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from .completion import Ask, Completion, failed_completion
from .errors import ModelError, ModelNotFound

log = logging.getLogger("edgeclean.backend")

GGUF_MAGIC = b"GGUF"
GPU_BACKENDS = ("CUDA", "Metal", "Vulkan", "HIP", "SYCL", "OpenCL")


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

    def complete_many(
        self, asks: deque[tuple[Hashable, Ask]], *, parallel: int, context: int, prefixes: Sequence[str] = ()
    ) -> Iterator[tuple[Hashable, Completion]]:
        """Answer ``(key, ask)`` pairs popped from the left of ``asks``, up to ``parallel`` at a time.

        No more decode at once than ``asks`` holds when the answers start: a follow-up waits for a free slot.

        Yields ``(key, completion)`` as each finishes. ``asks`` is read again whenever a slot frees, so the
        caller may add follow-ups between answers. ``context`` is the most tokens any prompt and its answer
        need; ``prefixes``, texts many prompts start with (template and system prompt), are evaluated once.
        """
        ...

    def close(self) -> None: ...


def complete_in_turn(model: Model, asks: deque[tuple[Hashable, Ask]]) -> Iterator[tuple[Hashable, Completion]]:
    """``complete_many`` one ask at a time, for models with no batching of their own."""
    while asks:
        key, ask = asks.popleft()
        try:
            yield key, model.complete(ask.prompt, ask.max_tokens, ask.temperature, ask.seed, ask.only)
        except ModelError as error:  # as in the batch engine: this ask fails, the others still run
            yield key, failed_completion(str(error))


# The Llama object only loads the weights and tokenizes; every answer comes from a BatchEngine context, so its
# own context stays as small as llama.cpp allows.
_LOADER_CTX = 256


class LlamaCppModel:
    """A GGUF file loaded by llama.cpp. One instance is not thread-safe; call ``close()`` when done."""

    def __init__(self, path: str | Path, *, n_ctx: int, n_gpu_layers: int = -1, threads: int = 1):
        self.path = Path(path)
        check_gguf(self.path)
        llama_cpp = _import_llama_cpp()
        try:
            self._llama = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=_LOADER_CTX,
                n_batch=_LOADER_CTX,
                n_ubatch=_LOADER_CTX,
                n_gpu_layers=n_gpu_layers,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as error:
            raise ModelError(f"llama.cpp could not load {self.path} ({error})") from None
        self.name = self.path.name
        self.n_ctx = n_ctx
        self.n_ctx_train = self._llama._model.n_ctx_train()
        self.threads = threads
        self.device = _device(llama_cpp, n_gpu_layers)
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
        ((_, completion),) = self.complete_many(deque([(0, ask)]), parallel=1, context=self.n_ctx)
        if completion.failed:  # one call, one answer: a failure is the caller's to handle
            raise ModelError(completion.error)
        return completion

    def complete_many(
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
        from .batch import Request

        # The rendered template already carries BOS and special tokens; tokenizing it ourselves avoids a second BOS.
        allowed = self._allowed(ask.only) if ask.only else None
        return Request(self._tokens(ask.prompt), ask.max_tokens, ask.temperature, ask.seed, allowed)

    def _tokens(self, prompt: str) -> list[int]:
        return self._llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def _engine_for(self, parallel: int, context: int):
        """The cached engine when it has these slots and room enough; else a new one (the old one is freed first)."""
        from .batch import BatchEngine

        engine = self._engine
        if engine is not None and engine.parallel >= parallel and engine.n_ctx_per_seq >= context:
            return engine
        if engine is not None:
            engine.close()
            self._engine = None
        self._engine = BatchEngine(self._llama, parallel=parallel, n_ctx_per_seq=context, threads=self.threads)
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


def check_gguf(path: Path) -> None:
    """Refuse a missing, non-GGUF or truncated file before llama.cpp gets a chance to crash on it.

    Reads the header, walks the metadata and tensor table (no tensor data), and checks the file is long
    enough for every tensor; a Llama 3.2 1B header takes well under a second.
    """
    if not path.is_file():
        raise ModelNotFound(str(path), "Pass --model with the path of a GGUF file.")
    with path.open("rb") as handle:
        header = handle.read(8)
    if len(header) < 8 or header[:4] != GGUF_MAGIC:
        raise ModelError(f"{path} is not a GGUF model file (bad header)")
    version = int.from_bytes(header[4:8], "little")
    if version not in (2, 3):
        raise ModelError(f"{path} is GGUF version {version}; this llama.cpp reads versions 2 and 3")
    size = path.stat().st_size
    try:
        needed = gguf_required_size(path)
    except _TruncatedHeader:
        ends = f"its GGUF header ends early, at {size:,} bytes"
        raise ModelError(f"{path} is truncated: {ends}; download it again") from None
    if size < needed:
        raise ModelError(f"{path} is truncated: {size:,} bytes but its tensors need {needed:,}; download it again")


def gguf_required_size(path: Path) -> int:
    """How many bytes a GGUF file must have: its header, metadata, tensor table and the data they describe."""
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        reader = _GgufReader(data)
        tensor_count, kv_count = reader.u64(), reader.u64()
        alignment = 32
        for _ in range(kv_count):
            key = reader.string()
            value = reader.value(reader.u32())
            if key == "general.alignment" and isinstance(value, int) and value > 0:
                alignment = value
        end_of_data = 0
        for _ in range(tensor_count):
            reader.string()
            dims = [reader.u64() for _ in range(reader.u32())]
            ggml_type, offset = reader.u32(), reader.u64()
            end_of_data = max(end_of_data, offset + _tensor_bytes(ggml_type, dims))
        data_start = -(-reader.position // alignment) * alignment
        return data_start + end_of_data


class _TruncatedHeader(Exception):
    """The file ends (or holds nonsense) before its GGUF header does."""


# GGUF metadata value types: fixed-size scalars by struct format; 8 is a string, 9 an array.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9

# ggml tensor types: (elements per block, bytes per block), from ggml.c's type_traits. A type missing
# here (a newer quantization) counts as one byte, so the check stays a lower bound instead of failing.
_GGML_BLOCKS = {
    0: (1, 4),
    1: (1, 2),
    2: (32, 18),
    3: (32, 20),
    6: (32, 22),
    7: (32, 24),
    8: (32, 34),
    9: (32, 36),
    10: (256, 84),
    11: (256, 110),
    12: (256, 144),
    13: (256, 176),
    14: (256, 210),
    15: (256, 292),
    16: (256, 66),
    17: (256, 74),
    18: (256, 98),
    19: (256, 50),
    20: (32, 18),
    21: (256, 110),
    22: (256, 82),
    23: (256, 136),
    24: (1, 1),
    25: (1, 2),
    26: (1, 4),
    27: (1, 8),
    28: (1, 8),
    29: (256, 56),
    30: (1, 2),
    34: (256, 54),
    35: (256, 66),
}


def _tensor_bytes(ggml_type: int, dims: list[int]) -> int:
    if ggml_type not in _GGML_BLOCKS:
        return 1
    elements = math.prod(dims)
    per_block, block_bytes = _GGML_BLOCKS[ggml_type]
    return -(-elements // per_block) * block_bytes


class _GgufReader:
    """Little-endian reads from a memory-mapped GGUF header that raise _TruncatedHeader past the end."""

    def __init__(self, data: mmap.mmap):
        self.data = data
        self.position = 8  # after magic and version

    def _unpack(self, fmt: str):
        try:
            (value,) = struct.unpack_from("<" + fmt, self.data, self.position)
        except struct.error:
            raise _TruncatedHeader() from None
        self.position += struct.calcsize(fmt)
        return value

    def u32(self) -> int:
        return self._unpack("I")

    def u64(self) -> int:
        return self._unpack("Q")

    def string(self) -> str:
        start = self.skip_string()
        return self.data[start : self.position].decode("utf-8", errors="replace")

    def skip_string(self) -> int:
        """Step over a string, returning where its bytes start."""
        length = self.u64()
        start = self.position
        self.position += length
        if self.position > len(self.data):
            raise _TruncatedHeader()
        return start

    def value(self, kind: int):
        if kind in _SCALARS:
            return self._unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.u32(), self.u64()
            self._skip_array(item_kind, count)
            return None
        raise _TruncatedHeader()  # an unknown type code: the header is corrupt

    def _skip_array(self, item_kind: int, count: int) -> None:
        if item_kind in _SCALARS:
            self.position += count * struct.calcsize(_SCALARS[item_kind])
            if self.position > len(self.data):
                raise _TruncatedHeader()
            return
        for _ in range(count):  # strings (a tokenizer's vocabulary) and nested arrays: walk them
            if item_kind == _STRING:
                self.skip_string()
            else:
                self.value(item_kind)


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
        raise ModelError(f"llama-cpp-python is not installed ({error}); run: bash .ci/setup") from None
    except (OSError, RuntimeError) as error:  # installed, but libllama or a library it needs does not load
        raise ModelError(f"llama-cpp-python does not load ({error}); {_load_fix(str(error))}") from None
    return llama_cpp


def _load_fix(message: str) -> str:
    if "libcuda" in message:
        return "this CUDA build needs the NVIDIA driver: install it, and in Docker run with --gpus all"
    return "rebuild it for this machine: bash .ci/setup"
