#!/usr/bin/env python3
# Black-box end-to-end checks of the response caches and /v1/embeddings of `brisk serve`:
# an exact hit returns the identical answer (JSON and SSE), the x-brisk-cache controls, what is
# and is not cached, tenant isolation (exact and semantic), persistence across a restart and a
# kill -9 (RocksDB), a cache shared by two replicas (Redis), the embeddings endpoint on the demo
# embedder (shapes, norms, base64, dimensions, batching, errors) and semantic hits on held-out
# paraphrases. Usage: cache_test.py BRISK_BINARY SOURCE_DIR. Standard library only; every server
# and Redis started here is stopped by PID in a finally.
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the sources

import base64  # noqa: E402 - after the line above
import json
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import traceback

import serve_harness
from serve_harness import run_step, summary
from serve_harness import (CHECKS, MODEL, KeyedServer, Server, chat_body, free_port, metric,
                           metrics_of, parallel, post, request, stream, joined_stream, text_of)

EMBED = "brisk-tiny-embed"

# Held-out verses (books the demo embedder never saw in training) in the King James Bible and
# the World English Bible: the same meaning in other words.
PARAPHRASES = [
    ("Whither thou goest, I will go; and where thou lodgest, I will lodge: thy people shall be my "
     "people, and thy God my God:",
     "where you go, I will go; and where you stay, I will stay. Your people will be my people, "
     "and your God my God."),  # Ruth 1:16, in part
    ("Now the LORD had prepared a great fish to swallow up Jonah. And Jonah was in the belly of "
     "the fish three days and three nights.",
     "Yahweh prepared a huge fish to swallow up Jonah, and Jonah was in the belly of the fish "
     "three days and three nights."),  # Jonah 1:17
    ("Mercy unto you, and peace, and love, be multiplied.",
     "May mercy, peace, and love be multiplied to you."),  # Jude 1:2
    ("Although the fig tree shall not blossom, neither shall fruit be in the vines; the labour of "
     "the olive shall fail, and the fields shall yield no meat;",
     "For even though the fig tree doesn't flourish, nor fruit be in the vines, the labor of the "
     "olive fails, the fields yield no food,"),  # Habakkuk 3:17, in part
]
UNRELATED = "How many kilobytes of memory does the hacker's terminal need to boot?"


def without_ids(body):
    """The response without the per-response fields a replay rewrites."""
    return {k: v for k, v in body.items() if k not in ("id", "created")}


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


# ---------------------------------------------------------------------------------------------
# Exact cache


def test_exact_hits(s):
    body = chat_body("Tell me about the weather in Meryton.", max_tokens=24, temperature=0)
    status, first, h1 = post(s, "/v1/chat/completions", body)
    CHECKS.equal("exact: the first request is a miss", (status, h1.get("x-brisk-cache")),
                 (200, "miss"))
    t0 = time.monotonic()
    status, second, h2 = post(s, "/v1/chat/completions", body)
    hit_s = time.monotonic() - t0
    CHECKS.equal("exact: the repeat is a hit from memory",
                 (status, h2.get("x-brisk-cache"), h2.get("x-brisk-cache-tier"),
                  h2.get("x-brisk-cache-store")), (200, "hit", "exact", "memory"))
    CHECKS.equal("exact: a hit returns the identical answer", without_ids(second),
                 without_ids(first))
    CHECKS.check("exact: a hit has its own id", second["id"] != first["id"] and
                 second["id"].startswith("chatcmpl-"), second["id"])
    CHECKS.check("exact: Server-Timing of a hit names the cache",
                 "cache;dur=" in h2.get("server-timing", ""), h2.get("server-timing"))
    CHECKS.check("exact: a hit answers within 50 ms", hit_s < 0.05, f"{hit_s * 1e3:.1f} ms")

    # The same request streamed: the SSE replay carries the same text, finish and usage.
    st, chunks, done, hs = stream(s, "/v1/chat/completions",
                                  {**body, "stream": True,
                                   "stream_options": {"include_usage": True}})
    text, finish, usage = joined_stream(chunks, chat=True)
    CHECKS.equal("exact: a streamed hit is a hit", hs.get("x-brisk-cache"), "hit")
    CHECKS.check("exact: a streamed hit replays text, finish reason and usage",
                 st == 200 and done and text == text_of(first) and
                 finish == first["choices"][0]["finish_reason"] and usage == first["usage"],
                 f"{text!r} {finish} {usage}")
    CHECKS.check("exact: a streamed hit opens with the assistant role",
                 chunks[0]["choices"][0]["delta"].get("role") == "assistant", chunks[:1])
    st, chunks, done, hs = stream(s, "/v1/chat/completions", {**body, "stream": True})
    CHECKS.check("exact: without include_usage the replay has no usage chunk",
                 done and all(c["choices"] for c in chunks), chunks[-1:])

    # Completions, and a stream recorded first then replayed as JSON.
    cbody = {"model": MODEL, "prompt": "It is a truth universally", "max_tokens": 12,
             "temperature": 0, "logprobs": 2}
    st, chunks, done, hs = stream(s, "/v1/completions", {**cbody, "stream": True})
    ctext, _, _ = joined_stream(chunks, chat=False)
    status, cjson, hc = post(s, "/v1/completions", cbody)
    CHECKS.check("exact: a streamed answer is recorded and replays as JSON with logprobs",
                 hs.get("x-brisk-cache") == "miss" and hc.get("x-brisk-cache") == "hit" and
                 cjson["choices"][0]["text"] == ctext and
                 len(cjson["choices"][0]["logprobs"]["tokens"]) > 0,
                 f"{hs.get('x-brisk-cache')} {hc.get('x-brisk-cache')}")


def test_exact_controls(s):
    body = chat_body("Which is the way to Longbourn?", max_tokens=16, temperature=0)
    post(s, "/v1/chat/completions", body)
    _, _, h = post(s, "/v1/chat/completions", body, headers={"x-brisk-cache": "skip"})
    CHECKS.equal("controls: skip computes without looking up", h.get("x-brisk-cache"), "skip")
    _, _, h = post(s, "/v1/chat/completions", body, headers={"x-brisk-cache": "refresh"})
    CHECKS.equal("controls: refresh computes and records", h.get("x-brisk-cache"), "miss")
    _, _, h = post(s, "/v1/chat/completions", body, headers={"x-brisk-cache": "only"})
    CHECKS.equal("controls: only answers a stored request", h.get("x-brisk-cache"), "hit")
    status, r, _ = post(s, "/v1/chat/completions",
                        chat_body("never asked before", max_tokens=4, temperature=0),
                        headers={"x-brisk-cache": "only"})
    CHECKS.check("controls: only without a stored answer is 504 cache_miss",
                 status == 504 and r["error"]["code"] == "cache_miss", f"{status} {r}")
    status, r, _ = post(s, "/v1/chat/completions", body, headers={"x-brisk-cache": "always"})
    CHECKS.check("controls: an unknown value is 400 naming the allowed ones",
                 status == 400 and "skip, refresh, only or no-semantic" in r["error"]["message"], r)

    sampled = chat_body("Sample me a word.", max_tokens=4, temperature=1.0)
    _, _, h1 = post(s, "/v1/chat/completions", sampled)
    _, _, h2 = post(s, "/v1/chat/completions", sampled)
    CHECKS.equal("policy: sampled requests without a seed bypass the cache",
                 (h1.get("x-brisk-cache"), h2.get("x-brisk-cache")), ("bypass", "bypass"))
    seeded = {**sampled, "seed": 7}
    _, r1, _ = post(s, "/v1/chat/completions", seeded)
    _, r2, h = post(s, "/v1/chat/completions", seeded)
    CHECKS.check("policy: seeded requests are cached", h.get("x-brisk-cache") == "hit" and
                 text_of(r1) == text_of(r2), h.get("x-brisk-cache"))
    _, _, h = post(s, "/v1/chat/completions", {**seeded, "seed": 8})
    CHECKS.equal("policy: another seed is another answer", h.get("x-brisk-cache"), "miss")
    _, _, h = post(s, "/v1/chat/completions", {**body, "max_tokens": 15})
    CHECKS.equal("policy: another max_tokens is another answer", h.get("x-brisk-cache"), "miss")
    _, _, h = post(s, "/v1/chat/completions", {**body, "user": "someone-else"})
    CHECKS.equal("policy: the user field does not change the answer", h.get("x-brisk-cache"),
                 "hit")

    text = metrics_of(s)
    hits = metric(text, "brisk_response_cache_lookups_total", tier="exact", result="hit")
    misses = metric(text, "brisk_response_cache_lookups_total", tier="exact", result="miss")
    saved = metric(text, "brisk_response_cache_saved_tokens_total", tier="exact")
    CHECKS.check("metrics: exact hits, misses and saved tokens are counted",
                 hits >= 5 and misses >= 3 and saved > 0, f"{hits} {misses} {saved}")
    CHECKS.check("metrics: lookup latency histogram per tier",
                 metric(text, "brisk_response_cache_lookup_seconds_count", tier="exact") ==
                 hits + misses, "")


def test_tenants(binary, src):
    with tempfile.TemporaryDirectory() as tmp:
        key_file = os.path.join(tmp, "keys.txt")
        with open(key_file, "w") as f:
            f.write("sk-tenant-a-123 acme\nsk-tenant-b-456 globex\nsk-tenant-c-789 initech\n")
        with KeyedServer(binary, src, key_file, "sk-tenant-a-123", "--semantic-cache",
                         engine_only=False) as s:
            a = {"Authorization": "Bearer sk-tenant-a-123"}
            b = {"Authorization": "Bearer sk-tenant-b-456"}
            body = chat_body(PARAPHRASES[0][0], max_tokens=8, temperature=0)
            post(s, "/v1/chat/completions", body, headers=a)
            _, _, ha = post(s, "/v1/chat/completions", body, headers=a)
            _, _, hb = post(s, "/v1/chat/completions", body, headers=b)
            CHECKS.equal("tenants: the same tenant hits", ha.get("x-brisk-cache"), "hit")
            CHECKS.equal("tenants: another tenant never gets the first one's answer "
                         "(same request, exact and semantic tiers)", hb.get("x-brisk-cache"),
                         "miss")
            # Tenant C has cached nothing: neither tier may answer it from A's or B's entries.
            c_key = {"Authorization": "Bearer sk-tenant-c-789"}
            for text in PARAPHRASES[0]:
                st, r, h = post(s, "/v1/chat/completions",
                                chat_body(text, max_tokens=8, temperature=0),
                                headers={**c_key, "x-brisk-cache": "only"})
                CHECKS.check("tenants: a third tenant gets no cached answer for the text or its "
                             "paraphrase (504 with x-brisk-cache: only)",
                             st == 504 and r["error"]["code"] == "cache_miss", f"{st} {h}")


# ---------------------------------------------------------------------------------------------
# Persistent and shared stores


def test_rocksdb_survives_kill(binary, src):
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = os.path.join(tmp, "cache")
        bodies = [chat_body(f"Persist answer number {i}.", max_tokens=12, temperature=0)
                  for i in range(6)]
        s = Server(binary, src, "--cache-dir", cache_dir, "--no-embedding-model",
                   engine_only=False).start()
        try:
            answers = [post(s, "/v1/chat/completions", b)[1] for b in bodies]
            s.proc.send_signal(signal.SIGKILL)  # no shutdown: only what was committed counts
            s.proc.wait()
        finally:
            s.stop()
        s = Server(binary, src, "--cache-dir", cache_dir, "--no-embedding-model",
                   engine_only=False).start()
        try:
            replies = [post(s, "/v1/chat/completions", b, headers={"x-brisk-cache": "only"})
                       for b in bodies]
            CHECKS.check("rocksdb: every answer survives kill -9 and is served from disk",
                         all(st == 200 and h.get("x-brisk-cache-store") == "rocksdb"
                             for st, _, h in replies), [(st, h.get("x-brisk-cache-store"))
                                                        for st, _, h in replies])
            CHECKS.check("rocksdb: the answers are identical after the restart",
                         all(r is not None and without_ids(r) == without_ids(a)
                             for (_, r, _), a in zip(replies, answers)), "")
            _, _, h = post(s, "/v1/chat/completions", bodies[0])
            CHECKS.equal("rocksdb: a disk hit is promoted into memory",
                         h.get("x-brisk-cache-store"), "memory")
        finally:
            CHECKS.equal("rocksdb: the server exits 0 on SIGTERM", s.stop(), 0)


class Redis:
    def __init__(self):
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket_to(self.port) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def socket_to(port):
    return socket.create_connection(("127.0.0.1", port), timeout=2)


def test_redis_shared(binary, src):
    if shutil.which("redis-server") is None:
        CHECKS.skip("redis: a cache shared by two replicas", "redis-server is not installed")
        return
    redis = Redis().start()
    a = b = None
    try:
        flags = ["--cache-redis", f"127.0.0.1:{redis.port}", "--no-embedding-model"]
        a = Server(binary, src, *flags, engine_only=False).start()
        b = Server(binary, src, *flags, engine_only=False).start()
        body = chat_body("Shared between replicas.", max_tokens=10, temperature=0)
        _, ra, _ = post(a, "/v1/chat/completions", body)
        st, rb, hb = post(b, "/v1/chat/completions", body, headers={"x-brisk-cache": "only"})
        CHECKS.check("redis: replica B serves replica A's answer from Redis",
                     st == 200 and hb.get("x-brisk-cache-store") == "redis" and
                     without_ids(rb) == without_ids(ra), f"{st} {hb}")
        redis.stop()
        st, _, h = post(b, "/v1/chat/completions",
                        chat_body("Redis is down now.", max_tokens=4, temperature=0))
        CHECKS.check("redis: with Redis down requests still succeed (a miss)",
                     st == 200 and h.get("x-brisk-cache") == "miss", f"{st} {h}")
    finally:
        for s in (a, b):
            if s:
                s.stop()
        redis.stop()


# ---------------------------------------------------------------------------------------------
# Embeddings and the semantic cache


def embed(s, inputs, **kw):
    return post(s, "/v1/embeddings", {"model": EMBED, "input": inputs, **kw})


def test_embeddings(s):
    status, r, h = embed(s, ["In the beginning", PARAPHRASES[1][0]])
    CHECKS.check("embeddings: two inputs give two vectors",
                 status == 200 and r["object"] == "list" and len(r["data"]) == 2 and
                 r["model"] == EMBED, f"{status} {str(r)[:200]}")
    dims = len(r["data"][0]["embedding"])
    norms = [math.sqrt(sum(x * x for x in d["embedding"])) for d in r["data"]]
    CHECKS.check("embeddings: vectors are unit length", all(abs(n - 1) < 1e-4 for n in norms),
                 norms)
    CHECKS.check("embeddings: usage counts the tokens", r["usage"]["prompt_tokens"] > 2 and
                 r["usage"]["total_tokens"] == r["usage"]["prompt_tokens"], r["usage"])
    _, single, _ = embed(s, "In the beginning")
    CHECKS.check("embeddings: a text alone or in a batch gets the same vector",
                 max(abs(x - y) for x, y in zip(single["data"][0]["embedding"],
                                                r["data"][0]["embedding"])) < 1e-5, "")
    _, b64, _ = embed(s, "In the beginning", encoding_format="base64")
    raw = base64.b64decode(b64["data"][0]["embedding"])
    CHECKS.equal("embeddings: base64 holds the same little-endian floats",
                 list(struct.unpack(f"<{len(raw) // 4}f", raw)),
                 [struct.unpack("<f", struct.pack("<f", x))[0]
                  for x in single["data"][0]["embedding"]])
    _, small, _ = embed(s, "In the beginning", dimensions=32)
    v = small["data"][0]["embedding"]
    full = single["data"][0]["embedding"][:32]
    scale = math.sqrt(sum(x * x for x in full))
    CHECKS.check("embeddings: dimensions truncates and renormalizes",
                 len(v) == 32 and max(abs(x - y / scale) for x, y in zip(v, full)) < 1e-5, "")
    status, err, _ = embed(s, "x", dimensions=dims + 1)
    CHECKS.check("embeddings: more dimensions than the model has is 400",
                 status == 400 and err["error"]["param"] == "dimensions", err)
    status, err, _ = post(s, "/v1/embeddings", {"model": MODEL, "input": "x"})
    CHECKS.check("embeddings: a text generation model is refused with 400",
                 status == 400 and "does not produce embeddings" in err["error"]["message"], err)
    status, err, _ = post(s, "/v1/embeddings", {"model": "nope", "input": "x"})
    CHECKS.equal("embeddings: an unknown model is 404", status, 404)
    status, err, _ = embed(s, "word " * 400)
    CHECKS.check("embeddings: an input over the model's context is 400 naming the limit",
                 status == 400 and err["error"]["code"] == "context_length_exceeded", err)
    status, err, _ = embed(s, [[1, 2, 999999]])
    CHECKS.check("embeddings: an out-of-vocabulary id is 400", status == 400, err)
    # Concurrent requests share batches and still get their own vectors.
    texts = [f"Verse number {i} of the book." for i in range(24)]
    alone = [embed(s, t)[1]["data"][0]["embedding"] for t in texts]
    together = parallel(lambda t: embed(s, t)[1]["data"][0]["embedding"], texts, 8)
    CHECKS.check("embeddings: 24 concurrent requests match their sequential vectors",
                 all(max(abs(x - y) for x, y in zip(a, b)) < 1e-5
                     for a, b in zip(alone, together)), "")
    status, _, body = request(s, "GET", "/v1/models")
    CHECKS.check("embeddings: /v1/models lists the embedder",
                 EMBED in [m["id"] for m in json.loads(body)["data"]], body[:300])


def test_semantic(binary, src):
    with Server(binary, src, "--semantic-cache", engine_only=False) as s:
        sims = []
        for kjv, web in PARAPHRASES:
            _, r, _ = embed(s, [kjv, web])
            sims.append(cosine(r["data"][0]["embedding"], r["data"][1]["embedding"]))
        _, r, _ = embed(s, [PARAPHRASES[0][0], UNRELATED])
        unrelated_sim = cosine(r["data"][0]["embedding"], r["data"][1]["embedding"])
        threshold = float(re.search(r"threshold ([0-9.]+)", s.tail()).group(1))
        hits = 0
        for (kjv, web), sim in zip(PARAPHRASES, sims):
            post(s, "/v1/chat/completions", chat_body(kjv, max_tokens=8, temperature=0))
            _, r, h = post(s, "/v1/chat/completions", chat_body(web, max_tokens=8, temperature=0))
            expect_hit = sim >= threshold
            got_hit = h.get("x-brisk-cache") == "hit" and h.get("x-brisk-cache-tier") == "semantic"
            hits += got_hit
            CHECKS.check(f"semantic: a paraphrase at similarity {sim:.3f} is "
                         f"{'a hit' if expect_hit else 'a miss'} (threshold {threshold})",
                         got_hit == expect_hit, str(h))
            if got_hit:
                CHECKS.check("semantic: the hit reports the similarity",
                             abs(float(h.get("x-brisk-cache-similarity", "nan")) - sim) < 2e-3,
                             f"{h.get('x-brisk-cache-similarity')} vs {sim:.4f}")
        CHECKS.check("semantic: at least half of the held-out paraphrases hit",
                     hits * 2 >= len(PARAPHRASES), f"{hits} of {len(PARAPHRASES)}: {sims}")
        kjv, web = PARAPHRASES[2]
        _, _, h = post(s, "/v1/chat/completions", chat_body(web + " ", max_tokens=8,
                                                            temperature=0),
                       headers={"x-brisk-cache": "no-semantic"})
        CHECKS.equal("semantic: x-brisk-cache: no-semantic keeps a paraphrase from matching",
                     h.get("x-brisk-cache"), "miss")
        _, _, h = post(s, "/v1/chat/completions", chat_body(UNRELATED, max_tokens=8,
                                                            temperature=0))
        CHECKS.check(f"semantic: an unrelated question (similarity {unrelated_sim:.3f}) misses",
                     h.get("x-brisk-cache") == "miss", str(h))
        sys_body = {"model": MODEL, "temperature": 0, "max_tokens": 8,
                    "messages": [{"role": "system", "content": "Answer as a pirate."},
                                 {"role": "user", "content": PARAPHRASES[0][1]}]}
        _, _, h = post(s, "/v1/chat/completions", sys_body)
        CHECKS.equal("semantic: another system prompt is another namespace",
                     h.get("x-brisk-cache"), "miss")
        text = metrics_of(s)
        CHECKS.check("semantic: hits and embedding time are in /metrics",
                     metric(text, "brisk_response_cache_lookups_total", tier="semantic",
                            result="hit") == hits and
                     metric(text, "brisk_semantic_cache_embed_seconds_count") > 0, "")


def main():
    if len(sys.argv) < 3:
        print("usage: cache_test.py BRISK_BINARY SOURCE_DIR [SERVER_FLAG...]", file=sys.stderr)
        return 2
    binary, src = sys.argv[1], sys.argv[2]
    serve_harness.SERVER_FLAGS.extend(sys.argv[3:])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    t0 = time.monotonic()
    main_server = Server(binary, src, engine_only=False)
    try:
        main_server.start()
        for name, fn in [("exact hits", test_exact_hits), ("controls", test_exact_controls),
                         ("embeddings", test_embeddings)]:
            run_step(name, fn, main_server)
        CHECKS.check("main server survived every scenario", main_server.alive(),
                     main_server.tail())
        CHECKS.equal("main server exits 0 on SIGTERM", main_server.stop(), 0)
        run_step("semantic", test_semantic, binary, src)
        run_step("tenants", test_tenants, binary, src)
        run_step("rocksdb", test_rocksdb_survives_kill, binary, src)
        run_step("redis", test_redis_shared, binary, src)
    except Exception:  # noqa: BLE001
        CHECKS.check("test driver", False, traceback.format_exc() + "\n" + main_server.tail())
    finally:
        main_server.stop()
    return summary(t0)


if __name__ == "__main__":
    sys.exit(main())
