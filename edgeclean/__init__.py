"""edgeclean: turn a PDF into clean, podcast-ready text with a small local model, offline."""

from .api import CleaningRun, clean_pdf, clean_pdfs, load_model
from .errors import EdgecleanError
from .jobs import JobOutcome, Outcome, Watcher, plan_jobs
from .paths import RunPaths
from .settings import CleanSettings
from .version import __version__

__all__ = [
    "CleanSettings",
    "CleaningRun",
    "EdgecleanError",
    "JobOutcome",
    "Outcome",
    "RunPaths",
    "Watcher",
    "clean_pdf",
    "clean_pdfs",
    "load_model",
    "plan_jobs",
    "__version__",
]
