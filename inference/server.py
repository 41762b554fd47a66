"""``araquote serve``: a small HTTP tagging service on the standard library only.

Endpoints:

* ``GET /health`` -> ``{"status": "ok", "model": ..., "labels": {layer: [labels]}}``
* ``POST /tag`` with ``{"text": "..."}`` or ``{"documents": [{"id", "text"[, "meta"]}, ...]}``
  (``Content-Type: application/json``) -> ``{"documents": [corpus JSON ...]}``;
  ``POST /tag?format=html`` returns the same documents rendered as the HTML view.
* ``GET /`` -> a demo page: a textarea and a button that calls ``/tag?format=html``
  and shows the page in a sandboxed frame.

Limits: a body over ``max_bytes`` -> 413, more than ``max_batch`` documents ->
413, malformed JSON or wrong types -> 400, another content type -> 415, an
unknown path -> 404, a known path with the wrong method -> 405; errors are JSON
``{"error": "..."}``. Requests never name files: the server reads only the
model it was started with. Model calls are serialised with a lock; the server
binds to 127.0.0.1 unless told otherwise and has no authentication.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .html import SCRIPT_HASH, csp_hash, esc, render_html
from .schema import ATTRIBUTION_LABELS, AraquoteError, Document

MAX_BYTES_DEFAULT = 2 * 1024 * 1024
MAX_BATCH_DEFAULT = 32
LOOPBACK = ("127.0.0.1", "localhost", "::1")
_DOC_KEYS = frozenset({"id", "text", "meta"})
_TOP_KEYS = ("text", "documents")


class RequestError(AraquoteError):
    """A request the service refuses, with the HTTP status to answer."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class TagService:
    """The model behind the server: parses requests, tags under a lock, reports health."""

    tagger: Any
    model_name: str
    max_bytes: int = MAX_BYTES_DEFAULT
    max_batch: int = MAX_BATCH_DEFAULT
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_batch < 1:
            raise ValueError(f"max_bytes and max_batch must be >= 1, got {self.max_bytes} and {self.max_batch}")

    def labels(self) -> dict[str, list[str]]:
        """Labels per layer, from the checkpoint (or the rules baseline's fixed set)."""
        meta = getattr(self.tagger, "meta", None)
        if meta is not None:
            return {layer: list(labels) for layer, labels in meta.labels.items()}
        return {layer: list(ATTRIBUTION_LABELS) for layer in getattr(self.tagger, "layers", [])}

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "model": self.model_name, "labels": self.labels()}

    def tag(self, payload: Any) -> list[Document]:
        """Validate a parsed ``/tag`` body and tag its documents (one model call at a time)."""
        items = parse_payload(payload, self.max_batch)
        with self.lock:
            return list(self.tagger.tag_documents(items))


def parse_payload(payload: Any, max_batch: int) -> list[tuple[str, str, dict[str, Any]]]:
    """``{"text"}`` or ``{"documents": [...]}`` -> ``(id, text, meta)`` items.

    Raises:
        RequestError: 400 for wrong shapes or types, 413 for too many documents.
    """
    if not isinstance(payload, dict):
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            f"the body must be a JSON object with 'text' or 'documents', got {type(payload).__name__}",
        )
    present = [k for k in _TOP_KEYS if k in payload]
    extra = sorted(set(payload) - set(_TOP_KEYS))
    if extra or len(present) != 1:
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f"the body needs exactly one of 'text' or 'documents' (got keys {sorted(payload)})"
        )
    if "text" in payload:
        return [("doc-1", _check_text(payload["text"], "'text'"), {})]
    docs = payload["documents"]
    if not isinstance(docs, list) or not docs:
        raise RequestError(HTTPStatus.BAD_REQUEST, '\'documents\' must be a non-empty list of {"id", "text"} objects')
    if len(docs) > max_batch:
        raise RequestError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"{len(docs)} documents in one request; the limit is {max_batch} (--max-batch)",
        )
    items = [_parse_document(obj, i) for i, obj in enumerate(docs)]
    ids = [item[0] for item in items]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"duplicate document id(s) {dupes}; ids must be unique in a request")
    return items


def _parse_document(obj: Any, i: int) -> tuple[str, str, dict[str, Any]]:
    where = f"documents[{i}]"
    if not isinstance(obj, dict):
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f"{where} must be an object with 'id' and 'text', got {type(obj).__name__}"
        )
    extra = sorted(set(obj) - _DOC_KEYS)
    if extra:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"{where}: unknown field(s) {extra}; allowed: {sorted(_DOC_KEYS)}")
    doc_id = obj.get("id")
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise RequestError(HTTPStatus.BAD_REQUEST, f"{where}: 'id' must be a non-empty string, got {doc_id!r}")
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f"{where} ({doc_id}): 'meta' must be an object, got {type(meta).__name__}"
        )
    return doc_id, _check_text(obj.get("text"), f"{where} ({doc_id}): 'text'"), meta


def _check_text(text: Any, what: str) -> str:
    if not isinstance(text, str):
        raise RequestError(HTTPStatus.BAD_REQUEST, f"{what} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise RequestError(HTTPStatus.BAD_REQUEST, f"{what} is empty")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f"{what} holds an unpaired surrogate at character {exc.start}"
        ) from None
    return text


DEMO_JS = """
(function () {
  var form = document.getElementById('form');
  var status = document.getElementById('status');
  var frame = document.getElementById('view');
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    status.textContent = '…';
    fetch('tag?format=html', {method: 'POST', headers: {'Content-Type': 'application/json'},
                              body: JSON.stringify({text: document.getElementById('text').value})})
      .then(function (r) {
        if (r.ok) { return r.text().then(function (page) { frame.srcdoc = page; status.textContent = ''; }); }
        return r.json().then(function (e) { status.textContent = r.status + ': ' + e.error; });
      })
      .catch(function (e) { status.textContent = String(e); });
  });
})();
""".strip()

DEMO_CSS = """
body { font-family: "Noto Naskh Arabic", "DejaVu Sans", sans-serif; margin: 1rem 1.5rem; background: #f6f8fa; }
textarea { width: 100%; min-height: 9rem; font: inherit; padding: .5rem; }
button { font: inherit; padding: .3rem 1.2rem; margin: .4rem 0; }
#status { color: #b91c1c; margin-inline-start: 1rem; }
iframe { width: 100%; height: 70vh; border: 1px solid #d0d7de; background: #fff; }
""".strip()

#: The demo frame shows a page from render_html (its own inline style varies): styles may be
#: inline, scripts only the demo's and the view's, and fetches only to this server.
DEMO_CSP = (
    f"default-src 'none'; style-src 'unsafe-inline'; script-src {csp_hash(DEMO_JS)} {SCRIPT_HASH}; "
    "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'"
)


def demo_page(model_name: str) -> str:
    """The ``GET /`` page: a textarea and a button; results render in a sandboxed frame."""
    sample = "قال وزير الخارجية أحمد سالم إن المحادثات ستستأنف قريبا، مضيفا أن «الحل السياسي هو الطريق الوحيد»."
    return f"""<!DOCTYPE html>
<html lang="ar" dir="rtl">
<head><meta charset="utf-8"><title>araquote</title><style>{DEMO_CSS}</style></head>
<body>
<h1>araquote <small><bdi>{esc(model_name)}</bdi></small></h1>
<form id="form"><textarea id="text" name="text">{esc(sample)}</textarea>
<div><button type="submit">حلّل (tag)</button><span id="status"></span></div></form>
<iframe id="view" title="result" sandbox="allow-scripts"></iframe>
<script>{DEMO_JS}</script>
</body>
</html>
"""


class TagHandler(BaseHTTPRequestHandler):
    """Routes requests to the server's :class:`TagService`; every error is a JSON body."""

    server: TagServer
    server_version = "araquote"
    timeout = 60  # seconds a client may stall on a request before the connection is dropped

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = urlsplit(self.path).path
        if path == "/health":
            self._send_json(HTTPStatus.OK, self.server.service.health())
        elif path == "/":
            headers = {
                "Content-Security-Policy": DEMO_CSP,
                "X-Content-Type-Options": "nosniff",
                "X-Frame-Options": "DENY",
            }
            self._send(
                HTTPStatus.OK,
                demo_page(self.server.service.model_name).encode("utf-8"),
                "text/html; charset=utf-8",
                headers,
            )
        elif path == "/tag":
            self._send_error(HTTPStatus.METHOD_NOT_ALLOWED, "use POST for /tag", {"Allow": "POST"})
        else:
            self._send_error(HTTPStatus.NOT_FOUND, f"unknown path {path!r}; known: GET /, GET /health, POST /tag")

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        if url.path != "/tag":
            self.close_connection = True  # the body is not read, so the connection cannot be reused
            if url.path in ("/", "/health"):
                self._send_error(HTTPStatus.METHOD_NOT_ALLOWED, f"use GET for {url.path}", {"Allow": "GET"})
            else:
                self._send_error(
                    HTTPStatus.NOT_FOUND, f"unknown path {url.path!r}; known: GET /, GET /health, POST /tag"
                )
            return
        try:
            payload = self._read_json()
            fmt = _format(url.query)
            docs = self.server.service.tag(payload)
        except RequestError as exc:
            self._send_error(exc.status, str(exc))
            return
        except (AraquoteError, ValueError, RuntimeError) as exc:  # the model failed on valid input: a server error
            self.log_error("tagging failed: %r", exc)
            self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, f"tagging failed: {exc}")
            return
        if fmt == "html":
            page = render_html(docs, title="araquote").encode("utf-8")
            self._send(HTTPStatus.OK, page, "text/html; charset=utf-8", {"X-Content-Type-Options": "nosniff"})
        else:
            self._send_json(HTTPStatus.OK, {"documents": [d.to_dict() for d in docs]})

    def _method_not_allowed(self) -> None:
        self.close_connection = True
        self._send_error(
            HTTPStatus.METHOD_NOT_ALLOWED,
            f"method {self.command} is not supported; use GET or POST",
            {"Allow": "GET, POST"},
        )

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _method_not_allowed  # noqa: N815

    def _read_json(self) -> Any:
        """Read and parse the body; refuses wrong content types, missing lengths and oversize bodies."""
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            self.close_connection = True
            raise RequestError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-Type must be application/json, got {ctype or 'none'!r}"
            )
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "chunked bodies are not accepted; send Content-Length")
        length = _content_length(self.headers.get("Content-Length"))
        if length > self.server.service.max_bytes:
            self.close_connection = True  # the body is not read, so the connection cannot be reused
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"body of {length} bytes is over the limit of {self.server.service.max_bytes} (--max-bytes)",
            )
        raw = self.rfile.read(length)
        if len(raw) < length:
            self.close_connection = True
            raise RequestError(HTTPStatus.BAD_REQUEST, f"body ended after {len(raw)} of {length} bytes")
        try:
            return json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"body is not valid UTF-8 (byte {exc.start})") from None
        except json.JSONDecodeError as exc:
            raise RequestError(
                HTTPStatus.BAD_REQUEST, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
        except RecursionError:
            raise RequestError(HTTPStatus.BAD_REQUEST, "JSON nested too deeply") from None

    def _send_json(self, status: HTTPStatus, obj: Any) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _send_error(self, status: HTTPStatus, message: str, headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"error": message, "status": int(status)}, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _send(self, status: HTTPStatus, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if not self.server.quiet:  # --quiet silences the access log, not errors
            super().log_request(code, size)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (signature of the base class)
        sys.stderr.write(f"{self.address_string()} - {format % args}\n")


def _format(query: str) -> str:
    values = parse_qs(query).get("format", ["json"])
    fmt = values[-1]
    if fmt not in ("json", "html"):
        raise RequestError(HTTPStatus.BAD_REQUEST, f"unknown format {fmt!r}; known: json, html")
    return fmt


def _content_length(value: str | None) -> int:
    if value is None:
        raise RequestError(HTTPStatus.LENGTH_REQUIRED, "Content-Length header is required")
    try:
        length = int(value)
    except ValueError:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"Content-Length must be an integer, got {value!r}") from None
    if length < 0:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"Content-Length must be >= 0, got {length}")
    return length


class TagServer(ThreadingHTTPServer):
    """A threading HTTP server that carries the :class:`TagService` its handlers use."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: TagService, quiet: bool = False) -> None:
        self.service = service
        self.quiet = quiet
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, TagHandler)


def make_server(
    tagger: Any,
    model_name: str,
    host: str = "127.0.0.1",
    port: int = 8080,
    max_bytes: int = MAX_BYTES_DEFAULT,
    max_batch: int = MAX_BATCH_DEFAULT,
    quiet: bool = False,
) -> TagServer:
    """Bind a server (``port=0`` picks a free port; see ``server.server_port``).

    Raises:
        ValueError: on limits below 1, or when the address cannot be bound (in use, unknown host).
    """
    service = TagService(tagger, model_name, max_bytes, max_batch)
    try:
        return TagServer((host, port), service, quiet=quiet)
    except OSError as exc:
        raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (--host/--port)") from None


def serve(
    tagger: Any,
    model_name: str,
    host: str = "127.0.0.1",
    port: int = 8080,
    max_bytes: int = MAX_BYTES_DEFAULT,
    max_batch: int = MAX_BATCH_DEFAULT,
    quiet: bool = False,
) -> None:
    """Serve until interrupted; prints the address on stderr once listening."""
    server = make_server(tagger, model_name, host, port, max_bytes, max_batch, quiet)
    if host not in LOOPBACK:
        print(
            f"araquote serve: warning: listening on {host}, reachable from other machines; there is no authentication",
            file=sys.stderr,
        )
    shown = f"[{host}]" if ":" in host else host
    print(
        f"araquote serve: model {model_name} listening on http://{shown}:{server.server_port}/",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
