"""Stage 4a: each finished chunk is appended to a JSON-lines checkpoint and fsynced before the next starts.

Line 1 is a header with the run's fingerprint; every further line is one chunk's result, or, once the output
is written, the output's sha256. Every line carries the sha256 of its own content (``record_sha256``), so a
record edited by hand or damaged on disk is noticed: it is dropped with a warning and that chunk is cleaned
again. A last line without its newline is a torn write (power cut mid-append): it is cut off on open.

One run at a time: a run holds an exclusive lock on ``CHECKPOINT.lock``, a file that is never replaced while
held, taken before the checkpoint is read or created (a lock on the checkpoint itself came too late: it is
created by rename, so two runs starting together could each lock their own copy).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

from ..errors import CheckpointBusy, CheckpointMismatch, OutputError
from ..hashing import file_sha256
from ..paths import lock_path
from ..results import ChunkResult, RunSummary
from .output import write_atomically

log = logging.getLogger("edgeclean.checkpoint")

FORMAT = "edgeclean-checkpoint/2"
OLD_FORMATS = ("edgeclean-checkpoint/1",)  # before records carried their own hash
HASH_FIELD = "record_sha256"
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
    "output": "-o (stdout or a file)",
}


class Checkpoint:
    """An append-only record of one run's finished chunks, bound to the inputs that produced them."""

    def __init__(self, path: Path, header: dict, results: dict[int, ChunkResult], lock=None):
        self.path = path
        self.header = header
        self.results = results
        self.output_sha256: str | None = None
        """The sha256 of the output file as last written from these records; None until it is written."""
        self._lock = lock

    @property
    def total(self) -> int:
        return self.header["chunks"]

    @property
    def complete(self) -> bool:
        return len(self.results) == self.total

    @classmethod
    def open(
        cls, path: Path, fingerprint: dict, total: int, *, restart: bool = False, notes: dict | None = None
    ) -> Checkpoint:
        """Resume the checkpoint at ``path`` if it was made with the same fingerprint, else start a new one.

        ``notes`` go into a new checkpoint's header for the report (what the rules removed); they follow from
        the fingerprint, so a resumed checkpoint keeps its own.

        The lock comes first: whoever holds it alone reads, creates or replaces the checkpoint.
        """
        lock = _acquire_lock(path)
        try:
            check_checkpoint_file(path)
            if path.exists() and not restart:
                checkpoint = cls.read(path, repair=True)
                _refuse_mismatch(path, fingerprint, checkpoint.fingerprint)
                if checkpoint.total != total:
                    raise OutputError(
                        f"{path} says {checkpoint.total} chunks but this run makes {total}; it was edited or "
                        "damaged: pass --restart to start over"
                    )
            else:
                header = {"format": FORMAT, "fingerprint": fingerprint, "chunks": total, "started": _now()}
                header.update(notes or {})
                _write_new(path, seal(header))
                checkpoint = cls(path, header, {})
        except BaseException:
            _release(lock)
            raise
        checkpoint._lock = lock
        return checkpoint

    @classmethod
    def read(cls, path: Path, *, repair: bool = False) -> Checkpoint:
        """Load a checkpoint, dropping records whose hash does not match; with ``repair``, rewrite the file
        without them (and without a torn last record) so appends stay clean. Only the lock holder repairs."""
        check_checkpoint_file(path)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise OutputError(f"cannot read checkpoint {path}: {error.strerror}") from None
        lines, good_end = _complete_lines(data)
        header = _read_header(path, lines[0] if lines else b"")
        checkpoint = cls(path, header, {})
        kept = [lines[0]]
        for number, line in enumerate(lines[1:], start=1):
            if checkpoint._take(unseal(line)):
                kept.append(line)
            else:
                log.warning("%s: record %d was edited or damaged (its hash does not match); it is redone", path, number)
        if repair and len(kept) < len(lines):
            _write_new(path, b"".join(line + b"\n" for line in kept).decode("utf-8"))
        elif repair and good_end < len(data):
            log.info("%s: dropping a torn last record (%d bytes)", path, len(data) - good_end)
            with path.open("r+b") as handle:
                handle.truncate(good_end)
                os.fsync(handle.fileno())
        return checkpoint

    def _take(self, record: dict | None) -> bool:
        """Keep one sealed record; False for a record that is damaged or does not belong here."""
        if record is None:
            return False
        if "output_sha256" in record:
            self.output_sha256 = str(record["output_sha256"])
            return True
        try:
            result = ChunkResult.from_dict(record)
        except (KeyError, TypeError, ValueError):
            return False
        if not isinstance(result.index, int) or not 0 <= result.index < self.total:
            return False
        self.results[result.index] = result
        return True

    @property
    def fingerprint(self) -> dict:
        return self.header.get("fingerprint", {})

    def record(self, result: ChunkResult) -> None:
        self._append(asdict(result) | {"finished": _now()})
        self.results[result.index] = result

    def record_output(self, sha256: str) -> None:
        """Note the sha256 of the output just written: "complete" later means the output still has it."""
        self._append({"output_sha256": sha256, "written": _now()})
        self.output_sha256 = sha256

    def output_matches(self, output: Path) -> bool:
        """The output file exists and is exactly what was last written from this checkpoint."""
        if self.output_sha256 is None or not output.is_file():
            return False
        return file_sha256(output) == self.output_sha256

    def _append(self, record: dict) -> None:
        try:
            with self.path.open("ab") as handle:
                handle.write(seal(record).encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            raise OutputError(f"cannot write checkpoint {self.path}: {error.strerror}") from None

    def close(self) -> None:
        _release(self._lock)
        self._lock = None

    def ordered_results(self) -> list[ChunkResult]:
        return [self.results[index] for index in sorted(self.results)]

    def summary(self) -> RunSummary:
        return RunSummary(self.ordered_results(), self.total)


def seal(record: dict) -> str:
    """One checkpoint line: the record with the sha256 of its own content added."""
    body = {key: value for key, value in record.items() if key != HASH_FIELD}
    return json.dumps(body | {HASH_FIELD: _content_sha256(body)}, ensure_ascii=False) + "\n"


def unseal(line: bytes) -> dict | None:
    """The record on one line, or None when it does not parse or its hash does not match its content."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    body = {key: value for key, value in record.items() if key != HASH_FIELD}
    return record if record.get(HASH_FIELD) == _content_sha256(body) else None


def _content_sha256(body: dict) -> str:
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _read_header(path: Path, line: bytes) -> dict:
    header = unseal(line)
    if header is None:
        try:
            found = json.loads(line) if line else {}
        except ValueError:
            found = {}
        what = found.get("format") if isinstance(found, dict) else None
        if what == FORMAT:
            raise OutputError(f"{path}: its header was edited or damaged; pass --restart to start over")
        if what in OLD_FORMATS:
            raise OutputError(f"{path} was made by an older edgeclean; pass --restart to start over")
        raise OutputError(f"{path} is not an edgeclean checkpoint; move it away or pass --restart")
    chunks = header.get("chunks")
    valid = (
        header.get("format") == FORMAT
        and isinstance(header.get("fingerprint"), dict)
        and isinstance(chunks, int)
        and not isinstance(chunks, bool)
        and chunks > 0
    )
    if not valid:
        raise OutputError(f"{path}: its header is not valid; pass --restart to start over")
    return header


def check_checkpoint_file(path: Path) -> None:
    """A checkpoint must be a plain file in the output's folder, or not exist yet: say what to do otherwise."""
    if path.is_symlink():
        target = path.resolve()
        if target.parent != path.parent.resolve():
            raise OutputError(
                f"{path} is a symlink to {target}, outside the output's folder; move it away (or delete the link) "
                "so edgeclean can keep its checkpoint there"
            )
    if path.exists() and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise OutputError(
            f"{path} is {kind}, not a checkpoint; move it away so edgeclean can keep its checkpoint there"
        )


class _Lock:
    def __init__(self, path: Path, descriptor: int):
        self.path = path
        self.descriptor = descriptor


def _acquire_lock(checkpoint: Path) -> _Lock | None:
    """Hold an exclusive lock on CHECKPOINT.lock so only one run at a time reads, creates or appends.

    The lock file is removed when released; a run that opened it just before then finds, after locking, that
    the name now points elsewhere (or nowhere) and tries again, so two runs never hold two different files.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one run per output is then the user's care
        return None
    path = lock_path(checkpoint)
    while True:
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise OutputError(f"cannot create the lock file {path}: {error.strerror}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            busy = f"another edgeclean run is writing {checkpoint}; wait for it or stop it first"
            raise CheckpointBusy(busy) from None
        try:
            same = os.stat(path).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return _Lock(path, descriptor)
        os.close(descriptor)


def _release(lock: _Lock | None) -> None:
    if lock is not None:
        try:
            lock.path.unlink(missing_ok=True)  # while still held, so nobody can lock the old file meanwhile
        finally:
            os.close(lock.descriptor)


def _refuse_mismatch(path: Path, wanted: dict, found: dict) -> None:
    changed = [key for key in sorted(wanted.keys() | found.keys()) if wanted.get(key) != found.get(key)]
    if changed:
        names = dict.fromkeys(FINGERPRINT_NAMES.get(key, f"--{key.replace('_', '-')}") for key in changed)
        raise CheckpointMismatch(str(path), list(names))


def _complete_lines(data: bytes) -> tuple[list[bytes], int]:
    end = data.rfind(b"\n") + 1
    return [line for line in data[:end].split(b"\n")[:-1]], end


def _write_new(path: Path, text: str) -> None:
    write_atomically(path, text)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
