"""Corpus mode: many PDFs into one output folder, on this machine or on a Ray cluster, resumable at two levels.

A document is done when its output exists (outputs are published atomically); a document cut off mid-way
resumes from its checkpoint, which lives beside its output in the output folder. Every document's fate is a
status row appended to ``OUTDIR/_manifest.jsonl``; a bad PDF is a ``failed`` row, never a crash.
"""

from .listing import Document, list_documents
from .manifest import MANIFEST_NAME, Row, read_manifest, summarise
from .run import run_corpus

__all__ = ["MANIFEST_NAME", "Document", "Row", "list_documents", "read_manifest", "run_corpus", "summarise"]
