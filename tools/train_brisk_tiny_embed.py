#!/usr/bin/env python3
"""Trains brisk-tiny-embed, the demo sentence embedder that brisk serves by default.

A 4-layer BertModel (hidden 256) with its own lowercase WordPiece tokenizer (8,192 tokens),
trained from scratch to map a King James verse and the World English Bible rendering of the same
verse close together: symmetric in-batch InfoNCE over (KJV, WEB) pairs, mean pooling over the
non-padding tokens (including [CLS] and [SEP]), L2-normalised, fixed temperature. The pairs come
from tools/prepare_embed_pairs.sh. Whole books are held out (HELDOUT_BOOKS) and never seen in
training, tokenizer training or model selection; a random set of verses of the training books is
the validation split whose InfoNCE loss picks the checkpoint.

The model is saved in the sentence-transformers folder layout (modules.json, 1_Pooling/,
sentence_bert_config.json) around a plain Hugging Face BertModel folder (config.json,
model.safetensors without a prefix, tokenizer.json), in bf16. The held-out evaluation runs on
the saved weights upcast to fp32:
  retrieval   every held-out KJV verse ranks all held-out WEB verses by cosine (and back);
              top-1, top-5, MRR. Exact duplicate texts tie with the gold one and do not count
              against it.
  cache       positives (KJV, WEB) of the same verse; as many negatives, a third each the
              adjacent verse of the same chapter, the WEB verse with the most word overlap, and
              a random held-out verse; precision and recall of `cosine >= t` for
              t = 0.50 .. 0.99; the default semantic-cache threshold is the lowest t with
              precision >= --min-precision.
  baseline    the same retrieval and cache rule on word-overlap (Jaccard) scores, to show how
              much of each task plain lexical overlap already solves.

Runs on the GPU machine (PyTorch, transformers, tokenizers, sentence-transformers); see
tools/gpu/make_embed_model.sh. Usage:
  train_brisk_tiny_embed.py --pairs data/embed/pairs.tsv --out OUT_DIR [--train-seconds 240]
"""
import argparse
import csv
import json
import math
import os
import random
import time

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

# About 5 % of the verses, in whole books, mixing narrative, poetry, prophecy and letters.
# No gospel is held out: the synoptic parallels would leak it through the other three.
HELDOUT_BOOKS = [
    "Ruth", "Esther", "Song of Solomon", "Lamentations", "Joel", "Obadiah", "Jonah", "Nahum",
    "Habakkuk", "Zephaniah", "Haggai", "Malachi", "Galatians", "Colossians", "1 Thessalonians",
    "Titus", "Philemon", "James", "2 Peter", "2 John", "3 John", "Jude",
]
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]  # ids 0..4 in this order
THRESHOLDS = [round(0.50 + 0.01 * i, 2) for i in range(50)]  # 0.50 .. 0.99
# Held-out verses whose embeddings brisk's tests compare against (book, chapter, verse).
PROBE_VERSES = [("Ruth", 1, 16), ("Jonah", 2, 1), ("Jude", 1, 25)]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", required=True, help="pairs.tsv made by tools/prepare_embed_pairs.sh")
    p.add_argument("--out", required=True, help="output model folder")
    p.add_argument("--vocab-size", type=int, default=8192)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=1024)
    p.add_argument("--max-len", type=int, default=128, help="tokens per text, [CLS] and [SEP] included")
    p.add_argument("--batch", type=int, default=512, help="verse pairs per step (in-batch negatives)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup-steps", type=int, default=200)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--temperature", type=float, default=0.05)
    p.add_argument("--train-seconds", type=float, default=240.0)
    p.add_argument("--max-steps", type=int, default=0, help="also stop here (0: time budget only)")
    p.add_argument("--eval-every", type=int, default=100, help="steps between validation evals")
    p.add_argument("--patience", type=int, default=20, help="stop after this many evals without improvement")
    p.add_argument("--num-valid", type=int, default=1000, help="validation verses from the training books")
    p.add_argument("--min-precision", type=float, default=0.98, help="precision target of the cache threshold")
    p.add_argument("--seed", type=int, default=1234)
    return p.parse_args(argv)


# ---------------------------------------------------------------------------------------------
# Data and metrics: plain Python, no torch.


def word_set(text):
    return frozenset("".join(c if c.isalnum() else " " for c in text.lower()).split())


def read_pairs(path):
    """Reads pairs.tsv into a list of dicts (book_index, book, chapter, verse, kjv, web)."""
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for r in reader:
            rows.append({"book_index": int(r["book_index"]), "book": r["book"],
                         "chapter": int(r["chapter"]), "verse": int(r["verse"]),
                         "kjv": r["kjv_text"], "web": r["web_text"]})
    return rows


def split_pairs(rows, heldout_books, num_valid, seed):
    """Returns (train, valid, heldout): heldout = every verse of heldout_books, in canonical
    order; valid = num_valid verses drawn at random (seeded) from the other books; train = the
    rest. Fails if a held-out book name does not occur in rows."""
    books = {r["book"] for r in rows}
    missing = [b for b in heldout_books if b not in books]
    if missing:
        raise ValueError(f"held-out books not in the pairs: {missing}")
    held = set(heldout_books)
    heldout = [r for r in rows if r["book"] in held]
    rest = [r for r in rows if r["book"] not in held]
    order = list(range(len(rest)))
    random.Random(seed).shuffle(order)
    valid_idx = set(order[:num_valid])
    valid = [r for i, r in enumerate(rest) if i in valid_idx]
    train = [r for i, r in enumerate(rest) if i not in valid_idx]
    return train, valid, heldout


def make_cache_pairs(heldout, seed):
    """Builds the semantic-cache evaluation set over heldout (a list of verse dicts).

    Returns a list of (kjv_idx, web_idx, label, kind): one positive (i, i, 1, "positive") per
    verse and one negative per verse, cycling through three kinds:
      "adjacent"  the next verse of the same chapter (the previous one at a chapter's end);
      "lexical"   the WEB verse with the most word overlap (word_jaccard) with KJV verse i;
      "random"    another verse drawn with the seeded generator.
    A candidate negative whose KJV or WEB text equals the positive's is skipped (the adjacent
    kind then falls back to a random verse), so no negative is a positive in disguise.
    """
    rng = random.Random(seed)
    where = {(r["book"], r["chapter"], r["verse"]): i for i, r in enumerate(heldout)}
    web_sets = [word_set(r["web"]) for r in heldout]

    def distinct(i, j):
        return (j is not None and heldout[j]["web"] != heldout[i]["web"]
                and heldout[j]["kjv"] != heldout[i]["kjv"])

    out = []
    for i, r in enumerate(heldout):
        out.append((i, i, 1, "positive"))
        j, kind = None, ("adjacent", "lexical", "random")[i % 3]
        if kind == "adjacent":
            j = next((where.get((r["book"], r["chapter"], r["verse"] + dv)) for dv in (1, -1)
                      if distinct(i, where.get((r["book"], r["chapter"], r["verse"] + dv)))), None)
        elif kind == "lexical":
            q = word_set(r["kjv"])
            best = -1.0
            for c, d in enumerate(web_sets):
                score = len(q & d) / (len(q | d) or 1)
                if score > best and distinct(i, c):
                    best, j = score, c
        while not distinct(i, j):
            j, kind = rng.randrange(len(heldout)), "random"
        out.append((i, j, 0, kind))
    return out


def pr_curve(scores, labels, thresholds):
    """Precision, recall and F1 of the rule `score >= t` for each t (labels are 0/1).
    Precision is None where nothing is predicted positive."""
    num_pos = sum(labels)
    rows = []
    for t in thresholds:
        tp = sum(1 for s, y in zip(scores, labels) if s >= t and y == 1)
        fp = sum(1 for s, y in zip(scores, labels) if s >= t and y == 0)
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / num_pos if num_pos else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
        rows.append({"threshold": t, "tp": tp, "fp": fp, "precision": precision,
                     "recall": recall, "f1": f1})
    return rows


def choose_threshold(curve, min_precision):
    """The lowest threshold whose precision is at least min_precision, as (row, True); if none
    reaches it, the row with the highest precision (lowest threshold among ties), as (row, False)."""
    for row in curve:
        if row["precision"] is not None and row["precision"] >= min_precision:
            return row, True
    scored = [r for r in curve if r["precision"] is not None]
    if not scored:
        return curve[-1], False
    best = max(r["precision"] for r in scored)
    return next(r for r in scored if r["precision"] == best), False


def retrieval_metrics(ranks):
    """Top-1, top-5 accuracy and mean reciprocal rank from 1-based ranks of the gold item."""
    n = len(ranks)
    return {"top1": sum(1 for r in ranks if r <= 1) / n, "top5": sum(1 for r in ranks if r <= 5) / n,
            "mrr": sum(1.0 / r for r in ranks) / n, "num_queries": n}


def word_jaccard(a, b):
    """Jaccard similarity of the lowercase word sets of two texts (0 when both are empty)."""
    sa, sb = word_set(a), word_set(b)
    return len(sa & sb) / (len(sa | sb) or 1)


def word_overlap_ranks(queries, docs):
    """Baseline: 1-based rank of docs[i] for queries[i] under word_jaccard (ties with the gold
    doc do not count against it)."""
    q_sets, d_sets = [word_set(t) for t in queries], [word_set(t) for t in docs]
    ranks = []
    for i, q in enumerate(q_sets):
        scores = [len(q & d) / (len(q | d) or 1) for d in d_sets]
        ranks.append(1 + sum(1 for s in scores if s > scores[i]))
    return ranks


def probe_texts(heldout):
    """Texts whose token ids and embeddings go into reference.json: held-out verses in both
    translations, then odd inputs (one letter, punctuation only, accents, mixed case, and a
    200-word text that is longer than max_len tokens)."""
    where = {(r["book"], r["chapter"], r["verse"]): r for r in heldout}
    probes = []
    for key in PROBE_VERSES:
        r = where.get(key, heldout[0])
        probes.append({"name": f"{r['book']} {r['chapter']}:{r['verse']} KJV", "text": r["kjv"]})
        probes.append({"name": f"{r['book']} {r['chapter']}:{r['verse']} WEB", "text": r["web"]})
    words = " ".join(r["kjv"] for r in heldout).split()[:200]
    probes += [
        {"name": "one letter", "text": "a"},
        {"name": "punctuation", "text": "?!... -- ;: ' \" () [] {} ,,,"},
        {"name": "unicode", "text": "Un café très naïve à Zürich — “quoted” ‘text’ 東京 😀"},
        {"name": "mixed case", "text": "THE LORD is my Shepherd; I shall NOT want."},
        {"name": "200 words (truncated)", "text": " ".join(words)},
    ]
    return probes


# ---------------------------------------------------------------------------------------------
# Tokenizer and model.


def train_tokenizer(texts, vocab_size):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="##"))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                        continuing_subword_prefix="##", show_progress=False)
    tok.train_from_iterator(texts, trainer)
    for i, name in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(name) == i, (name, tok.token_to_id(name))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    return tok


def encode(hf_tok, texts, max_len, device):
    """Token ids [n, max_len] (right-padded with 0) and lengths [n], truncated like
    sentence-transformers does (content cut, [CLS] and [SEP] kept)."""
    enc = hf_tok(texts, truncation=True, max_length=max_len, add_special_tokens=True)["input_ids"]
    ids = torch.zeros((len(texts), max_len), dtype=torch.long)
    for i, row in enumerate(enc):
        ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
    lengths = torch.tensor([len(row) for row in enc], dtype=torch.long)
    return ids.to(device), lengths.to(device)


def embed(model, ids, lengths):
    """Mean of the last hidden states over the first lengths[i] tokens, L2-normalised, fp32.
    ids: [b, max_len]; returns [b, hidden]."""
    width = int(lengths.max().item())
    ids = ids[:, :width]
    mask = (torch.arange(width, device=ids.device)[None, :] < lengths[:, None]).long()
    hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state.float()  # [b, width, hidden]
    m = mask.unsqueeze(-1).float()
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    return F.normalize(pooled, dim=-1)


@torch.no_grad()
def embed_all(model, ids, lengths, batch=512):
    model.eval()
    return torch.cat([embed(model, ids[i:i + batch], lengths[i:i + batch])
                      for i in range(0, ids.shape[0], batch)])


@torch.no_grad()
def retrieval(model, kjv, web):
    """Retrieval metrics both ways between aligned encodings kjv = (ids, lengths) and web;
    also returns the embeddings [n, hidden] of both sides."""
    ek, ew = embed_all(model, *kjv), embed_all(model, *web)
    sim = ek @ ew.T  # [n, n]
    gold = sim.diagonal()
    k2w = (1 + (sim > gold[:, None]).sum(1)).tolist()
    w2k = (1 + (sim.T > gold[:, None]).sum(1)).tolist()
    return {"kjv_to_web": retrieval_metrics(k2w), "web_to_kjv": retrieval_metrics(w2k)}, ek, ew


def info_nce(q, d, kjv_tid, web_tid, temperature):
    """Symmetric InfoNCE between aligned embeddings q and d ([b, hidden] each); pairs whose KJV
    or WEB text equals the positive's are not used as negatives."""
    logits = (q @ d.T) / temperature  # [b, b]
    dup = (kjv_tid[:, None] == kjv_tid[None, :]) | (web_tid[:, None] == web_tid[None, :])
    dup.fill_diagonal_(False)
    logits = logits.masked_fill(dup, float("-inf"))
    target = torch.arange(q.shape[0], device=q.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def text_ids(rows, field):
    """Integer id per distinct text, so in-batch duplicates can be masked out of the negatives."""
    seen = {}
    return torch.tensor([seen.setdefault(r[field], len(seen)) for r in rows], dtype=torch.long)


def contrastive_loss(model, kjv_ids, kjv_len, web_ids, web_len, kjv_tid, web_tid, temperature):
    """In-batch symmetric InfoNCE of a batch of (KJV, WEB) pairs."""
    q, d = embed(model, kjv_ids, kjv_len), embed(model, web_ids, web_len)  # [b, hidden]
    return info_nce(q, d, kjv_tid, web_tid, temperature)


def save_sentence_transformer_files(out, hidden, max_len, versions):
    """Writes the sentence-transformers module files around the Hugging Face model folder."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    pooling = {"word_embedding_dimension": hidden, "pooling_mode_cls_token": False,
               "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
               "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
               "pooling_mode_lasttoken": False, "include_prompt": True}
    # The tokenizer's normaliser lowercases, so sentence-transformers need not lowercase first.
    sbert = {"max_seq_length": max_len, "do_lower_case": False}
    st_config = {"__version__": versions, "model_type": "SentenceTransformer", "prompts": {},
                 "default_prompt_name": None, "similarity_fn_name": "cosine"}
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    for path, obj in [("modules.json", modules), ("1_Pooling/config.json", pooling),
                      ("sentence_bert_config.json", sbert),
                      ("config_sentence_transformers.json", st_config)]:
        with open(os.path.join(out, path), "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")


# ---------------------------------------------------------------------------------------------


def train(args, model, data, valid, device):
    """Trains in place until the time budget, --max-steps or patience runs out; loads the
    checkpoint with the lowest validation loss back into model. Returns a summary dict.
    data = (kjv ids, kjv lengths, web ids, web lengths, kjv text ids, web text ids) of the
    training pairs; valid = ((kjv ids, lengths), (web ids, lengths), kjv text ids, web text ids)."""
    (kjv_ids, kjv_len, web_ids, web_len, kjv_tid, web_tid) = data
    n = kjv_ids.shape[0]
    decay = [p for _, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for _, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-6, fused=(device == "cuda"))
    gen = torch.Generator().manual_seed(args.seed)
    step, epoch, loss_ema, history = 0, 0, None, []
    best = {"loss": float("inf"), "mrr": 0.0, "step": 0, "state": None}
    bad_evals, t0 = 0, time.time()
    perm, pos = torch.randperm(n, generator=gen), 0
    while True:
        frac = (time.time() - t0) / args.train_seconds
        if args.max_steps:
            frac = max(frac, step / args.max_steps)
        if frac >= 1.0 or bad_evals >= args.patience:
            break
        warm = min(1.0, (step + 1) / args.warmup_steps)
        lr = args.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        if pos + args.batch > n:
            perm, pos, epoch = torch.randperm(n, generator=gen), 0, epoch + 1
        idx = perm[pos:pos + args.batch].to(device)
        pos += args.batch
        model.train()
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=(device == "cuda")):
            loss = contrastive_loss(model, kjv_ids[idx], kjv_len[idx], web_ids[idx], web_len[idx],
                                    kjv_tid[idx], web_tid[idx], args.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        loss_ema = loss.item() if loss_ema is None else 0.95 * loss_ema + 0.05 * loss.item()
        if step % args.eval_every == 0:
            # Retrieval on the validation split saturates early; the InfoNCE loss over the whole
            # split (all 1,000 verses as negatives) keeps moving, so it picks the checkpoint.
            metrics, ek, ew = retrieval(model, valid[0], valid[1])
            valid_loss = info_nce(ek, ew, valid[2], valid[3], args.temperature).item()
            mrr = 0.5 * (metrics["kjv_to_web"]["mrr"] + metrics["web_to_kjv"]["mrr"])
            history.append({"step": step, "seconds": round(time.time() - t0, 1), "loss_ema": round(loss_ema, 4),
                            "lr": lr, "valid_loss": round(valid_loss, 5), "valid_mrr": round(mrr, 5)})
            if valid_loss < best["loss"]:
                best = {"loss": valid_loss, "mrr": mrr, "step": step,
                        "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
                bad_evals = 0
            else:
                bad_evals += 1
            print(f"step {step} epoch {epoch} loss {loss_ema:.4f} valid loss {valid_loss:.4f} "
                  f"MRR {mrr:.4f} lr {lr:.2e} {time.time() - t0:.0f}s", flush=True)
    seconds = time.time() - t0
    if best["state"] is None:
        raise RuntimeError("no validation eval ran; raise --train-seconds or lower --eval-every")
    model.load_state_dict(best["state"])
    print(f"keeping step {best['step']} (validation loss {best['loss']:.4f}, MRR {best['mrr']:.4f})", flush=True)
    return {"steps": step, "epochs": round(step * args.batch / n, 2), "train_seconds": round(seconds, 1),
            "kept_step": best["step"], "valid_loss": best["loss"], "valid_mrr": best["mrr"],
            "final_train_loss_ema": round(loss_ema, 4), "history": history}


def evaluate_heldout(model, hf_tok, heldout, args, device):
    """Held-out retrieval, the word-overlap baseline and the semantic-cache PR curve."""
    kjv_texts, web_texts = [r["kjv"] for r in heldout], [r["web"] for r in heldout]
    kjv = encode(hf_tok, kjv_texts, args.max_len, device)
    web = encode(hf_tok, web_texts, args.max_len, device)
    metrics, ek, ew = retrieval(model, kjv, web)
    baseline = {"kjv_to_web": retrieval_metrics(word_overlap_ranks(kjv_texts, web_texts)),
                "web_to_kjv": retrieval_metrics(word_overlap_ranks(web_texts, kjv_texts))}
    pairs = make_cache_pairs(heldout, args.seed)
    labels = [p[2] for p in pairs]
    # The same cache rule on word-overlap (Jaccard) scores, on its own threshold grid.
    jaccard = [word_jaccard(kjv_texts[i], web_texts[j]) for i, j, _, _ in pairs]
    row, met = choose_threshold(pr_curve(jaccard, labels, [i / 100 for i in range(100)]), args.min_precision)
    baseline["semantic_cache"] = {"threshold": row["threshold"], "target_met": met,
                                  "precision": row["precision"], "recall": row["recall"], "f1": row["f1"]}
    qi = torch.tensor([p[0] for p in pairs], device=device)
    di = torch.tensor([p[1] for p in pairs], device=device)
    scores = (ek[qi] * ew[di]).sum(-1).tolist()
    curve = pr_curve(scores, labels, THRESHOLDS)
    chosen, met = choose_threshold(curve, args.min_precision)
    t = chosen["threshold"]
    kinds = {}
    for (_, _, _, kind), s in zip(pairs, scores):
        k = kinds.setdefault(kind, {"count": 0, "at_or_above_threshold": 0, "scores": []})
        k["count"] += 1
        k["at_or_above_threshold"] += int(s >= t)
        k["scores"].append(s)
    for k in kinds.values():
        s = sorted(k.pop("scores"))
        k["mean_cosine"] = sum(s) / len(s)
        k["median_cosine"] = s[len(s) // 2]
    cache = {"num_positive": sum(labels), "num_negative": len(labels) - sum(labels),
             "by_kind": kinds, "min_precision": args.min_precision, "target_met": met,
             "threshold": t, "precision": chosen["precision"], "recall": chosen["recall"],
             "f1": chosen["f1"], "curve": curve}
    return {"retrieval": metrics, "word_overlap_baseline": baseline, "semantic_cache": cache}


def check_with_sentence_transformers(out, model, hf_tok, probes, args, device):
    """Loads the saved folder with sentence-transformers (fp32) and compares its embeddings and
    token ids with this script's on the probe texts. Returns (reference probes, check dict)."""
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(out, device=device).float()
    texts = [p["text"] for p in probes]
    st_emb = st.encode(texts, convert_to_tensor=True, batch_size=len(texts)).float()
    ids, lengths = encode(hf_tok, texts, args.max_len, device)
    own = embed_all(model, ids, lengths)
    diff = (st_emb - own).abs().max().item()
    st_ids = st.tokenize(texts)["input_ids"]
    refs, ids_equal = [], True
    for i, p in enumerate(probes):
        hf_ids = hf_tok(p["text"], truncation=True, max_length=args.max_len)["input_ids"]
        st_row = [int(x) for x in st_ids[i][:len(hf_ids)].tolist()]
        ids_equal = ids_equal and st_row == hf_ids and int(st_ids[i][len(hf_ids):].sum()) == 0
        refs.append({"name": p["name"], "text": p["text"], "input_ids": hf_ids,
                     "embedding": [float(x) for x in st_emb[i].tolist()]})
    kjv_web = [float((st_emb[2 * i] * st_emb[2 * i + 1]).sum()) for i in range(len(PROBE_VERSES))]
    check = {"max_abs_diff": diff, "token_ids_equal": ids_equal,
             "st_dtype": str(next(st.parameters()).dtype), "st_max_seq_length": st.max_seq_length}
    print(f"sentence-transformers check: max |diff| {diff:.3e}, token ids equal {ids_equal}", flush=True)
    return refs, kjv_web, check


def main():
    args = parse_args()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = "cuda" if torch.cuda.is_available() else "cpu"
    os.makedirs(args.out, exist_ok=True)

    rows = read_pairs(args.pairs)
    train_rows, valid_rows, heldout = split_pairs(rows, HELDOUT_BOOKS, args.num_valid, args.seed)
    print(f"pairs: {len(rows)}; train {len(train_rows)}, validation {len(valid_rows)}, "
          f"held out {len(heldout)} ({100 * len(heldout) / len(rows):.1f} %, {len(HELDOUT_BOOKS)} books)", flush=True)

    t0 = time.time()
    tok = train_tokenizer([r["kjv"] for r in train_rows + valid_rows] +
                          [r["web"] for r in train_rows + valid_rows], args.vocab_size)
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]",
                                     pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]",
                                     model_max_length=args.max_len)
    hf_tok.save_pretrained(args.out)
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    assert [i for _, i in vocab] == list(range(len(vocab))), "vocabulary ids are not dense"
    with open(os.path.join(args.out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t, _ in vocab))
    print(f"tokenizer: {len(vocab)} tokens in {time.time() - t0:.1f}s", flush=True)

    data = (*encode(hf_tok, [r["kjv"] for r in train_rows], args.max_len, device),
            *encode(hf_tok, [r["web"] for r in train_rows], args.max_len, device),
            text_ids(train_rows, "kjv").to(device), text_ids(train_rows, "web").to(device))
    valid = (encode(hf_tok, [r["kjv"] for r in valid_rows], args.max_len, device),
             encode(hf_tok, [r["web"] for r in valid_rows], args.max_len, device),
             text_ids(valid_rows, "kjv").to(device), text_ids(valid_rows, "web").to(device))
    lengths = torch.cat([data[1], data[3]]).float()
    truncated = int((lengths >= args.max_len).sum().item())
    print(f"train tokens per text: mean {lengths.mean().item():.1f}, max {int(lengths.max().item())}, "
          f"{truncated} texts at the {args.max_len}-token limit", flush=True)

    config = BertConfig(vocab_size=len(vocab), hidden_size=args.hidden, num_hidden_layers=args.layers,
                        num_attention_heads=args.heads, intermediate_size=args.intermediate,
                        max_position_embeddings=args.max_len, type_vocab_size=2, pad_token_id=0,
                        hidden_act="gelu", layer_norm_eps=1e-12,
                        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    model = BertModel(config).to(device)
    num_params = sum(p.numel() for p in model.parameters())
    print(f"model: {num_params / 1e6:.2f} M parameters", flush=True)

    summary = train(args, model, data, valid, device)

    model = model.to(torch.bfloat16)
    model.config.dtype = "bfloat16"
    model.save_pretrained(args.out, safe_serialization=True)
    versions = {"sentence_transformers": "", "transformers": "", "pytorch": torch.__version__}
    try:
        import sentence_transformers
        import transformers
        versions.update(sentence_transformers=sentence_transformers.__version__,
                        transformers=transformers.__version__)
    except ImportError:
        pass
    save_sentence_transformer_files(args.out, args.hidden, args.max_len, versions)

    # Everything below uses the saved bf16 weights, upcast to fp32.
    reloaded = BertModel.from_pretrained(args.out, dtype=torch.float32).to(device).eval()
    valid_metrics, _, _ = retrieval(reloaded, valid[0], valid[1])
    results = evaluate_heldout(reloaded, hf_tok, heldout, args, device)
    print(json.dumps({k: results[k] for k in ("retrieval", "word_overlap_baseline")}, indent=1), flush=True)
    cache = results["semantic_cache"]
    print(f"semantic cache: threshold {cache['threshold']} (precision >= {args.min_precision}: "
          f"{cache['target_met']}), precision {cache['precision']}, recall {cache['recall']:.4f}, "
          f"F1 {cache['f1']:.4f}; by kind {cache['by_kind']}", flush=True)

    probes = probe_texts(heldout)
    check_error = None
    try:
        refs, kjv_web, st_check = check_with_sentence_transformers(args.out, reloaded, hf_tok, probes, args, device)
    except Exception as e:  # noqa: BLE001 - report it and fail after writing the report
        check_error, refs, kjv_web, st_check = repr(e), [], [], {}
        print(f"sentence-transformers check failed: {check_error}", flush=True)

    held_books = {}
    for r in heldout:
        held_books[r["book"]] = held_books.get(r["book"], 0) + 1
    size = os.path.getsize(os.path.join(args.out, "model.safetensors"))
    report = {
        "hyperparameters": {**vars(args), "out": os.path.basename(os.path.normpath(args.out))},
        "architecture": {"class": "BertModel", "layers": args.layers, "hidden": args.hidden,
                         "heads": args.heads, "intermediate": args.intermediate, "vocab": len(vocab),
                         "max_position_embeddings": args.max_len, "pooling": "mean", "normalize": True,
                         "parameters": num_params, "saved_dtype": "bfloat16",
                         "model_safetensors_bytes": size},
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "versions": versions,
        "verses": {"paired": len(rows), "train": len(train_rows), "validation": len(valid_rows),
                   "heldout": len(heldout)},
        "heldout_books": held_books,
        "training": summary,
        "validation_retrieval_saved_model": valid_metrics,
        **results,
        "sentence_transformers_check": st_check, "sentence_transformers_error": check_error,
    }
    with open(os.path.join(args.out, "training_report.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(args.out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump({"max_seq_length": args.max_len, "pooling": "mean", "normalize": True,
                   "computed_by": "sentence-transformers, fp32 from the saved bf16 weights",
                   "kjv_web_cosines": kjv_web, "probes": refs}, f, indent=1, ensure_ascii=False)
    brief = {k: v for k, v in report.items() if k not in ("semantic_cache", "training")}
    brief["training"] = {k: v for k, v in summary.items() if k != "history"}
    print(json.dumps(brief, indent=1))
    if check_error:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
