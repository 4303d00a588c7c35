"""The failures a user can meet, each with a one-line message. The library raises them; the CLI prints
``str(error)`` and chooses the exit code (cli/common.py), so nothing here knows about processes."""

from __future__ import annotations


class EdgecleanError(Exception):
    """Base class: anything edgeclean reports to a user as a plain one-line message."""


class InputError(EdgecleanError):
    """The PDF cannot be read, or holds no text we can clean."""


class ModelError(EdgecleanError):
    """The model file is missing, unreadable, or cannot be loaded by llama.cpp."""


class ModelNotFound(ModelError):
    """No model file where one was expected; the message says how to get one."""

    def __init__(self, wanted: str, hint: str):
        self.wanted = wanted
        self.hint = hint
        super().__init__(wanted, hint)

    def __str__(self) -> str:
        return f"model not found: {self.wanted}. {self.hint}"


class SettingsError(EdgecleanError):
    """Options that contradict each other or the model (for example a chunk that cannot fit the context)."""


class OutputError(EdgecleanError):
    """The output or its checkpoint cannot be written, or would overwrite finished work."""


class CheckpointBusy(OutputError):
    """Another run holds this output's checkpoint lock (in corpus mode: often a worker still being killed)."""


class CheckpointMismatch(OutputError):
    """A checkpoint exists for different inputs or settings; resuming from it would mix two runs."""

    def __init__(self, path: str, changed: list[str]):
        self.path = path
        self.changed = changed
        super().__init__(path, changed)

    def __str__(self) -> str:
        return (
            f"checkpoint {self.path} was made with a different {', '.join(self.changed)}; "
            "rerun with the original settings to resume, or pass --restart to start over"
        )


class DownloadError(ModelError):
    """A model could not be fetched: no network, offline mode, a missing file upstream, or a hash mismatch."""


class DownloadInterrupted(DownloadError):
    """The user stopped a download (Ctrl-C); what arrived is kept for the next pull to resume."""
