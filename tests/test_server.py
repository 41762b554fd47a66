"""``araquote serve``: the real server in a subprocess (rules) and in a thread (tiny model), over loopback HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from araquote.inference.server import make_server

TEXT = "قال وزير الخارجية أحمد سالم إن المحادثات ستستأنف قريبا.\nوأضاف أن «الحل السياسي هو الطريق الوحيد»."
MAX_BYTES = 4096
MAX_BATCH = 3


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request(
    base: str,
    path: str,
    body: Any = None,
    raw: bytes | None = None,
    method: str | None = None,
    ctype: str = "application/json",
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request; returns status, headers and body whatever the status."""
    data = raw if raw is not None else (None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8"))
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def wait_for_health(base: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            status, _, body = request(base, "/health")
            if status == 200:
                return json.loads(body)
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"no /health answer from {base} within {timeout} s")


@pytest.fixture(scope="module")
def rules_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("serve") / "server.log").open("wb")
    cmd = [
        sys.executable,
        "-m",
        "araquote",
        "serve",
        "--model",
        "rules",
        "--port",
        str(port),
        "--max-bytes",
        str(MAX_BYTES),
        "--max-batch",
        str(MAX_BATCH),
    ]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_health(rules_server: str) -> None:
    status, headers, body = request(rules_server, "/health")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == {
        "status": "ok",
        "model": "rules",
        "labels": {"attribution": ["SPEAKER", "CUE", "QUOTE"]},
    }


def test_tag_text_offsets(rules_server: str) -> None:
    status, _, body = request(rules_server, "/tag", {"text": TEXT})
    assert status == 200
    (doc,) = json.loads(body)["documents"]
    assert doc["text"] == TEXT
    found = {(s["label"], doc["text"][s["start"] : s["end"]]) for s in doc["spans"]}
    assert ("CUE", "قال") in found and ("QUOTE", "إن المحادثات ستستأنف قريبا") in found
    assert ("SPEAKER", "وزير الخارجية أحمد سالم") in found
    by_id = {s["id"]: s for s in doc["spans"]}
    assert all(by_id[q["quote"]]["label"] == "QUOTE" for q in doc["quotes"]) and len(doc["quotes"]) == 2


def test_tag_documents_keep_ids_and_meta(rules_server: str) -> None:
    docs = [
        {"id": "a", "text": TEXT, "meta": {"source": "x"}},
        {"id": "ب", "text": "نفى المتحدث أن يكون الاجتماع قد ألغي."},
    ]
    status, _, body = request(rules_server, "/tag", {"documents": docs})
    assert status == 200
    out = json.loads(body)["documents"]
    assert [d["id"] for d in out] == ["a", "ب"] and out[0]["meta"] == {"source": "x"}
    assert any(s["label"] == "QUOTE" for s in out[1]["spans"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": 3}, "'text' must be a string"),
        ({"text": "  "}, "'text' is empty"),
        ({"txt": "x"}, "exactly one of 'text' or 'documents'"),
        ({"text": "x", "documents": []}, "exactly one of"),
        ([1, 2], "must be a JSON object"),
        ({"documents": "x"}, "'documents' must be a non-empty list"),
        ({"documents": [{"id": "a"}]}, "documents[0] (a): 'text' must be a string"),
        ({"documents": [{"id": 5, "text": "x"}]}, "documents[0]: 'id' must be a non-empty string"),
        ({"documents": [{"id": "a", "text": "x", "path": "/etc/passwd"}]}, "unknown field(s) ['path']"),
        ({"documents": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}, "duplicate document id(s) ['a']"),
    ],
)
def test_bad_requests_are_400(rules_server: str, body: Any, message: str) -> None:
    status, headers, raw = request(rules_server, "/tag", body)
    assert status == 400 and headers["Content-Type"].startswith("application/json")
    assert message in json.loads(raw)["error"]


def test_malformed_json_and_encoding(rules_server: str) -> None:
    status, _, raw = request(rules_server, "/tag", raw=b'{"text": "abc"')
    assert status == 400 and "malformed JSON at line 1" in json.loads(raw)["error"]
    status, _, raw = request(rules_server, "/tag", raw=b'{"text": "\xff"}')
    assert status == 400 and "not valid UTF-8" in json.loads(raw)["error"]
    status, _, raw = request(rules_server, "/tag", raw=b'{"text": "\\ud800"}')
    assert status == 400 and "unpaired surrogate" in json.loads(raw)["error"]
    status, _, raw = request(rules_server, "/tag", raw=b"text=abc", ctype="application/x-www-form-urlencoded")
    assert status == 415 and "application/json" in json.loads(raw)["error"]
    status, _, raw = request(rules_server, "/tag?format=xml", {"text": TEXT})
    assert status == 400 and "unknown format 'xml'" in json.loads(raw)["error"]


def test_limits_are_413(rules_server: str) -> None:
    status, _, raw = request(rules_server, "/tag", {"text": "قال " * MAX_BYTES})
    assert status == 413 and f"limit of {MAX_BYTES}" in json.loads(raw)["error"]
    docs = [{"id": str(i), "text": "قال الوزير إن الاتفاق نهائي."} for i in range(MAX_BATCH + 1)]
    status, _, raw = request(rules_server, "/tag", {"documents": docs})
    assert status == 413 and f"the limit is {MAX_BATCH}" in json.loads(raw)["error"]
    assert request(rules_server, "/health")[0] == 200  # still serving


def test_unknown_paths_and_methods(rules_server: str) -> None:
    status, _, raw = request(rules_server, "/etc/passwd")
    assert status == 404 and "unknown path" in json.loads(raw)["error"]
    assert request(rules_server, "/nope", {"text": TEXT})[0] == 404
    status, headers, _ = request(rules_server, "/tag")
    assert status == 405 and headers["Allow"] == "POST"
    assert request(rules_server, "/tag", {"text": TEXT}, method="PUT")[0] == 405


def test_demo_page_and_html_format(rules_server: str) -> None:
    status, headers, body = request(rules_server, "/")
    page = body.decode("utf-8")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<textarea" in page and "tag?format=html" in page and 'sandbox="allow-scripts"' in page
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    evil = "قال الوزير إن <script>alert(1)</script> مرفوض."
    status, headers, body = request(rules_server, "/tag?format=html", {"text": evil})
    page = body.decode("utf-8")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<table class="who-said">' in page


def test_concurrent_requests(rules_server: str) -> None:
    results: list[int] = []

    def worker() -> None:
        results.append(request(rules_server, "/tag", {"text": TEXT})[0])

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == [200] * 6


def test_trained_tiny_model_in_a_thread(trained_tiny: Path) -> None:
    from araquote.inference.tagger import Tagger

    tagger = Tagger.from_pretrained(trained_tiny / "model", device="cpu")
    server = make_server(tagger, "tiny", port=0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    base = f"http://{host}:{port}"
    try:
        health = wait_for_health(base)
        assert health["model"] == "tiny" and set(health["labels"]) == {"attribution", "entities"}
        assert "PER" in health["labels"]["entities"]
        text = "قال وزير الخارجية أحمد سالم إن بلاده لن تقبل أي تسوية في سوريا."
        status, _, body = request(base, "/tag", {"documents": [{"id": "t1", "text": text}]})
        assert status == 200
        (doc,) = json.loads(body)["documents"]
        assert doc["id"] == "t1" and doc["layers"] == ["attribution", "entities"] and doc["spans"]
        for s in doc["spans"]:
            piece = text[s["start"] : s["end"]]
            assert piece == piece.strip() and piece and 0 <= s["score"] <= 1
    finally:
        server.shutdown()
        server.server_close()


def test_port_in_use_is_a_clear_error(rules_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    from araquote.cli import main

    port = rules_server.rsplit(":", 1)[1]
    assert main(["serve", "--model", "rules", "--port", port]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    assert main(["serve", "--model", "rules", "--port", "0", "--max-batch", "0"]) == 2


class FailingTagger:
    layers = ["attribution"]

    def tag_documents(self, items: Any, chunk_docs: int = 64) -> Any:
        raise RuntimeError("out of memory")


def test_model_failure_is_a_500(capsys: pytest.CaptureFixture[str]) -> None:
    server = make_server(FailingTagger(), "broken", port=0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        status, _, raw = request(f"http://127.0.0.1:{server.server_port}", "/tag", {"text": TEXT})
        assert status == 500 and json.loads(raw)["error"] == "tagging failed: out of memory"
    finally:
        server.shutdown()
        server.server_close()
    assert "tagging failed" in capsys.readouterr().err  # logged even with quiet=True
