"""The manifest: one JSON line per status row in ``OUTDIR/_manifest.jsonl``, appended and fsynced as rows come.

A run appends; nothing is rewritten. The latest row of a document is its state; ``summarise`` counts them.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..errors import OutputError

MANIFEST_NAME = "_manifest.jsonl"
DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass(frozen=True)
class Row:
    """What became of one document in one attempt: small enough for Ray to pass back to the driver."""

    id: str
    status: str  # done, skipped (already complete) or failed
    chunks: int = 0
    chunks_resumed: int = 0
    """Chunks found already cleaned in the checkpoint (work a killed attempt left)."""
    sha256: str = ""
    seconds: float = 0.0
    answer_tokens: int = 0
    error: str = ""
    worker: str = ""
    """host:pid of the process that cleaned it."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Row:
        names = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})


def manifest_path(outdir: Path) -> Path:
    return outdir / MANIFEST_NAME


class ManifestWriter:
    def __init__(self, outdir: Path):
        try:
            outdir.mkdir(parents=True, exist_ok=True)
            self._handle = manifest_path(outdir).open("a", encoding="utf-8")
        except OSError as error:  # a folder this user may not write, a file in the way, a full disk
            raise OutputError(f"{outdir}: cannot write the corpus manifest there ({error.strerror})") from None

    def add(self, row: Row) -> None:
        self._append(row.to_dict())

    def add_run(self, engine: str, documents: int) -> None:
        """A run line: how many documents the corpus has, so status can say how many are left."""
        self._append({"run": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "engine": engine, "documents": documents})

    def _append(self, record: dict) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()


def read_manifest(outdir: Path) -> tuple[list[Row], int | None]:
    """The rows, in order, and the number of documents the latest run listed (None if no run line survived);
    a torn last line (the driver killed mid-write) is ignored."""
    rows, documents = [], None
    for line in manifest_path(outdir).read_text(encoding="utf-8").splitlines():
        try:
            data = json.loads(line)
            if "run" in data:
                documents = int(data["documents"])
            else:
                rows.append(Row.from_dict(data))
        except (ValueError, TypeError, KeyError):
            continue
    return rows, documents


@dataclass(frozen=True)
class Summary:
    documents: int
    counts: Counter
    failures: list[Row]
    answer_tokens: int
    seconds: float

    @property
    def left(self) -> int:
        return self.documents - self.counts[DONE] - self.counts[SKIPPED] - self.counts[FAILED]

    @property
    def tokens_per_second(self) -> float:
        return self.answer_tokens / self.seconds if self.seconds else 0.0


def summarise(rows: list[Row], documents: int | None = None) -> Summary:
    """The latest row of each document counts; tokens/s is over the attempts that cleaned something."""
    latest = {row.id: row for row in rows}
    cleaned = [row for row in rows if row.status == DONE]
    return Summary(
        documents=len(latest) if documents is None else documents,
        counts=Counter(row.status for row in latest.values()),
        failures=[row for row in latest.values() if row.status == FAILED],
        answer_tokens=sum(row.answer_tokens for row in cleaned),
        seconds=sum(row.seconds for row in cleaned),
    )
