"""One worker: check and load the model once, then clean one document per call into a status row.

The engines (local, Ray) only move documents and rows; this is the code every document goes through, and it
is ``clean_pdfs`` on one job, so each output is what ``edgeclean clean`` writes with the same settings. Nothing
escapes ``clean``: a bad PDF, a bad model or an unexpected exception becomes a ``failed`` row.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..api import clean_pdfs, load_model
from ..errors import CheckpointBusy, EdgecleanError, ModelError
from ..jobs import Outcome
from ..model.gguf_file import check_gguf
from ..model.protocol import Model
from ..model.registry import expected_sha256, known_model_named, model_sha256, resolve_model
from ..paths import RunPaths
from ..settings import CleanSettings
from ..stages.extract import reusing_pdf_worker
from .manifest import DONE, FAILED, SKIPPED, Row

BUSY_WAIT_SECONDS = 120.0


class DocumentCleaner:
    """Loads the model in its constructor (once per worker); ``clean`` never raises for a document's fault.

    ``model_factory`` replaces loading the GGUF (the benchmark's sleeping model); it must be picklable for Ray.
    """

    def __init__(
        self,
        model: str | None,
        settings: CleanSettings,
        *,
        password: str | None = None,
        model_factory: Callable[[], Model] | None = None,
    ):
        self.settings = settings
        self.password = password
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.model: Model | None = None
        self.error = ""
        # One parser child serves every document of this worker (a spawn per document cost 0.2 s of CPU each,
        # 0.5 s on 4 workers sharing 2 cores: 15% of a short document's time in bench.corpus).
        self._pdf_worker = contextlib.ExitStack()
        self._pdf_worker.enter_context(reusing_pdf_worker())
        if not settings.needs_model:
            return
        try:
            if model_factory is not None:
                self.model = model_factory()
            else:
                path = resolve_model(model)
                verify_model(path)
                self.model = load_model(str(path), settings)
        except EdgecleanError as error:
            self.error = str(error)  # every row this worker gets fails with it, naming the fix
        except Exception as error:  # not left to Ray, which would restart the actor again and again
            self.error = f"cannot load the model: unexpected {type(error).__name__}: {str(error)[:300]}"

    def clean(self, doc_id: str, pdf: str | Path, output: str | Path) -> Row:
        if self.error:
            return Row(doc_id, FAILED, error=self.error, worker=self.worker)
        started = time.perf_counter()
        try:
            Path(output).parent.mkdir(parents=True, exist_ok=True)
            outcome = self._clean_when_free(RunPaths.of(pdf, output))
        except EdgecleanError as error:
            return self._failed(doc_id, str(error), started)
        except Exception as error:  # a bug must cost this document, not the corpus
            return self._failed(doc_id, f"unexpected {type(error).__name__}: {str(error)[:300]}", started)
        run = outcome.run
        return Row(
            doc_id,
            SKIPPED if outcome.outcome is Outcome.SKIPPED else DONE,
            chunks=len(run.chunks),
            chunks_resumed=run.done_at_start,
            sha256=run.checkpoint.output_sha256 or "",  # recorded when written, or checked when skipped
            seconds=round(time.perf_counter() - started, 3),
            answer_tokens=run.stats.completion_tokens,
            worker=self.worker,
        )

    def _clean_when_free(self, job: RunPaths):
        """A document retried after its worker died may find that worker's lock still held for a moment (a dying
        process, or a driver's actors not yet reaped): wait for it, up to ``BUSY_WAIT_SECONDS``."""
        deadline = time.monotonic() + BUSY_WAIT_SECONDS
        while True:
            try:
                (outcome,) = clean_pdfs([job], model=self.model, settings=self.settings, password=self.password)
                return outcome
            except CheckpointBusy:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _failed(self, doc_id: str, error: str, started: float) -> Row:
        return Row(doc_id, FAILED, seconds=round(time.perf_counter() - started, 3), error=error, worker=self.worker)

    def close(self) -> None:
        self._pdf_worker.close()
        if self.model is not None:
            self.model.close()
            self.model = None


def verify_model(path: Path) -> None:
    """Size and header always; the whole file's sha256 once per node (under a lock, cached by size and mtime)."""
    check_gguf(path)
    expected = expected_sha256(path)
    if expected is None:
        return
    lock = Path(tempfile.gettempdir()) / f"edgeclean-{hashlib.sha1(str(path.resolve()).encode()).hexdigest()}.lock"
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # the other workers on this node wait, then read the cached hash
        actual = model_sha256(path)
    if actual != expected:
        known = known_model_named(path)
        fix = f"delete it and run {known.pull_command}" if known else "copy it to this node again"
        raise ModelError(f"{path} has sha256 {actual[:12]}…, expected {expected[:12]}… (damaged or changed): {fix}")
