"""Many greedy completions at once in one llama.cpp context, the shared prompt prefix evaluated once.

llama-cpp-python's high-level ``create_completion`` runs one sequence and re-detokenizes the answer on every
token. Here K sequences (slots) decode together: each step is one ``llama_decode`` of a batch holding the next
token of every active sequence (plus the prompts of sequences just started), each token tagged with its own
seq_id. The prompt prefix (template + system prompt) lives once in the KV cache as sequence ``K`` and is
shared into each slot with ``llama_memory_seq_cp``. Per token, Python does O(1) work: sample, append the
token's bytes, decode UTF-8 once at the end.

Determinism: greedy answers are a pure function of the inputs *and of the batch they were computed in* —
batched matmuls and attention sums over the cache can round differently when other sequences share the batch
or sit elsewhere in the cache. ``run(requests, refill=False)`` (a fixed group: all start together, a finished
slot stays empty) gives the same bytes every time the same group is run, which is what resume relies on.
``refill=True`` is continuous batching (a waiting request takes a slot as soon as one frees): faster when
answer lengths differ, but an answer may depend on which requests happened to be in flight.

Measured with SmolLM2-135M on CPU: K=1 here equals the high-level API token for token; a group of 4 gives the
same bytes on every run and after kill + resume; but a K=4 answer is not always the K=1 answer (one chunk
diverged after ~25 words), which is why ``parallel`` is part of the checkpoint fingerprint.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from .backend import Completion
from .errors import ModelError


@dataclass(frozen=True)
class Request:
    tokens: list[int]
    """The whole prompt, already tokenized (template, special tokens and BOS included)."""
    max_tokens: int
    """Most answer tokens; the answer also stops at an end-of-generation token or a full context."""


@dataclass
class _Slot:
    seq: int
    index: int = -1
    request: Request | None = None
    pieces: list[bytes] = field(default_factory=list)
    next_token: int = -1
    position: int = 0
    limit: int = 0
    logit_row: int = -1
    started: float = 0.0

    @property
    def busy(self) -> bool:
        return self.request is not None


class BatchEngine:
    """One llama.cpp context with ``parallel`` sequence slots on a model already loaded by ``llama_cpp.Llama``."""

    def __init__(self, llama, *, parallel: int, n_ctx_per_seq: int, threads: int, prefix: list[int]):
        import llama_cpp

        self._lib = llama_cpp
        self.parallel = parallel
        self.n_ctx_per_seq = n_ctx_per_seq
        self.prefix = list(prefix)
        self._model = llama._model.model
        self._vocab = llama._model.vocab
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = _round_up(len(self.prefix) + parallel * (n_ctx_per_seq - len(self.prefix)), 256)
        params.n_batch = params.n_ctx
        params.n_ubatch = 512
        params.n_seq_max = parallel + 1  # the slots, and the prefix as its own sequence
        params.kv_unified = True  # one cache, so the prefix cells can be shared, not copied per slot
        params.n_threads = params.n_threads_batch = threads
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED  # as the high-level Llama runs
        params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        if not self._ctx:
            raise ModelError(f"llama.cpp could not create a {params.n_ctx}-token context for {parallel} sequences")
        self.n_ctx = params.n_ctx
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(params.n_batch, 0, 1)
        self._batch_capacity = params.n_batch
        self._sampler = llama_cpp.llama_sampler_init_greedy()
        self._piece = ctypes.create_string_buffer(256)
        self._prefix_seq = parallel
        if self.prefix:
            self._decode([(token, position, self._prefix_seq, False) for position, token in enumerate(self.prefix)])

    def run(self, requests: Sequence[Request], *, refill: bool = False) -> Iterator[tuple[int, Completion]]:
        """Yield ``(i, completion)`` for each request as it finishes (not in order).

        ``refill=False`` runs ``requests`` (at most ``parallel`` of them) as one fixed group;
        ``refill=True`` starts a waiting request in a slot as soon as one frees (continuous batching).
        """
        if not refill and len(requests) > self.parallel:
            raise ValueError(f"a fixed group holds at most {self.parallel} requests, not {len(requests)}")
        waiting = list(enumerate(requests))[::-1]
        slots = [_Slot(seq) for seq in range(self.parallel)]
        self._clear_slots()
        try:
            while True:
                entries = []
                if refill or not any(slot.busy for slot in slots):
                    for slot in slots:
                        if not slot.busy and waiting:
                            entries += self._start(slot, *waiting.pop())
                            slot.logit_row = len(entries) - 1  # the prompt's last token gives the logits
                for slot in slots:
                    if slot.busy and slot.next_token >= 0:
                        slot.logit_row = len(entries)
                        entries.append((slot.next_token, slot.position, slot.seq, True))
                        slot.position += 1
                if not entries:
                    return
                self._decode(entries)
                for slot in slots:
                    if slot.busy:
                        done = self._advance(slot)
                        if done is not None:
                            yield done
        finally:
            self._clear_slots()

    def _start(self, slot: _Slot, index: int, request: Request) -> list[tuple[int, int, int, bool]]:
        shared = _common_prefix(self.prefix, request.tokens[:-1])  # at least one token left to give logits
        room = self.n_ctx_per_seq - len(request.tokens)
        if room < 1:
            raise ModelError(f"a prompt of {len(request.tokens)} tokens does not fit {self.n_ctx_per_seq} tokens")
        self._lib.llama_memory_seq_rm(self._memory, slot.seq, -1, -1)
        if shared:
            self._lib.llama_memory_seq_cp(self._memory, self._prefix_seq, slot.seq, 0, shared)
        slot.index, slot.request, slot.pieces = index, request, []
        slot.limit, slot.started, slot.next_token = min(request.max_tokens, room), time.perf_counter(), -1
        rest = request.tokens[shared:]
        slot.position = len(request.tokens)
        return [(token, shared + i, slot.seq, i == len(rest) - 1) for i, token in enumerate(rest)]

    def _advance(self, slot: _Slot) -> tuple[int, Completion] | None:
        token = self._lib.llama_sampler_sample(self._sampler, self._ctx, slot.logit_row)
        if self._lib.llama_vocab_is_eog(self._vocab, token):
            return self._finish(slot, "stop")
        slot.pieces.append(self._token_bytes(token))
        if len(slot.pieces) >= slot.limit:
            return self._finish(slot, "length")
        slot.next_token = token
        return None

    def _finish(self, slot: _Slot, reason: str) -> tuple[int, Completion]:
        request = slot.request
        completion = Completion(
            text=b"".join(slot.pieces).decode("utf-8", errors="ignore"),
            finish_reason=reason,
            prompt_tokens=len(request.tokens),
            completion_tokens=len(slot.pieces),
            seconds=time.perf_counter() - slot.started,
        )
        self._lib.llama_memory_seq_rm(self._memory, slot.seq, -1, -1)
        slot.request, slot.next_token = None, -1
        return slot.index, completion

    def _token_bytes(self, token: int) -> bytes:
        length = self._lib.llama_token_to_piece(self._vocab, token, self._piece, len(self._piece), 0, False)
        if length < 0:
            buffer = ctypes.create_string_buffer(-length)
            length = self._lib.llama_token_to_piece(self._vocab, token, buffer, -length, 0, False)
            return buffer.raw[:length]
        return self._piece.raw[:length]

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """Evaluate (token, position, seq_id, wants_logits) entries as one batch; logits rows are entry indexes."""
        if len(entries) > self._batch_capacity:
            raise ModelError(f"a batch of {len(entries)} tokens exceeds the {self._batch_capacity}-token context")
        batch = self._batch
        for i, (token, position, seq, logits) in enumerate(entries):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, position, 1
            batch.seq_id[i][0], batch.logits[i] = seq, logits
        batch.n_tokens = len(entries)
        status = self._lib.llama_decode(self._ctx, batch)
        if status != 0:
            raise ModelError(f"llama_decode failed with status {status} on a batch of {len(entries)} tokens")

    def _clear_slots(self) -> None:
        for seq in range(self.parallel):
            self._lib.llama_memory_seq_rm(self._memory, seq, -1, -1)

    def close(self) -> None:
        if self._ctx is not None:
            self._lib.llama_sampler_free(self._sampler)
            self._lib.llama_batch_free(self._batch)
            self._lib.llama_free(self._ctx)
            self._ctx = None


def _common_prefix(a: list[int], b: list[int]) -> int:
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple
