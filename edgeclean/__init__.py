"""edgeclean: turn a PDF into clean, podcast-ready text with a small local model, offline."""

__version__ = "0.1.0"

from .errors import EdgecleanError  # noqa: E402
from .pipeline import CleaningRun, clean_pdf, load_model  # noqa: E402
from .settings import CleanSettings  # noqa: E402

__all__ = ["CleanSettings", "CleaningRun", "EdgecleanError", "clean_pdf", "load_model", "__version__"]
