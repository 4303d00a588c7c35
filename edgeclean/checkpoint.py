"""Stage 4a: each finished chunk is appended to a JSON-lines checkpoint and fsynced before the next starts.

Line 1 is a header with the run's fingerprint; every further line is one chunk's result. A last line without
its newline, or one that does not parse, is a torn write (power cut mid-append): it is cut off on open and
that chunk is simply cleaned again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from .errors import CheckpointMismatch, OutputError

log = logging.getLogger("edgeclean.checkpoint")

FORMAT = "edgeclean-checkpoint/1"
# How a changed fingerprint entry is named to the user; the rest are settings, named by their flag.
FINGERPRINT_NAMES = {
    "edgeclean": "edgeclean version",
    "pdf_sha256": "PDF",
    "model": "model",
    "device": "device (CPU/GPU)",
    "prompt_sha256": "prompt or chat template",
    "n_ctx": "--ctx",
    "chunk_tokens": "--chunk-tokens",
    "max_chars": "--max-chars",
    "answer_ratio": "answer limit",
    "answer_margin": "answer limit",
    "drop_citations": "--keep-citations",
    "drop_contents": "--keep-contents",
}


@dataclass(frozen=True)
class ChunkResult:
    index: int
    first_page: int
    last_page: int
    source_sha256: str
    source_tokens: int
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    acknowledgement_stripped: bool
    source_text: str = ""  # kept so a report can be built from the checkpoint alone
    mode: str = "rewrite"
    decision: str = "model"  # "model", "retry" (second answer passed), "fallback" (rule-cleaned text), "rules"
    attempts: list[dict] = field(default_factory=list)  # each model answer's guard scores and failed checks
    fallback_reason: str = ""  # why a "fallback" chunk kept its rule-cleaned text: "prompt too long", "guard: …"

    @classmethod
    def from_dict(cls, data: dict) -> ChunkResult:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data or _required(f)})

    @property
    def cut_off(self) -> bool:
        """The kept text is a rewrite that hit its token limit (a select answer at its limit loses nothing)."""
        return self.finish_reason == "length" and self.mode == "rewrite" and self.decision in ("model", "retry")

    @property
    def fell_back(self) -> bool:
        return self.decision == "fallback"


def fallbacks_by_reason(results: list[ChunkResult]) -> dict[str, list[int]]:
    """Chunks (1-based) that kept their rule-cleaned text, grouped by why; summary, status and report show it."""
    grouped: dict[str, list[int]] = {}
    for result in results:
        if result.fell_back:
            grouped.setdefault(result.fallback_reason or "guard", []).append(result.index + 1)
    return grouped


def describe_fallbacks(results: list[ChunkResult]) -> str:
    """One line: "chunks 3, 7 (prompt too long); chunk 9 (guard: summarised)", or "" when none fell back."""
    return "; ".join(
        f"{'chunk' if len(numbers) == 1 else 'chunks'} {', '.join(map(str, numbers))} ({reason})"
        for reason, numbers in fallbacks_by_reason(results).items()
    )


def _required(f) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


class Checkpoint:
    """An append-only record of one run's finished chunks, bound to the inputs that produced them."""

    def __init__(self, path: Path, header: dict, results: dict[int, ChunkResult], lock=None):
        self.path = path
        self.header = header
        self.results = results
        self._lock = lock

    @property
    def total(self) -> int:
        return self.header["chunks"]

    @property
    def complete(self) -> bool:
        return len(self.results) == self.total

    @classmethod
    def open(cls, path: Path, fingerprint: dict, total: int, *, restart: bool = False) -> Checkpoint:
        """Resume the checkpoint at ``path`` if it was made with the same fingerprint, else start a new one."""
        if path.exists() and not restart:
            lock = _lock(path)
            try:
                checkpoint = cls.read(path, repair=True)
                _refuse_mismatch(path, fingerprint, checkpoint.fingerprint)
            except BaseException:
                _release(lock)
                raise
            checkpoint._lock = lock
            return checkpoint
        if path.exists():
            _release(_lock(path))  # --restart must not pull the file from under a live run
        header = {"format": FORMAT, "fingerprint": fingerprint, "chunks": total, "started": _now()}
        _write_new(path, json.dumps(header, ensure_ascii=False) + "\n")
        return cls(path, header, {}, _lock(path))

    @classmethod
    def read(cls, path: Path, *, repair: bool = False) -> Checkpoint:
        """Load a checkpoint; with ``repair``, cut a torn last record off the file so appends stay clean."""
        try:
            data = path.read_bytes()
        except OSError as error:
            raise OutputError(f"cannot read checkpoint {path}: {error.strerror}") from None
        lines, good_end = _complete_lines(data)
        try:
            header = json.loads(lines[0]) if lines else {}
        except ValueError:
            header = {}
        if header.get("format") != FORMAT:
            raise OutputError(f"{path} is not an edgeclean checkpoint; move it away or pass --restart")
        results: dict[int, ChunkResult] = {}
        for number, line in enumerate(lines[1:], start=2):
            try:
                result = ChunkResult.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError):
                log.warning("%s: record %d is damaged; it and any after it will be redone", path, number)
                good_end = sum(len(previous) + 1 for previous in lines[: number - 1])
                break
            results[result.index] = result
        if repair and good_end < len(data):
            log.info("%s: dropping a torn last record (%d bytes)", path, len(data) - good_end)
            with path.open("r+b") as handle:
                handle.truncate(good_end)
                os.fsync(handle.fileno())
        return cls(path, header, results)

    @property
    def fingerprint(self) -> dict:
        return self.header.get("fingerprint", {})

    def record(self, result: ChunkResult) -> None:
        line = json.dumps(asdict(result) | {"finished": _now()}, ensure_ascii=False) + "\n"
        try:
            with self.path.open("ab") as handle:
                handle.write(line.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            raise OutputError(f"cannot write checkpoint {self.path}: {error.strerror}") from None
        self.results[result.index] = result

    def close(self) -> None:
        _release(self._lock)
        self._lock = None

    def ordered_results(self) -> list[ChunkResult]:
        return [self.results[index] for index in sorted(self.results)]


def _lock(path: Path):
    """Hold an exclusive lock on the checkpoint so two runs never append to the same one."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one run per output is then the user's care
        return None
    handle = path.open("ab")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise OutputError(f"another edgeclean run is writing {path}; wait for it or stop it first") from None
    return handle


def _release(lock) -> None:
    if lock is not None:
        lock.close()


def _refuse_mismatch(path: Path, wanted: dict, found: dict) -> None:
    changed = [key for key in sorted(wanted.keys() | found.keys()) if wanted.get(key) != found.get(key)]
    if changed:
        names = dict.fromkeys(FINGERPRINT_NAMES.get(key, f"--{key.replace('_', '-')}") for key in changed)
        raise CheckpointMismatch(str(path), list(names))


def _complete_lines(data: bytes) -> tuple[list[bytes], int]:
    end = data.rfind(b"\n") + 1
    return [line for line in data[:end].split(b"\n")[:-1]], end


def _write_new(path: Path, text: str) -> None:
    from .output import write_atomically

    write_atomically(path, text)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
