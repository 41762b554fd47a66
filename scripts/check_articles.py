"""Check corpus authoring files and print their counts.

Usage: python scripts/check_articles.py FILE_OR_DIR [...]

Works without installing the package (adds the checkout to sys.path).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bootstrap() -> None:
    """Make ``araquote.inference`` / ``araquote.training`` importable from a bare checkout."""
    import importlib.util
    import types

    if importlib.util.find_spec("araquote") is not None:
        try:
            import araquote.training.authoring  # noqa: F401

            return
        except ImportError:
            pass
    pkg = types.ModuleType("araquote")
    pkg.__path__ = [str(ROOT / "araquote")]
    sys.modules["araquote"] = pkg
    for sub in ("inference", "training"):
        spec = importlib.util.spec_from_file_location(f"araquote.{sub}", ROOT / sub / "__init__.py", submodule_search_locations=[str(ROOT / sub)])
        mod = importlib.util.module_from_spec(spec)
        sys.modules[f"araquote.{sub}"] = mod
        spec.loader.exec_module(mod)


def main(argv: list[str]) -> int:
    _bootstrap()
    from araquote.inference.text import split_words
    from araquote.training.authoring import MarkupError, parse_source

    files: list[Path] = []
    for arg in argv:
        p = Path(arg)
        files += sorted(p.rglob("*.txt")) if p.is_dir() else [p]
    totals: Counter[str] = Counter()
    cues: Counter[str] = Counter()
    bad = 0
    for f in files:
        try:
            doc = parse_source(f.read_text(encoding="utf-8"), str(f))
        except (MarkupError, UnicodeDecodeError) as exc:
            bad += 1
            print(f"ERROR {exc}")
            continue
        words = sum(1 for w in split_words(doc.text) if w.text[0].isalnum())
        kinds = Counter(q.kind for q in doc.quotes)
        implicit = sum(q.implicit_speaker for q in doc.quotes)
        ents = sum(1 for s in doc.spans if s.layer == "entities")
        by_id = doc.span_by_id()
        for q in doc.quotes:
            if q.cue:
                cues[doc.text[by_id[q.cue].start:by_id[q.cue].end]] += 1
        totals.update(docs=1, words=words, records=len(doc.quotes), implicit=implicit, entities=ents, **kinds)
        if not doc.quotes:
            totals["no_quote_docs"] += 1
        if words > 1500:
            totals["long_docs"] += 1
        print(f"ok {f}: {words} words, {len(doc.quotes)} records {dict(kinds)}, {implicit} implicit, {ents} entities")
    print(f"\nTOTAL {dict(totals)}")
    print(f"distinct cue strings: {len(cues)}")
    print(f"files with errors: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
