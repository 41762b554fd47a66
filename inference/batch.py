"""Streaming batch jobs: lazy readers, an append-only writer, resume and an error report.

Inputs: ``.txt`` files (one article each, id = file stem), ``.jsonl`` files
(``{"id", "text"}`` per line; other corpus fields are ignored), directories
(their ``.txt``/``.jsonl`` files, sorted), or ``-`` for JSONL on stdin.

The output JSONL is appended to and flushed after every chunk of documents; on
``resume`` the ids already written are skipped and a truncated last line (a
killed job) is cut off first, so every input id ends up exactly once. A
document that cannot be tagged (bad UTF-8, empty, too long, wrong types) goes
to the error report with its id and reason, and the job continues.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .schema import dumps_line, json_problem, loads_json

MAX_CHARS_DEFAULT = 1_000_000


@dataclass
class Item:
    """One input document, or an error found while reading it."""

    id: str
    text: str | None
    meta: dict[str, Any]
    where: str
    error: str | None = None


def iter_inputs(paths: Iterable[str], max_chars: int = MAX_CHARS_DEFAULT) -> Iterator[Item]:
    """Yield items lazily from files, directories and stdin, in a deterministic order."""
    for raw in paths:
        if raw == "-":
            yield from _iter_jsonl_stream(sys.stdin.buffer, "<stdin>", max_chars)
            continue
        p = Path(raw)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix in (".txt", ".jsonl"):
                    yield from _iter_file(f, max_chars)
        elif p.is_file():
            yield from _iter_file(p, max_chars)
        else:
            shown = _printable(raw)
            yield Item(_printable(p.stem) or shown, None, {}, shown, f"input not found: {shown}")


def _iter_file(p: Path, max_chars: int) -> Iterator[Item]:
    if p.suffix == ".jsonl":
        with p.open("rb") as fh:
            yield from _iter_jsonl_stream(fh, str(p), max_chars)
        return
    data = p.read_bytes()
    name, stem = _printable(str(p)), _printable(p.stem)
    try:
        text = data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        yield Item(stem, None, {}, name, f"invalid UTF-8 at byte {exc.start}")
        return
    yield _check(Item(stem, text, {"source_file": name}, name), max_chars)


def _printable(name: str) -> str:
    """``name`` with undecodable file-name bytes and unpaired surrogates written as escapes (``bad\\xff``)."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _iter_jsonl_stream(fh: Any, name: str, max_chars: int) -> Iterator[Item]:
    name = _printable(name)
    for lineno, raw in enumerate(fh, 1):
        where = f"{name}:{lineno}"
        if not raw.strip():
            continue
        try:
            obj = loads_json(raw.decode("utf-8").lstrip("\ufeff"))
        except UnicodeDecodeError as exc:
            yield Item(f"{name}:{lineno}", None, {}, where, f"invalid UTF-8 at byte {exc.start}")
            continue
        except json.JSONDecodeError as exc:
            yield Item(f"{name}:{lineno}", None, {}, where, f"malformed JSON at column {exc.colno}: {exc.msg}")
            continue
        except (ValueError, RecursionError) as exc:  # NaN/Infinity, 5,000-digit numbers, absurd nesting
            yield Item(where, None, {}, where, f"malformed JSON: {exc}")
            continue
        if not isinstance(obj, dict):
            yield Item(f"{name}:{lineno}", None, {}, where, "a line must be a JSON object with 'id' and 'text'")
            continue
        doc_id, text = obj.get("id"), obj.get("text")
        if not isinstance(doc_id, (str, int)) or isinstance(doc_id, bool) or str(doc_id) == "":
            yield Item(f"{name}:{lineno}", None, {}, where, f"'id' must be a non-empty string, got {doc_id!r}")
            continue
        if not isinstance(text, str):
            yield Item(str(doc_id), None, {}, where, f"'text' must be a string, got {type(text).__name__}")
            continue
        raw_meta = obj.get("meta")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        problem = json_problem({"id": str(doc_id), "text": text, "meta": meta})
        if problem:  # it could not be written back as UTF-8 JSON
            safe_id = str(doc_id) if json_problem(str(doc_id)) is None else where
            yield Item(safe_id, None, {}, where, problem)
            continue
        yield _check(Item(str(doc_id), text, meta, where), max_chars)


def _check(item: Item, max_chars: int) -> Item:
    text = item.text or ""
    if not text.strip():
        item.error = "empty text"
    elif len(text) > max_chars:
        item.error = f"text has {len(text)} characters, over the limit of {max_chars} (--max-chars)"
    else:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            item.error = f"text holds an unpaired surrogate at character {exc.start}"
    return item


def repair_and_read_ids(path: Path) -> set[str]:
    """Cut a truncated last line off ``path`` and return the ids it holds."""
    if not path.exists():
        return set()
    ids: set[str] = set()
    good_end = 0
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                break
            ids.add(str(obj.get("id")))
            good_end += len(raw)
    if good_end != path.stat().st_size:
        with path.open("r+b") as fh:
            fh.truncate(good_end)
    return ids


class JsonlWriter:
    """Append JSON lines and fsync after each flush, so a kill loses at most the chunk in flight."""

    def __init__(self, path: str | None, append: bool) -> None:
        self.path = path
        self._fh: TextIO = sys.stdout if path in (None, "-") else open(path, "a" if append else "w", encoding="utf-8")

    def write(self, obj: dict[str, Any]) -> None:
        self._fh.write(dumps_line(obj) + "\n")

    def flush(self) -> None:
        self._fh.flush()
        if self._fh is not sys.stdout:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self.flush()
        if self._fh is not sys.stdout:
            self._fh.close()


def run_tag_job(
    tagger: Any,
    inputs: Iterable[str],
    output: str | None,
    resume: bool = False,
    errors: str | None = None,
    max_chars: int = MAX_CHARS_DEFAULT,
    chunk_docs: int = 64,
    progress: bool = True,
    shard: tuple[int, int] = (0, 1),
) -> dict[str, Any]:
    """Tag every input document into ``output`` (JSONL), streaming; returns counts.

    Args:
        tagger: anything with ``tag_documents(items)`` (a :class:`Tagger` or the rules baseline).
        resume: skip ids already in ``output`` (after repairing a truncated last line).
        errors: JSONL error report path (default ``OUTPUT.errors.jsonl``).
        shard: ``(index, count)``: tag only the documents whose position % count == index.
    """
    from tqdm.auto import tqdm

    out_path = Path(output) if output not in (None, "-") else None
    done = repair_and_read_ids(out_path) if (resume and out_path) else set()
    writer = JsonlWriter(output, append=bool(done) or (resume and out_path is not None and out_path.exists()))
    err_path = errors or (f"{output}.errors.jsonl" if out_path else None)
    err_done = repair_and_read_ids(Path(err_path)) if (resume and err_path) else set()
    err_writer = JsonlWriter(err_path, append=resume) if err_path else None
    counts = {"tagged": 0, "skipped": 0, "errors": 0}
    seen: set[str] = set()
    bar = tqdm(disable=not progress, unit="doc", desc="tag", file=sys.stderr)

    def report(item: Item, reason: str) -> None:
        counts["errors"] += 1
        if item.id in err_done:
            return
        rec = {"id": _printable(item.id), "where": _printable(item.where), "error": _printable(reason)}
        if err_writer:
            err_writer.write(rec)
            err_writer.flush()
        else:
            print(f"error: {item.where} ({item.id}): {reason}", file=sys.stderr)

    def good_items() -> Iterator[tuple[str, str, dict[str, Any]]]:
        for k, item in enumerate(iter_inputs(inputs, max_chars)):
            if k % shard[1] != shard[0]:
                continue
            if item.id in seen:
                report(item, f"duplicate id {item.id!r} (an earlier document has it); not tagged twice")
                continue
            seen.add(item.id)
            if item.id in done:
                counts["skipped"] += 1
                continue
            if item.error:
                report(item, item.error)
                continue
            yield item.id, item.text or "", item.meta

    try:
        pending = 0
        for doc in tagger.tag_documents(good_items(), chunk_docs=chunk_docs):
            writer.write(doc.to_dict())
            counts["tagged"] += 1
            pending += 1
            bar.update(1)
            if pending >= chunk_docs:
                writer.flush()
                pending = 0
    finally:
        writer.close()
        if err_writer:
            err_writer.close()
        bar.close()
    return counts


def shard_path(output: str, index: int, count: int) -> str:
    """Where shard ``index`` of ``count`` writes: ``OUT.jsonl`` -> ``OUT.shard-0-of-4.jsonl``."""
    p = Path(output)
    return str(p.with_name(f"{p.stem}.shard-{index}-of-{count}{p.suffix or '.jsonl'}"))


def merge_shards(inputs: Iterable[str], output: str, count: int, max_chars: int = MAX_CHARS_DEFAULT) -> dict[str, int]:
    """Merge ``count`` shard outputs of ``output`` back into input order (deterministic).

    Document k of the input went to shard ``k % count``; the inputs are re-read
    (cheaply, no tagging) to restore the order. Documents a shard did not write
    (errors) are skipped; every shard line must be consumed, else the shards do not
    belong to these inputs.
    """
    readers = [open(shard_path(output, i, count), encoding="utf-8") for i in range(count)]
    heads: list[str | None] = [r.readline() or None for r in readers]
    written = 0
    seen: set[str] = set()
    dropped = 0
    try:
        with open(output, "w", encoding="utf-8") as out:
            for k, item in enumerate(iter_inputs(inputs, max_chars)):
                i = k % count
                line = heads[i]
                if line is not None and json.loads(line).get("id") == item.id:
                    heads[i] = readers[i].readline() or None
                    if item.id in seen:  # a duplicate id that another shard could not know about
                        dropped += 1
                        continue
                    seen.add(item.id)
                    out.write(line if line.endswith("\n") else line + "\n")
                    written += 1
        left = [i for i, h in enumerate(heads) if h is not None]
        if left:
            raise ValueError(f"shards {left} hold documents that are not in the inputs at their position; wrong inputs?")
    finally:
        for r in readers:
            r.close()
    return {"merged": written, "shards": count, "duplicates_dropped": dropped}
