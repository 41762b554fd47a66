"""Print the quickstart summary: quotes, entity counts, F1 per layer, where the outputs are."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from araquote.inference.quotes import format_quote, iter_quotes
from araquote.inference.schema import read_jsonl


def main(out: str) -> int:
    run = Path(out)
    print("\nQuotes in the sample article:")
    for _, doc in read_jsonl(str(run / "sample.jsonl")):
        for line in iter_quotes(doc):
            print("  " + format_quote(line, width=90))
        ents = Counter(s.label for s in doc.spans if s.layer == "entities")
        print("Entities:", ", ".join(f"{k} {v}" for k, v in ents.most_common()) or "none")
    for name, label in (("eval_test.json", "model"), ("eval_test_rules.json", "rules baseline")):
        path = run / name
        if not path.exists():
            continue
        rep = json.loads(path.read_text(encoding="utf-8"))
        parts = [f"{layer} micro-F1 {v['micro']['f1']:.3f}" for layer, v in rep.get("layers", {}).items()]
        rec = rep.get("quotes", {}).get("records", {}).get("overlap_0.3")
        if rec:
            parts.append(f"quote records F1@0.3 {rec['f1']:.3f}")
        print(f"Test split, {label}: " + "; ".join(parts))
    print(f"\nOutputs: model {run / 'model'}, metrics {run / 'metrics.json'}, evaluation {run / 'eval_test.json'},"
          f" tagged sample {run / 'sample.jsonl'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "runs/quickstart"))
