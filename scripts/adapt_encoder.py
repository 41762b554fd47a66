#!/usr/bin/env python
"""Domain-adaptive masked-LM training of an encoder on raw text, time-boxed, for CPU.

The offline encoder (multilingual-e5-small, see scripts/build_offline_encoder.sh) was trained for sentence
embeddings and stored in 4 bits; this continues it as a masked language model on raw Arabic news so its
token vectors fit the domain, then saves the encoder alone (no MLM head) as a normal model directory that
any config can name as ``model.encoder``.

- input: text files, one document per line (``--text``, repeatable); documents are tokenised, concatenated
  with a separator and cut into blocks of ``--block`` pieces; the blocks are shuffled with ``--seed``;
- MLM: 15% of the pieces chosen (never special tokens), of which 80% masked, 10% a random piece, 10% kept;
  the prediction head is new (the encoder ships none): its transform learns at ``--head-lr``, the output
  layer is the tied input embedding;
- it stops after ``--steps`` or ``--max-minutes`` (whichever first), linear decay over the planned steps, and
  always saves what it has; ``adapt_log.jsonl`` records the loss every ``--log-every`` steps.

Usage::

    .venv/bin/python scripts/adapt_encoder.py --encoder models/me5-small-snn --text T1.txt [--text T2.txt] \
        --out models/me5-small-dapt --steps 400 --max-minutes 35
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--encoder", required=True, help="model directory (config.json, model.safetensors, tokenizer)")
    p.add_argument("--text", action="append", required=True, help="text file, one document per line (repeatable)")
    p.add_argument("--out", required=True)
    p.add_argument("--block", type=int, default=256, help="pieces per training block, specials included")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop (and save) after this many minutes; 0 = no limit")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--head-lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=float, default=0.06, help="fraction of --steps")
    p.add_argument("--mask-prob", type=float, default=0.15)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--log-every", type=int, default=10)
    return p.parse_args(argv)


def read_blocks(tokenizer, paths: Sequence[str], block: int) -> list[list[int]]:
    """Token ids of every document, joined by the separator, cut into ``block``-piece blocks with CLS/SEP."""
    body = block - 2
    ids: list[int] = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                ids.extend(tokenizer(line.strip(), add_special_tokens=False)["input_ids"])
                ids.append(tokenizer.sep_token_id)
    if len(ids) < body:
        raise ValueError(f"{', '.join(paths)}: {len(ids)} pieces, fewer than one block of {body}")
    return [[tokenizer.cls_token_id, *ids[i : i + body], tokenizer.sep_token_id]
            for i in range(0, len(ids) - body + 1, body)]


def mask_batch(batch: torch.Tensor, special: torch.Tensor, vocab_size: int, mask_id: int, prob: float,
               gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: ``(inputs, labels)``; labels are -100 except at the chosen positions."""
    labels = batch.clone()
    chosen = (torch.rand(batch.shape, generator=gen) < prob) & ~special[batch]
    labels[~chosen] = -100
    inputs = batch.clone()
    roll = torch.rand(batch.shape, generator=gen)
    inputs[chosen & (roll < 0.8)] = mask_id
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[swap] = torch.randint(vocab_size, batch.shape, generator=gen)[swap]
    return inputs, labels


def adapt(args: argparse.Namespace) -> dict:
    from transformers import AutoTokenizer, BertForMaskedLM

    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.encoder)
    if tokenizer.mask_token_id is None:
        raise ValueError(f"{args.encoder}: the tokenizer has no mask token")
    model = BertForMaskedLM.from_pretrained(args.encoder)
    blocks = read_blocks(tokenizer, args.text, args.block)
    random.Random(args.seed).shuffle(blocks)
    data = torch.tensor(blocks, dtype=torch.long)
    vocab = model.config.vocab_size
    special = torch.zeros(max(vocab, len(tokenizer)), dtype=torch.bool)
    special[tokenizer.all_special_ids] = True
    head = [p for n, p in model.named_parameters() if n.startswith("cls.") and "decoder" not in n]
    head_ids = {id(p) for p in head}
    body = [p for p in model.parameters() if id(p) not in head_ids]
    opt = torch.optim.AdamW([{"params": body, "lr": args.lr}, {"params": head, "lr": args.head_lr}], weight_decay=0.01)
    warm = max(1, int(args.warmup * args.steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (args.steps - s) / max(1, args.steps - warm)))
    gen = torch.Generator().manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "adapt_log.jsonl").open("w", encoding="utf-8")
    model.train()
    started = time.monotonic()
    step, seen, running = 0, 0, []
    stopped = "steps"
    while step < args.steps:
        if args.max_minutes and time.monotonic() - started > 60 * args.max_minutes:
            stopped = "max_minutes"
            break
        idx = torch.arange(seen, seen + args.batch_size) % len(data)
        seen += args.batch_size
        inputs, labels = mask_batch(data[idx], special, vocab, tokenizer.mask_token_id, args.mask_prob, gen)
        # the head runs on the chosen positions only: full-vocabulary logits for every piece cost more than the encoder
        hidden = model.bert(input_ids=inputs, attention_mask=torch.ones_like(inputs)).last_hidden_state
        picked = labels != -100
        logits = model.cls(hidden[picked])
        loss = torch.nn.functional.cross_entropy(logits, labels[picked])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        running.append(loss.item())
        if step % args.log_every == 0 or step == 1:
            rec = {"step": step, "loss": round(sum(running) / len(running), 4), "seconds": round(time.monotonic() - started, 1)}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(json.dumps(rec), flush=True)
            running = []
    model.bert.save_pretrained(out)
    tokenizer.save_pretrained(out)
    summary = {
        "encoder": args.encoder, "texts": list(args.text), "blocks": len(data), "block": args.block,
        "batch_size": args.batch_size, "steps": step, "planned_steps": args.steps, "stopped_by": stopped,
        "epochs_over_text": round(seen / len(data), 3), "pieces_seen": seen * args.block,
        "lr": args.lr, "head_lr": args.head_lr, "mask_prob": args.mask_prob, "seed": args.seed,
        "seconds": round(time.monotonic() - started, 1), "torch_threads": torch.get_num_threads(),
    }
    (out / "adapt.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    log.close()
    if not math.isfinite(running[-1] if running else 0.0):
        raise RuntimeError("the masked-LM loss is not finite")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    summary = adapt(parse_args(argv))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
