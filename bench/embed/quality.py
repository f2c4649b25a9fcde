#!/usr/bin/env python3
"""brisk-tiny-embed served by a running `brisk serve`: held-out quality and embedding latency.

Quality: the held-out verses of models/brisk-tiny-embed/training_report.json are rebuilt from
data/embed/pairs.tsv with the training script's own data functions (read from
tools/train_brisk_tiny_embed.py without importing torch; their counts are checked against the
report), every distinct text is embedded through POST /v1/embeddings (batches of --batch
inputs, base64 f32), and retrieval (KJV->WEB, WEB->KJV) and the semantic-cache precision-recall
curve (cosine >= t, t = 0.50 .. 0.99) are computed as the script computes them and compared with
the report's numbers, which transformers produced in fp32 on the same weights.

Speed: one verse per request at concurrency 1 (latency percentiles and the server's own
`embed` time from Server-Timing), single-verse requests at concurrency --concurrency
(texts/s), and one request of --batch verses. Standard library only.
  quality.py --url http://127.0.0.1:PORT [--results FILE.md --command CMD --build-info TEXT]
"""
import argparse
import ast
import base64
import csv
import datetime
import http.client
import json
import os
import platform
import random
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
from types import SimpleNamespace

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The training script's pure data and metric functions, reused verbatim.
HELPERS = ("word_set", "read_pairs", "split_pairs", "make_cache_pairs", "pr_curve",
           "choose_threshold", "retrieval_metrics")
DEFAULT_THRESHOLD = 0.60  # brisk's default semantic-cache threshold for this model


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True, help="base URL of a running brisk serve")
    p.add_argument("--model", default="brisk-tiny-embed")
    p.add_argument("--model-dir", default=os.path.join(ROOT, "models", "brisk-tiny-embed"))
    p.add_argument("--pairs", default=os.path.join(ROOT, "data", "embed", "pairs.tsv"))
    p.add_argument("--train-script", default=os.path.join(ROOT, "tools", "train_brisk_tiny_embed.py"))
    p.add_argument("--batch", type=int, default=64, help="inputs per request for the quality run")
    p.add_argument("--latency-requests", type=int, default=300, help="one-verse requests at concurrency 1")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--throughput-requests", type=int, default=960, help="one-verse requests at --concurrency")
    p.add_argument("--batch-repeats", type=int, default=12, help="timed requests of --batch verses")
    p.add_argument("--rounds", type=int, default=3, help="the workloads run interleaved this many times")
    p.add_argument("--server-threads", type=int, default=0, help="for the record only")
    p.add_argument("--results", help="write the results markdown here")
    p.add_argument("--json-out", help="write every number here")
    p.add_argument("--command", default="bash bench/embed/run.sh")
    p.add_argument("--build-info", default="")
    return p.parse_args()


def load_training_helpers(path):
    """The functions named in HELPERS and THRESHOLDS, taken from the training script's source
    (which imports torch at the top, so it cannot be imported here)."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    keep = [n for n in tree.body
            if (isinstance(n, ast.FunctionDef) and n.name in HELPERS)
            or (isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "THRESHOLDS" for t in n.targets))]
    ns = {"csv": csv, "random": random}
    exec(compile(ast.Module(body=keep, type_ignores=[]), path, "exec"), ns)
    missing = [n for n in HELPERS + ("THRESHOLDS",) if n not in ns]
    if missing:
        raise SystemExit(f"{path} no longer defines {missing}")
    return SimpleNamespace(**{n: ns[n] for n in HELPERS + ("THRESHOLDS",)})


# ---------------------------------------------------------------------------------------------
# HTTP


class Client:
    """One keep-alive connection to the server; not shared between threads."""

    def __init__(self, url, model):
        u = urllib.parse.urlparse(url)
        self.host, self.port, self.model = u.hostname, u.port, model
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def embed(self, inputs):
        """Vectors (lists of floats, exact f32 values) of `inputs` (texts or token-id lists), the
        server's own embed time in ms from Server-Timing (None if absent), and the tokens the
        server counted (usage.prompt_tokens)."""
        body = json.dumps({"model": self.model, "input": inputs, "encoding_format": "base64"})
        for attempt in (0, 1):
            try:
                self.conn.request("POST", "/v1/embeddings", body, {"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()  # the server may close an idle keep-alive connection
                if attempt:
                    raise
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {data[:300]!r}")
        answer = json.loads(data)
        vectors = [None] * len(inputs)
        for item in answer["data"]:
            raw = base64.b64decode(item["embedding"])
            vectors[item["index"]] = list(struct.unpack(f"<{len(raw) // 4}f", raw))
        embed_ms = None
        for part in (resp.getheader("Server-Timing") or "").split(","):
            name, _, dur = part.strip().partition(";dur=")
            if name == "embed" and dur:
                embed_ms = float(dur)
        return vectors, embed_ms, answer["usage"]["prompt_tokens"]


# ---------------------------------------------------------------------------------------------
# Quality


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def cosine(a, b):
    return dot(a, b) / ((dot(a, a) * dot(b, b)) ** 0.5 or 1.0)


def rebuild_heldout(h, args, report):
    """Held-out verses, rebuilt with the report's book list, seed and split sizes; the counts must
    match the report's exactly or the comparison means nothing."""
    hp = report["hyperparameters"]
    rows = h.read_pairs(args.pairs)
    train, valid, heldout = h.split_pairs(rows, list(report["heldout_books"]), hp["num_valid"], hp["seed"])
    counts = {"paired": len(rows), "train": len(train), "validation": len(valid), "heldout": len(heldout)}
    books = {}
    for r in heldout:
        books[r["book"]] = books.get(r["book"], 0) + 1
    if counts != report["verses"] or books != report["heldout_books"]:
        raise SystemExit(f"held-out set differs from the report: {counts} / {books}")
    pairs = h.make_cache_pairs(heldout, hp["seed"])
    kinds = {}
    for p in pairs:
        kinds[p[3]] = kinds.get(p[3], 0) + 1
    want = {k: v["count"] for k, v in report["semantic_cache"]["by_kind"].items()}
    if kinds != want:
        raise SystemExit(f"cache pairs differ from the report: {kinds} vs {want}")
    return heldout, pairs, counts, kinds


def embed_texts(client, texts, batch):
    """Vectors of the distinct `texts` (dict text -> vector); identical texts share one vector,
    so a duplicate verse ties with its gold one exactly, as in the training script."""
    distinct = list(dict.fromkeys(texts))
    out, num_tokens = {}, 0
    for i in range(0, len(distinct), batch):
        chunk = distinct[i:i + batch]
        vectors, _, n = client.embed(chunk)
        out.update(zip(chunk, vectors))
        num_tokens += n
    return out, num_tokens


def retrieval(h, ek, ew):
    """Rank of the gold item among all held-out verses both ways (ties do not count against it)."""
    n = len(ek)
    sim = [[dot(q, d) for d in ew] for q in ek]  # [n, n], vectors are unit length
    gold = [sim[i][i] for i in range(n)]
    k2w = [1 + sum(1 for s in row if s > gold[i]) for i, row in enumerate(sim)]
    w2k = [1] * n
    for row in sim:
        for j, s in enumerate(row):
            if s > gold[j]:
                w2k[j] += 1
    return {"kjv_to_web": h.retrieval_metrics(k2w), "web_to_kjv": h.retrieval_metrics(w2k)}


def quality(h, client, args, report):
    heldout, pairs, counts, kinds = rebuild_heldout(h, args, report)
    t0 = time.perf_counter()
    vec, num_tokens = embed_texts(client, [r["kjv"] for r in heldout] + [r["web"] for r in heldout], args.batch)
    embed_s = time.perf_counter() - t0
    norms = [dot(v, v) ** 0.5 for v in vec.values()]
    ek, ew = [vec[r["kjv"]] for r in heldout], [vec[r["web"]] for r in heldout]
    ret = retrieval(h, ek, ew)
    scores = [cosine(ek[i], ew[j]) for i, j, _, _ in pairs]
    labels = [p[2] for p in pairs]
    curve = h.pr_curve(scores, labels, h.THRESHOLDS)
    chosen, met = h.choose_threshold(curve, report["hyperparameters"]["min_precision"])
    at_default = next(r for r in curve if abs(r["threshold"] - DEFAULT_THRESHOLD) < 1e-9)
    by_kind = {}
    for (_, _, _, kind), s in zip(pairs, scores):
        k = by_kind.setdefault(kind, {"count": 0, "at_or_above_default": 0, "sum": 0.0})
        k["count"] += 1
        k["at_or_above_default"] += int(s >= DEFAULT_THRESHOLD)
        k["sum"] += s
    for k in by_kind.values():
        k["mean_cosine"] = k.pop("sum") / k["count"]
    return heldout, {"counts": counts, "cache_pair_kinds": kinds, "distinct_texts": len(vec),
            "mean_tokens": num_tokens / len(vec),
            "embed_seconds": embed_s, "norm_range": [min(norms), max(norms)],
            "retrieval": ret, "curve": curve, "chosen": {**chosen, "target_met": met},
            "at_default": at_default, "by_kind": by_kind}


# ---------------------------------------------------------------------------------------------
# Speed


def percentile(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def single_requests(client, texts, n, offset):
    """n requests of one text each, one after another: latencies ms, server embed ms, tokens."""
    lat, server, tokens = [], [], 0
    for i in range(n):
        t0 = time.perf_counter()
        _, embed_ms, k = client.embed([texts[(offset + i) % len(texts)]])
        lat.append((time.perf_counter() - t0) * 1e3)
        tokens += k
        server.append(embed_ms)
    return lat, server, tokens


def concurrent_requests(clients, texts, n, offset):
    """n one-text requests spread over len(clients) workers, each with its own connection and
    one request in flight: latencies ms, tokens, wall seconds."""
    lock, next_idx, lat, errors, tokens = threading.Lock(), [0], [], [], [0]

    def work(cl):
        while True:
            with lock:
                i = next_idx[0]
                next_idx[0] += 1
            if i >= n:
                return
            t0 = time.perf_counter()
            try:
                _, _, k = cl.embed([texts[(offset + 7 * i) % len(texts)]])
            except Exception as e:  # noqa: BLE001 - counted and reported
                with lock:
                    errors.append(repr(e))
                continue
            with lock:
                lat.append((time.perf_counter() - t0) * 1e3)
                tokens[0] += k

    threads = [threading.Thread(target=work, args=(cl,)) for cl in clients]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{len(errors)} requests failed at concurrency {len(clients)}: {errors[0]}")
    return lat, tokens[0], time.perf_counter() - t0


def batch_sweep(client, text, sizes=(1, 4, 16, 32, 64, 128), repeats=5):
    """The model forward alone (server embed span) on `text` repeated n times in one request:
    rows of (n, tokens, median ms, tokens/s)."""
    rows = []
    for n in sizes:
        times, tokens = [], 0
        for _ in range(repeats):
            _, embed_ms, tokens = client.embed([text] * n)
            times.append(embed_ms)
        ms = statistics.median(times)
        rows.append({"inputs": n, "tokens": tokens, "server_embed_ms": ms, "tokens_per_s": tokens / ms * 1e3})
    return rows


def speed(client_factory, texts, args):
    """The three workloads, interleaved over args.rounds rounds (the machine is shared: a burst
    of someone else's work then lands on every workload, not on one). Percentiles pool all
    rounds; texts/s and tokens/s are the median over rounds."""
    c = client_factory()
    clients = [client_factory() for _ in range(args.concurrency)]
    single_requests(c, texts, 20, 0)  # warm-up: connections, allocator, caches
    concurrent_requests(clients, texts, 4 * args.concurrency, 0)
    r = args.rounds
    res = {"single": [], "concurrent": [], "batch": []}
    load = [os.getloadavg()[0]]
    for k in range(r):
        lat, server, tokens = single_requests(c, texts, args.latency_requests // r, k * 997)
        res["single"].append((lat, server, tokens, sum(lat) / 1e3))
        lat, tokens, wall = concurrent_requests(clients, texts, args.throughput_requests // r, k * 131)
        res["concurrent"].append((lat, [], tokens, wall))
        for j in range(args.batch_repeats // r):
            chunk = [texts[((k * 7 + j) * args.batch + i) % len(texts)] for i in range(args.batch)]
            t0 = time.perf_counter()
            _, embed_ms, tokens = c.embed(chunk)
            wall = time.perf_counter() - t0
            res["batch"].append(([wall * 1e3], [embed_ms], tokens, wall))
        load.append(os.getloadavg()[0])

    def summary(rows, texts_per_request):
        lat = [x for row in rows for x in row[0]]
        pairs = [(x, y) for row in rows for x, y in zip(row[0], row[1] or [None] * len(row[0]))]
        server = [x for row in rows for x in row[1] if x is not None]
        return {"requests": len(lat), "texts": len(lat) * texts_per_request,
                "p50_ms": percentile(lat, 50), "p90_ms": percentile(lat, 90), "p99_ms": percentile(lat, 99),
                "server_embed_p50_ms": statistics.median(server) if server else None,
                "texts_per_s": statistics.median(len(row[0]) * texts_per_request / row[3] for row in rows),
                "tokens_per_s": statistics.median(row[2] / row[3] for row in rows),
                "mean_tokens": sum(row[2] for row in rows) / (len(lat) * texts_per_request),
                "slowest_ms_and_server_ms": sorted(pairs, key=lambda p: -p[0])[:5]}

    return {"rounds": r, "load_average_1min": load, "sweep": batch_sweep(c, max(texts[:50], key=len)),
            "single": summary(res["single"], 1),
            "concurrent": {"concurrency": args.concurrency, **summary(res["concurrent"], 1)},
            "batch": {"inputs": args.batch, **summary(res["batch"], args.batch)}}


# ---------------------------------------------------------------------------------------------
# Report


def compare_tables(q, report):
    """Markdown tables: brisk's held-out numbers beside the training report's (transformers)."""
    lines = ["| metric | brisk (CPU, f32) | transformers (report) | difference |", "|---|---|---|---|"]
    for way, label in (("kjv_to_web", "KJV → WEB"), ("web_to_kjv", "WEB → KJV")):
        for m in ("top1", "top5", "mrr"):
            a, b = q["retrieval"][way][m], report["retrieval"][way][m]
            lines.append(f"| {label} {m} | {a:.4f} | {b:.4f} | {a - b:+.4f} |")
    sc = report["semantic_cache"]
    ref_default = next(r for r in sc["curve"] if abs(r["threshold"] - DEFAULT_THRESHOLD) < 1e-9)
    for m in ("precision", "recall", "f1"):
        a, b = q["at_default"][m], ref_default[m]
        lines.append(f"| cache {m} at {DEFAULT_THRESHOLD:.2f} | {a:.4f} | {b:.4f} | {a - b:+.4f} |")
    for m in ("tp", "fp"):
        a, b = q["at_default"][m], ref_default[m]
        lines.append(f"| cache {m} at {DEFAULT_THRESHOLD:.2f} | {a} | {b} | {a - b:+d} |")
    a, b = q["chosen"]["threshold"], sc["threshold"]
    lines.append(f"| lowest t with precision ≥ {sc['min_precision']} | {a:.2f} | {b:.2f} | {a - b:+.2f} |")
    for kind in ("positive", "adjacent", "lexical", "random"):
        a, b = q["by_kind"][kind]["mean_cosine"], sc["by_kind"][kind]["mean_cosine"]
        lines.append(f"| mean cosine, {kind} | {a:.5f} | {b:.5f} | {a - b:+.1e} |")
    ref = {r["threshold"]: r for r in sc["curve"]}
    dtp = max(abs(r["tp"] - ref[r["threshold"]]["tp"]) for r in q["curve"])
    dfp = max(abs(r["fp"] - ref[r["threshold"]]["fp"]) for r in q["curve"])
    lines.append(f"| largest tp / fp difference over t = 0.50 .. 0.99 | | | {dtp} / {dfp} |")
    curve = ["| t | precision | recall | F1 | tp | fp |", "|---|---|---|---|---|---|"]
    for r in q["curve"]:
        if round(r["threshold"] * 100) % 5 == 0 or abs(r["threshold"] - DEFAULT_THRESHOLD) < 1e-9:
            p = "–" if r["precision"] is None else f"{r['precision']:.4f}"
            curve.append(f"| {r['threshold']:.2f} | {p} | {r['recall']:.4f} | {r['f1']:.4f} | {r['tp']} | {r['fp']} |")
    return "\n".join(lines), "\n".join(curve), dtp, dfp


def speed_table(s):
    si, co, ba = s["single"], s["concurrent"], s["batch"]
    return "\n".join([
        "| workload | requests | texts/s | tokens/s | p50 ms | p99 ms | server embed p50 ms |",
        "|---|---|---|---|---|---|---|",
        f"| 1 verse per request, concurrency 1 | {si['requests']} | {si['texts_per_s']:.0f} | "
        f"{si['tokens_per_s']:,.0f} | {si['p50_ms']:.2f} | {si['p99_ms']:.2f} | {si['server_embed_p50_ms']:.2f} |",
        f"| 1 verse per request, concurrency {co['concurrency']} | {co['requests']} | "
        f"{co['texts_per_s']:.0f} | {co['tokens_per_s']:,.0f} | {co['p50_ms']:.2f} | {co['p99_ms']:.2f} | |",
        f"| {ba['inputs']} verses in one request | {ba['requests']} | {ba['texts_per_s']:.0f} | "
        f"{ba['tokens_per_s']:,.0f} | {ba['p50_ms']:.1f} | | {ba['server_embed_p50_ms']:.1f} |"])


def flops_per_token(config, mean_tokens):
    """Multiply-adds x 2 of one token through the encoder: the six matrices of each layer, plus
    attention scores and context over a sequence of mean_tokens."""
    h, i, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    return 2 * layers * (4 * h * h + 2 * h * i) + 4 * layers * h * mean_tokens


def write_results(path, args, q, s, tables, report):
    cmp_table, curve_table, dtp, dfp = tables
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    git = lambda *a: subprocess.run(["git", "-C", ROOT, *a], capture_output=True, text=True).stdout.strip()  # noqa: E731
    commit = git("rev-parse", "--short", "HEAD") + (" with uncommitted changes" if git("status", "--porcelain") else "")
    date = datetime.date.today().isoformat()
    config = json.load(open(os.path.join(args.model_dir, "config.json"), encoding="utf-8"))
    c, si, co, ba = q["counts"], s["single"], s["concurrent"], s["batch"]
    dmean = max(abs(q["by_kind"][k]["mean_cosine"] - report["semantic_cache"]["by_kind"][k]["mean_cosine"])
                for k in q["by_kind"])
    load = ", ".join(f"{x:.1f}" for x in s["load_average_1min"])
    sw = s["sweep"]
    fpt = flops_per_token(config, sw[0]["tokens"])
    peak = max(r["tokens_per_s"] for r in sw)
    sweep = "\n".join(["| inputs | tokens | server embed ms | tokens/s |", "|---|---|---|---|"] +
                      [f"| {r['inputs']} | {r['tokens']:,} | {r['server_embed_ms']:.2f} | {r['tokens_per_s']:,.0f} |"
                       for r in sw])
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"""# brisk-tiny-embed through `brisk serve` on the CPU ({date})

- machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; shared:
  1-minute load average {load} at the start and after each round
- commit: {commit}{args.build_info}
- command: `{args.command}` (server: `brisk serve --port 0 --threads {args.server_threads}
  --disable-response-cache --embedding-model models/brisk-tiny-embed`, embedding batches of at
  most 64 inputs, no queue delay; client: bench/embed/quality.py, Python standard library,
  keep-alive HTTP/1.1, `encoding_format` base64, on the same machine)

## Held-out quality, brisk against the training report

The held-out set is rebuilt with the training script's own functions: {c['heldout']} verses of
{len(report['heldout_books'])} books (train {c['train']}, validation {c['validation']}, paired
{c['paired']}: the report's counts), {q['cache_pair_kinds']['positive']} positives and
{sum(v for k, v in q['cache_pair_kinds'].items() if k != 'positive')} negatives
({', '.join(f'{v} {k}' for k, v in q['cache_pair_kinds'].items() if k != 'positive')}).
The {q['distinct_texts']} distinct texts ({q['mean_tokens']:.1f} tokens on average) were embedded
by brisk in requests of {args.batch} ({q['embed_seconds']:.1f} s in all); vector norms
{q['norm_range'][0]:.6f} .. {q['norm_range'][1]:.6f}. The report's numbers come from
transformers in fp32 on the same bf16 weights (on an H100).

{cmp_table}

Precision-recall of `cosine >= t` through brisk (every 0.05 and the default {DEFAULT_THRESHOLD:.2f}):

{curve_table}

## Embedding latency and throughput

{speed_table(s)}

Texts are held-out verses, KJV and WEB alternately. The three workloads ran interleaved in
{s['rounds']} rounds; percentiles pool the rounds, texts/s and tokens/s are the median round.
Latency is measured by the client from sending the request to having decoded the answer;
"server embed" is the server's own `embed` span (Server-Timing): the model forward of the batch,
without HTTP, JSON, tokenization and queueing.

## What limits these numbers

Quality: brisk and transformers agree to float rounding: at every threshold from 0.50 to 0.99
the true and false positives differ by at most {dtp} / {dfp} pairs, and the mean cosines by kind
by at most {dmean:.1e}.

Speed: the model costs about {fpt / 1e6:.1f} MFLOP per token (4 layers of 256 x 256 attention and
256 x 1,024 MLP matrices, plus attention). At concurrency 1,
{100 * si['server_embed_p50_ms'] / si['p50_ms']:.0f} % of the median latency is the model's
forward (server embed span), so HTTP, JSON and base64 cost little. The forward alone, on one
{sw[0]['tokens']}-token verse repeated n times in one request:

{sweep}

At best it reaches {peak / 1e3:.1f} k tokens/s ({peak * fpt / 1e9:.0f} GFLOP/s), {100 * peak * fpt / 190e9:.0f} % of
the 190-197 GFLOP/s that brisk's f32 GEMM reaches on Llama-sized matrices (m = 512, k >= 2,048)
on two cores of this machine kind (bench/results/2026-11-25-cpu-decode.md): here k and n are 256
or 1,024, and the elementwise ops (GELU, LayerNorm, residuals), the attention and the per-op
fork/join of the two threads weigh more against such small matrices (not broken down by this
run). One verse alone runs at {sw[0]['tokens_per_s'] / 1e3:.1f} k tokens/s. At concurrency
{co['concurrency']} the embedding engine batches the requests that arrive while a batch runs:
{co['tokens_per_s'] / 1e3:.1f} k tokens/s, at the price of a p50 latency of {co['p50_ms']:.0f} ms;
one request of {ba['inputs']} verses gets {ba['tokens_per_s'] / 1e3:.1f} k tokens/s.
The client, the server's HTTP threads and the two model threads share {os.cpu_count()} cores, and
other work on the machine (load average above) adds to the tails. No peer runs here
(transformers and PyTorch are not installed on the CPU machine), so these speed numbers are
absolute, for this machine only, and for comparison between brisk versions.
""")


def main():
    args = parse_args()
    report = json.load(open(os.path.join(args.model_dir, "training_report.json"), encoding="utf-8"))
    h = load_training_helpers(args.train_script)
    make_client = lambda: Client(args.url, args.model)  # noqa: E731
    client = make_client()
    heldout, q = quality(h, client, args, report)
    texts = [r["kjv"] if i % 2 == 0 else r["web"] for i, r in enumerate(heldout)]
    s = speed(make_client, texts, args)
    tables = compare_tables(q, report)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"quality": q, "speed": s}, f, indent=1)
    if args.results:
        write_results(args.results, args, q, s, tables, report)
        print("wrote", os.path.relpath(args.results, ROOT))
    print(tables[0])
    print()
    print(tables[1])
    print()
    print(speed_table(s))


if __name__ == "__main__":
    main()
