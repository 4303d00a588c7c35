"""Many completions at once in one llama.cpp context: continuous batching, shared prompt prefixes evaluated once.

llama-cpp-python's high-level ``create_completion`` runs one sequence and re-detokenizes the answer on every
token. Here up to ``parallel`` sequences (slots) decode together: each step is one ``llama_decode`` of a batch
holding the next token of every active sequence plus the prompts of sequences just started, each token tagged
with its own seq_id. A slot that finishes takes the next waiting request at once (continuous batching).
Per token, Python does O(1) work: sample, append the token's bytes; the text is decoded once at the end.

Prefixes (chat template + system prompt) are evaluated once, their KV cells saved with
``llama_state_seq_get_data`` and restored into a slot whose prompt starts with them.

Determinism: every slot has its own KV stream (``kv_unified = False``). Measured on the CPU build with
SmolLM2-135M, an answer is then byte-identical whatever else shares the batch: one at a time, 3 or 4 at a
time, in any order, with or without refilling slots, and equal to the high-level API. With one unified cache
it is not (cells of other sequences change the rounding of attention sums; 7 of 8 answers diverged), which
would make a resumed run differ from an uninterrupted one. GPU kernels that pick a different algorithm by
batch size may still round differently; that is untested here.

Copy-aware drafts (``draft`` > 0, greedy unmasked answers only, off by default): a rewrite copies most of its
chunk, so after each token the tokens that followed the latest earlier occurrence of the answer's last n-gram
(lookup.py) are decoded beside it and kept as far as greedy decoding agrees. It is not free of rounding: a row
decoded alone in its KV stream (a plain step) and rows decoded with others of the same sequence (a prompt, a
draft being checked) round differently on the CPU build (up to ~1 logit on SmolLM2-135M; 2 and 16 rows agree
exactly), so drafted answers may differ from plain ones (SmolLM2: 6 of 8 test chunks; 0.5B proxy: 0 of 8).
Every drafting step therefore decodes the same width, in a decode of its own, and drafted answers are the same
at any K and after a resume (tests/test_lookup.py).
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field

from ...errors import ModelError
from ..protocol import Completion, failed_completion
from .lookup import Lookup

CONTEXT_ROUNDING = 256  # llama.cpp pads the attended cells to 256 anyway


@dataclass(frozen=True)
class Request:
    tokens: list[int]
    """The whole prompt, already tokenized (template, special tokens and BOS included)."""
    max_tokens: int
    """Most answer tokens; the answer also stops at an end-of-generation token or a full context."""
    temperature: float = 0.0
    """0 is greedy; above 0, top-k 40 / top-p 0.95 sampling seeded with ``seed``."""
    seed: int = 0
    allowed: object = None
    """A numpy bool array over the vocabulary: only these tokens may be chosen (None: any)."""


@dataclass
class _Slot:
    seq: int
    key: Hashable = None
    request: Request | None = None
    pieces: list[bytes] = field(default_factory=list)
    next_token: int = -1
    limit: int = 0
    started: float = 0.0
    first_token_at: float = 0.0
    sampler: object = None
    lookup: Lookup | None = None
    """Where this answer's drafts come from; None when it takes none (sampling, a mask, drafting off)."""
    draft: list[int] = field(default_factory=list)
    """Tokens decoded after ``next_token`` in the latest step, not yet confirmed by greedy decoding."""

    @property
    def busy(self) -> bool:
        return self.request is not None

    @property
    def position(self) -> int:
        """Where ``next_token``, the answer's latest token, goes: right after the prompt and the tokens before it."""
        return len(self.request.tokens) + len(self.pieces) - 1


class BatchEngine:
    """One llama.cpp context with ``parallel`` slots of ``n_ctx_per_seq`` tokens each, on an already loaded model."""

    def __init__(self, llama, *, parallel: int, n_ctx_per_seq: int, threads: int, draft: int = 0):
        import llama_cpp

        self._lib = llama_cpp
        self.parallel = parallel
        self.n_ctx_per_seq = _round_up(n_ctx_per_seq, CONTEXT_ROUNDING)
        self._model = llama.model  # the public handle: the rest is llama.cpp's own C API
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = parallel * self.n_ctx_per_seq
        params.n_batch = params.n_ctx
        params.n_ubatch = 512
        params.n_seq_max = parallel
        params.kv_unified = False  # a KV stream per slot: answers do not depend on their batch-mates
        params.n_threads = params.n_threads_batch = threads
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED  # as the high-level Llama runs
        params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        if not self._ctx:
            raise ModelError(
                f"llama.cpp could not create a {params.n_ctx}-token context for {parallel} sequences "
                "(out of memory?); lower --parallel or --ctx"
            )
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(params.n_batch, 0, 1)
        self._batch_capacity = params.n_batch
        self._greedy = llama_cpp.llama_sampler_init_greedy()
        self._piece = ctypes.create_string_buffer(256)
        self._prefixes: dict[tuple[int, ...], bytes] = {}
        self.draft = draft
        """Most draft tokens verified beside a greedy answer's next token in one decode (0: plain decoding)."""
        self.prompts_together = False
        """Evaluate the prompts of the slots filled at once in one decode: changes answers (bench/lookup.py arm p)."""
        self.drafts = self.drafted = self.accepted = 0
        """Drafts tried, their tokens decoded and those greedy decoding confirmed, over this engine's life."""

    def add_prefix(self, tokens: list[int]) -> None:
        """Evaluate ``tokens`` once and keep their KV cells for every later prompt that starts with them."""
        key = tuple(tokens)
        if not key or key in self._prefixes or len(key) >= self.n_ctx_per_seq:
            return
        self._lib.llama_memory_seq_rm(self._memory, 0, -1, -1)
        self.decode([(token, position, 0, False) for position, token in enumerate(key)])
        size = self._lib.llama_state_seq_get_size(self._ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = self._lib.llama_state_seq_get_data(self._ctx, buffer, size, 0)
        self._lib.llama_memory_seq_rm(self._memory, 0, -1, -1)
        self._prefixes[key] = bytes(buffer[:written])

    def run(
        self, take: Callable[[], tuple[Hashable, Request] | None], *, parallel: int | None = None
    ) -> Iterator[tuple[Hashable, Completion]]:
        """Yield ``(key, completion)`` as each request finishes, taking requests from ``take()`` while slots free.

        ``take`` returns the next ``(key, request)`` or None when none waits; it is called again whenever a
        slot is free, so a caller may queue follow-up requests between the answers it is given. ``parallel``
        uses only that many of the slots.
        """
        slots = [_Slot(seq) for seq in range(min(parallel or self.parallel, self.parallel))]
        try:
            while True:
                if self.prompts_together:
                    yield from self._start_together(slots, take)
                for slot in slots:
                    while not slot.busy and (waiting := take()) is not None:
                        if (done := self._start_contained(slot, *waiting)) is not None:
                            yield done  # finished on its first token, or could not start
                active = [slot for slot in slots if slot.busy]
                if not active:
                    return
                drafting = [slot for slot in active if slot.lookup is not None]
                for group in (drafting, [slot for slot in active if slot.lookup is None]):
                    if group:
                        yield from self._step(group)
        finally:
            for slot in slots:
                self._free_sampler(slot)
            self._clear_slots()

    def _step(self, group: list[_Slot]) -> Iterator[tuple[Hashable, Completion]]:
        """One decode of the group's next tokens (and drafts), then each slot's tokens sampled from it.

        Drafting and plain slots decode apart: in one batch llama.cpp would cut the longer sequences' rows into
        several micro-batches to even them out, and a row decoded alone for its sequence rounds differently.
        """
        entries, rows = self._step_entries(group)
        try:
            self.decode(entries)
        except ModelError as error:  # every sequence in the step fails; the next asks still run
            for slot in group:
                yield self._fail(slot, str(error))
            return
        for row, slot in zip(rows, group, strict=True):
            if (done := self._advance_drafted(slot, row)) is not None:
                yield done

    def _step_entries(self, group: list[_Slot]) -> tuple[list[tuple[int, int, int, bool]], list[int]]:
        """Each slot's next token, then its draft; and the row where each slot's tokens start.

        A drafting slot always decodes ``draft`` tokens after its next one, filled up with its next token when the
        chunk offers fewer: a fixed width keeps its rows' rounding, hence its answer, whatever the drafts (see top).
        """
        entries, rows = [], []
        for slot in group:
            if slot.lookup is not None:
                width = max(0, min(self.draft, self.n_ctx_per_seq - slot.position - 1))
                draft = slot.lookup.draft(width)
                slot.draft = draft + [slot.next_token] * (width - len(draft))
            rows.append(len(entries))
            entries.append((slot.next_token, slot.position, slot.seq, True))
            entries += [(token, slot.position + 1 + i, slot.seq, True) for i, token in enumerate(slot.draft)]
        return entries, rows

    def _advance_drafted(self, slot: _Slot, row: int) -> tuple[Hashable, Completion] | None:
        """Sample row by row while greedy decoding picks the drafted token; drop the cells of the rest."""
        draft, slot.draft = slot.draft, []
        for i in range(len(draft) + 1):
            if (done := self._advance(slot, row + i)) is not None:
                self._count_draft(len(draft), i)
                return done
            if i == len(draft) or slot.next_token != draft[i]:
                break
        self._count_draft(len(draft), i)
        if i < len(draft):  # cells from the first rejected token on hold a future that did not happen
            self._lib.llama_memory_seq_rm(self._memory, slot.seq, slot.position, -1)
        return None

    def _count_draft(self, drafted: int, accepted: int) -> None:
        self.drafts += drafted > 0
        self.drafted += drafted
        self.accepted += accepted

    def _start_contained(self, slot: _Slot, key: Hashable, request: Request) -> tuple[Hashable, Completion] | None:
        """Start a request; one that cannot start (too long, a failed decode) ends at once as a failed completion."""
        try:
            return self._start(slot, key, request)
        except ModelError as error:
            if slot.busy:
                return self._fail(slot, str(error))
            return key, failed_completion(str(error), len(request.tokens))

    def _fail(self, slot: _Slot, error: str) -> tuple[Hashable, Completion]:
        key, prompt_tokens = slot.key, len(slot.request.tokens)
        self._release(slot)
        return key, failed_completion(error, prompt_tokens)

    def _start(self, slot: _Slot, key: Hashable, request: Request) -> tuple[Hashable, Completion] | None:
        """Evaluate a prompt in a slot and sample its first token.

        The prompt gets a llama_decode of its own, never shared with other sequences' tokens. With mixed batches,
        8 at once diverged from one at a time on long answers (measured); the likely cause is that llama.cpp
        splits a mixed batch into micro-batches by its neighbours, so a prompt's tokens meet kernels that round
        differently. Decode steps hold exactly one token per sequence, as a single sequence's steps do.
        """
        entries = self._begin(slot, key, request)
        self.decode(entries)
        slot.first_token_at = time.perf_counter()
        return self._advance(slot, len(entries) - 1)

    def _begin(self, slot: _Slot, key: Hashable, request: Request) -> list[tuple[int, int, int, bool]]:
        """Take a request into a slot, its saved prefix restored; return the prompt entries still to decode."""
        room = self.n_ctx_per_seq - len(request.tokens)
        if room < 1:
            raise ModelError(f"a prompt of {len(request.tokens)} tokens does not fit {self.n_ctx_per_seq} tokens")
        shared = self._restore_prefix(slot.seq, request.tokens)
        slot.key, slot.request, slot.pieces = key, request, []
        slot.limit, slot.started = min(request.max_tokens, room), time.perf_counter()
        slot.sampler = self._sampler(request)
        drafts = self.draft > 0 and request.temperature == 0 and request.allowed is None
        slot.lookup = Lookup(request.tokens) if drafts else None
        rest = request.tokens[shared:]
        return [(token, shared + i, slot.seq, i == len(rest) - 1) for i, token in enumerate(rest)]

    def _start_together(self, slots: list[_Slot], take) -> Iterator[tuple[Hashable, Completion]]:
        """Fill every free slot, then evaluate all their prompts in one decode."""
        entries, rows, started = [], [], []
        for slot in slots:
            if not slot.busy and (waiting := take()) is not None:
                try:
                    entries += self._begin(slot, *waiting)
                except ModelError as error:
                    yield waiting[0], failed_completion(str(error), len(waiting[1].tokens))
                    continue
                rows.append(len(entries) - 1)
                started.append(slot)
        if not started:
            return
        try:
            self.decode(entries)
        except ModelError as error:
            for slot in started:
                yield self._fail(slot, str(error))
            return
        for slot, row in zip(started, rows, strict=True):
            slot.first_token_at = time.perf_counter()
            if (done := self._advance(slot, row)) is not None:
                yield done

    def _restore_prefix(self, seq: int, tokens: list[int]) -> int:
        """Put the longest saved prefix of ``tokens`` into ``seq``'s cells; return how many tokens it covers."""
        self._lib.llama_memory_seq_rm(self._memory, seq, -1, -1)
        best, state = 0, b""
        for prefix, saved in self._prefixes.items():
            shared = _common_prefix(prefix, tokens)
            if shared > best:
                best, state = shared, saved
        best = min(best, len(tokens) - 1)  # at least one prompt token left to give logits
        if best <= 0:
            return 0
        source = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if self._lib.llama_state_seq_set_data(self._ctx, source, len(state), seq) == 0:
            raise ModelError("llama.cpp could not restore a saved prompt prefix")
        self._lib.llama_memory_seq_rm(self._memory, seq, best, -1)  # keep only what this prompt shares
        return best

    def _sampler(self, request: Request):
        if request.temperature == 0:
            return None
        lib = self._lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_k(40))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(0.95, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(request.temperature))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(request.seed & 0xFFFFFFFF))
        return chain

    def _advance(self, slot: _Slot, logit_row: int) -> tuple[Hashable, Completion] | None:
        """Sample the slot's next token from row ``logit_row`` of the last decode's logits."""
        if slot.request.allowed is not None:
            self._mask_logits(logit_row, slot.request.allowed)
        token = self._lib.llama_sampler_sample(slot.sampler or self._greedy, self._ctx, logit_row)
        if self._lib.llama_vocab_is_eog(self._vocab, token):
            return self._finish(slot, "stop")
        slot.pieces.append(self._token_bytes(token))
        if slot.lookup is not None:
            slot.lookup.append(token)
        if len(slot.pieces) >= slot.limit:
            return self._finish(slot, "length")
        slot.next_token = token
        return None

    def _mask_logits(self, row: int, allowed) -> None:
        import numpy as np

        pointer = self._lib.llama_get_logits_ith(self._ctx, row)
        logits = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))
        logits[~allowed] = -np.inf

    def _finish(self, slot: _Slot, reason: str) -> tuple[Hashable, Completion]:
        request = slot.request
        completion = Completion(
            text=b"".join(slot.pieces).decode("utf-8", errors="ignore"),
            finish_reason=reason,
            prompt_tokens=len(request.tokens),
            completion_tokens=len(slot.pieces),
            seconds=time.perf_counter() - slot.started,
            prompt_seconds=slot.first_token_at - slot.started,
        )
        self._release(slot)
        return slot.key, completion

    def _release(self, slot: _Slot) -> None:
        self._lib.llama_memory_seq_rm(self._memory, slot.seq, -1, -1)
        self._free_sampler(slot)
        slot.request, slot.next_token, slot.lookup, slot.draft = None, -1, None, []

    def _free_sampler(self, slot: _Slot) -> None:
        if slot.sampler is not None:
            self._lib.llama_sampler_free(slot.sampler)
            slot.sampler = None

    def _token_bytes(self, token: int) -> bytes:
        length = self._lib.llama_token_to_piece(self._vocab, token, self._piece, len(self._piece), 0, False)
        if length < 0:
            buffer = ctypes.create_string_buffer(-length)
            length = self._lib.llama_token_to_piece(self._vocab, token, buffer, -length, 0, False)
            return buffer.raw[:length]
        return self._piece.raw[:length]

    def decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
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
            self._lib.llama_sampler_free(self._greedy)
            self._lib.llama_batch_free(self._batch)
            self._lib.llama_free(self._ctx)
            self._ctx = None


def _common_prefix(a, b) -> int:
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple
