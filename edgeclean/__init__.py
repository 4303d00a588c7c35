"""edgeclean: turn a PDF into clean, podcast-ready text with a small local model, offline."""

__version__ = "0.1.0"

from .api import CleaningRun, clean_pdf, clean_pdfs, load_model  # noqa: E402
from .errors import EdgecleanError  # noqa: E402
from .jobs import JobOutcome, Outcome, Watcher, plan_jobs  # noqa: E402
from .paths import RunPaths  # noqa: E402
from .settings import CleanSettings  # noqa: E402

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
