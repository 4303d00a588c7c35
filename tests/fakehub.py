"""A local HTTP server that answers huggingface-hub's resolve protocol, for pull tests without the internet.

HEAD and GET on ``/{repo}/resolve/{revision}/{filename}`` with the headers huggingface-hub reads
(X-Repo-Commit, ETag/X-Linked-Etag = the LFS sha256, X-Linked-Size, Content-Length), Range requests
answered with 206, and switches for the failures the tests need: a wrong hash, a cut connection.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Request:
    method: str
    path: str
    range: str | None


@dataclass
class FakeHub:
    files: dict[str, Path] = field(default_factory=dict)  # "repo/filename" -> file served
    advertised_sha256: dict[str, str] = field(default_factory=dict)  # override the ETag (a lying or changed hub)
    cut_after: int | None = None  # send only this many bytes of the next full GET, then drop the connection
    down_after_cut: bool = False  # after a cut, answer 503 until the test sets this back to False
    requests: list[Request] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self):
        self._hashes: dict[Path, str] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def serve(self, repo: str, filename: str, path: Path) -> None:
        self.files[f"{repo}/{filename}"] = path

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def sha256(self, key: str) -> str:
        if key in self.advertised_sha256:
            return self.advertised_sha256[key]
        path = self.files[key]
        if path not in self._hashes:
            self._hashes[path] = hashlib.sha256(path.read_bytes()).hexdigest()
        return self._hashes[path]

    def start(self) -> FakeHub:
        hub = self

        class Server(ThreadingHTTPServer):
            daemon_threads = False  # server_close() joins every handler: no socket outlives the test
            block_on_close = True

            def verify_request(self, request, client_address) -> bool:
                hub.connections += 1
                return True

            def handle_error(self, request, client_address) -> None:
                pass  # a client hanging up mid-file is expected here

        self._server = Server(("127.0.0.1", 0), _handler(hub))
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakehub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def _answer(self, send_body: bool) -> None:
            hub.requests.append(Request(self.command, self.path, self.headers.get("Range")))
            if hub.down_after_cut:
                self.send_error(503, "down for the test")
                return
            repo_and_file = self.path.replace("/resolve/main/", "/", 1)
            key = repo_and_file.lstrip("/")
            if "/resolve/main/" not in self.path or key not in hub.files:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path = hub.files[key]
            size = path.stat().st_size
            start = _range_start(self.headers.get("Range"))
            self.send_response(206 if start else 200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{hub.sha256(key)}"')
            self.send_header("X-Linked-Etag", f'"{hub.sha256(key)}"')
            self.send_header("X-Linked-Size", str(size))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(size - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            self.end_headers()
            if send_body:
                self._send_file(path, start, size)

        def _send_file(self, path: Path, start: int, size: int) -> None:
            limit = size - start
            if hub.cut_after is not None and not start:
                limit, hub.cut_after = hub.cut_after, None
                hub.down_after_cut = True
            with path.open("rb") as source:
                source.seek(start)
                while limit > 0 and (block := source.read(min(limit, 1 << 20))):
                    try:
                        self.wfile.write(block)
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    limit -= len(block)

    return Handler


def _range_start(header: str | None) -> int:
    if not header or not header.startswith("bytes="):
        return 0
    return int(header.removeprefix("bytes=").split("-", 1)[0] or 0)
