#!/usr/bin/env python3
# Black-box end-to-end checks of `brisk serve` on the demo model: the invariants a client relies
# on (stream equals non-stream, seeds reproduce, greedy output is independent of batching and of
# the prefix cache, cancelled requests free their KV blocks, every bad input gets its 4xx and the
# server stays up, API keys, metrics, stop strings, logprobs) plus a bounded load test.
# Usage: serve_test.py BRISK_BINARY SOURCE_DIR. Standard library only; one line per check, a
# summary, exit status 1 on any failure. Every server started here is stopped in a finally.
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the sources

import http.client  # noqa: E402 - after the line above
import json
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import traceback

from serve_dedicated import (test_api_keys, test_two_models, test_body_limit, test_preemption, test_queue_limit,
                             test_small_budget_server)
import serve_harness
from serve_harness import run_step, summary
from serve_harness import (BLOCK, CHECKS, MODEL, VOCAB, Server, chat_body, greedy_ids_requests,
                           ids_prompt, joined_stream, metric, metrics_of, parallel, post,
                           preemption_requests, raw_post_bytes, raw_socket, request, stream,
                           text_of, wait_idle)

# ---------------------------------------------------------------------------------------------
# Scenarios on the default server


def test_health_models_headers(s):
    status, _, body = request(s, "GET", "/health")
    CHECKS.equal("GET /health is 200", status, 200)
    status, _, body = request(s, "GET", "/ready")
    CHECKS.equal("GET /ready is 200 once ready", status, 200)
    status, _, body = request(s, "GET", "/v1/models")
    models = json.loads(body)
    CHECKS.check("GET /v1/models lists brisk-tiny",
                 status == 200 and models["object"] == "list" and
                 [m["id"] for m in models["data"]] == [MODEL], body[:200])
    status, _, body = request(s, "GET", f"/v1/models/{MODEL}")
    CHECKS.check("GET /v1/models/brisk-tiny is its card",
                 status == 200 and json.loads(body)["id"] == MODEL, body[:200])
    status, r, h = post(s, "/v1/completions",
                        {"model": MODEL, "prompt": "Once upon a time", "max_tokens": 8,
                         "temperature": 0}, headers={"X-Request-Id": "e2e-req-42"})
    CHECKS.equal("completion answers 200", status, 200)
    timing = h.get("server-timing", "")
    CHECKS.check("Server-Timing names queue, prefill and decode",
                 all(re.search(rf"\b{k};dur=[0-9.]+", timing) for k in ("queue", "prefill",
                                                                        "decode")), timing)
    CHECKS.equal("X-Request-Id echoes the client's", h.get("x-request-id"), "e2e-req-42")
    status, _, h = post(s, "/v1/completions",
                        {"model": MODEL, "prompt": "Hi", "max_tokens": 2})
    CHECKS.check("X-Request-Id is generated when not given", bool(h.get("x-request-id")),
                 str(h))


def test_stream_equals_nonstream(s):
    prompts = ["Tell me a story about a cat.", "What is the capital of France?"]
    for i, p in enumerate(prompts):
        body = chat_body(p, max_tokens=32, temperature=0)
        status, full, _ = post(s, "/v1/chat/completions", body)
        st, chunks, done, _ = stream(s, "/v1/chat/completions",
                                     {**body, "stream": True,
                                      "stream_options": {"include_usage": True}})
        text, finish, usage = joined_stream(chunks, chat=True)
        CHECKS.check(f"chat stream == non-stream: text [{i}]",
                     status == 200 and st == 200 and text == text_of(full),
                     f"stream {text!r} vs {full and text_of(full)!r}")
        CHECKS.equal(f"chat stream == non-stream: finish_reason [{i}]", finish,
                     full["choices"][0]["finish_reason"])
        CHECKS.equal(f"chat stream == non-stream: usage [{i}]", usage, full["usage"])
        CHECKS.check(f"chat stream ends with [DONE] and a choices-less usage chunk [{i}]",
                     done and chunks[-1]["choices"] == [] and
                     chunks[0]["choices"][0]["delta"].get("role") == "assistant",
                     json.dumps(chunks[-1])[:200])
    rng = random.Random(7)
    for i, prompt in enumerate(["The old man and the sea", ids_prompt(rng, 40)]):
        body = {"model": MODEL, "prompt": prompt, "max_tokens": 32, "temperature": 0}
        status, full, _ = post(s, "/v1/completions", body)
        # Asked twice so that the stream, asked next, finds the same prefix-cache state.
        full = post(s, "/v1/completions", body)[1]
        st, chunks, done, _ = stream(s, "/v1/completions",
                                     {**body, "stream": True,
                                      "stream_options": {"include_usage": True}})
        text, finish, usage = joined_stream(chunks, chat=False)
        CHECKS.check(f"completion stream == non-stream: text [{i}]",
                     status == 200 and st == 200 and done and text == text_of(full),
                     f"stream {text!r} vs {full and text_of(full)!r}")
        CHECKS.equal(f"completion stream == non-stream: finish_reason [{i}]", finish,
                     full["choices"][0]["finish_reason"])
        CHECKS.equal(f"completion stream == non-stream: usage [{i}]", usage, full["usage"])
    # Sampled with a seed at a high temperature (odd byte-level tokens): the same either way.
    for seed in range(3):
        body = {"model": MODEL, "prompt": ids_prompt(rng, 30), "max_tokens": 32,
                "temperature": 1.5, "seed": seed}
        full = post(s, "/v1/completions", body)[1]
        st, chunks, done, _ = stream(s, "/v1/completions", {**body, "stream": True})
        text, finish, _ = joined_stream(chunks, chat=False)
        CHECKS.check(f"seeded sampled stream == non-stream [{seed}]",
                     text == text_of(full) and finish == full["choices"][0]["finish_reason"],
                     f"stream {text!r} vs {text_of(full)!r}")
    # n = 2: each choice's streamed text equals its non-streamed text.
    body = {"model": MODEL, "prompt": "Once", "max_tokens": 16, "temperature": 1.0, "seed": 3,
            "n": 2, "ignore_eos": True}
    full = post(s, "/v1/completions", body)[1]
    st, chunks, done, _ = stream(s, "/v1/completions",
                                 {**body, "stream": True, "stream_options": {"include_usage": True}})
    texts = {0: "", 1: ""}
    for ch in chunks:
        for c in ch["choices"]:
            texts[c["index"]] += c.get("text") or ""
    CHECKS.check("n=2 stream == non-stream per choice, usage equal",
                 [c["text"] for c in sorted(full["choices"], key=lambda c: c["index"])] ==
                 [texts[0], texts[1]] and chunks[-1].get("usage") == full["usage"],
                 f"{texts} vs {full['choices']}")
    # Without include_usage no chunk carries usage.
    st, chunks, done, _ = stream(s, "/v1/completions",
                                 {"model": MODEL, "prompt": "abc", "max_tokens": 4,
                                  "stream": True})
    CHECKS.check("stream without include_usage carries no usage",
                 st == 200 and done and all(not ch.get("usage") for ch in chunks),
                 json.dumps(chunks)[:300])


def test_seeds(s):
    prompts = ["Write a poem about rain.", "List three colors.", "Describe a mountain."]
    differs = False
    for i, p in enumerate(prompts):
        body = chat_body(p, max_tokens=24, temperature=0.8, seed=1234)
        a = post(s, "/v1/chat/completions", body)[1]
        b = post(s, "/v1/chat/completions", body)[1]
        c = post(s, "/v1/chat/completions", {**body, "seed": 99})[1]
        CHECKS.equal(f"same seed, same sampled text [{i}]", text_of(a), text_of(b))
        differs = differs or text_of(a) != text_of(c)
    CHECKS.check("a different seed changes the sampled text of some prompt", differs)
    # n choices of a seeded request differ from each other and are reproducible.
    body = {"model": MODEL, "prompt": "In the beginning", "max_tokens": 16, "temperature": 1.0,
            "seed": 5, "n": 3, "ignore_eos": True}
    a = post(s, "/v1/completions", body)[1]
    b = post(s, "/v1/completions", body)[1]
    texts = [c["text"] for c in sorted(a["choices"], key=lambda c: c["index"])]
    CHECKS.check("n=3 with a seed: 3 choices, reproducible",
                 len(texts) == 3 and
                 texts == [c["text"] for c in sorted(b["choices"], key=lambda c: c["index"])],
                 json.dumps(a)[:300])
    CHECKS.check("n=3 with a seed: choices are not all equal", len(set(texts)) > 1, str(texts))
    CHECKS.equal("n=3: completion_tokens sums the choices", a["usage"]["completion_tokens"], 48)


def test_batch_invariance(s):
    rng = random.Random(3)
    target = {"model": MODEL, "prompt": ids_prompt(rng, 60), "max_tokens": 32, "temperature": 0,
              "ignore_eos": True}
    alone = post(s, "/v1/completions", target)[1]
    others = [{"model": MODEL, "prompt": ids_prompt(rng, 10 + 13 * k), "max_tokens": 48,
               "temperature": 0, "ignore_eos": True} for k in range(15)]
    barrier = threading.Barrier(16)

    def send(body):
        barrier.wait()
        return post(s, "/v1/completions", body)

    results = parallel(send, [target] + others, 16)
    together = results[0]
    CHECKS.check("greedy text alone == with 15 concurrent requests",
                 not isinstance(together, Exception) and together[0] == 200 and
                 text_of(together[1]) == text_of(alone),
                 f"{together!r:.300}")
    CHECKS.check("the 15 concurrent requests all answer 200",
                 all(not isinstance(r, Exception) and r[0] == 200 for r in results[1:]))
    # A chat prompt too.
    body = chat_body("Explain batching in one sentence.", max_tokens=32, temperature=0)
    alone = post(s, "/v1/chat/completions", body)[1]
    results = parallel(lambda b: post(s, "/v1/chat/completions", b),
                       [body] + [chat_body(f"Question number {k}?", max_tokens=40,
                                           temperature=0) for k in range(15)], 16)
    CHECKS.check("greedy chat text alone == with 15 concurrent chats",
                 not isinstance(results[0], Exception) and
                 text_of(results[0][1]) == text_of(alone), f"{results[0]!r:.300}")


def test_prefix_cache(s):
    rng = random.Random(2024)
    body = {"model": MODEL, "prompt": ids_prompt(rng, 203), "max_tokens": 24, "temperature": 0,
            "ignore_eos": True}
    status1, first, _ = post(s, "/v1/completions", body)
    status2, second, _ = post(s, "/v1/completions", body)
    c1 = first["usage"].get("prompt_tokens_details", {}).get("cached_tokens")
    c2 = second["usage"].get("prompt_tokens_details", {}).get("cached_tokens")
    CHECKS.equal("prefix miss: cached_tokens is 0", c1, 0)
    CHECKS.check("prefix hit: cached_tokens > 0 and a multiple of 16",
                 isinstance(c2, int) and c2 > 0 and c2 % BLOCK == 0 and c2 <= 203, str(c2))
    CHECKS.equal("prefix hit gives the same greedy text", text_of(second), text_of(first))
    CHECKS.equal("prefix hit: prompt_tokens unchanged", second["usage"]["prompt_tokens"], 203)
    # Chat: the same long conversation twice.
    long_msg = " ".join(f"word{k}" for k in range(120))
    cb = chat_body(long_msg, max_tokens=16, temperature=0)
    a = post(s, "/v1/chat/completions", cb)[1]
    b = post(s, "/v1/chat/completions", cb)[1]
    CHECKS.check("chat prefix hit: same text, cached_tokens > 0",
                 text_of(a) == text_of(b) and
                 b["usage"]["prompt_tokens_details"]["cached_tokens"] > 0,
                 f"{a['usage']} / {b['usage']}")
    text = metrics_of(s)
    CHECKS.check("brisk_cached_prompt_tokens_total counts the hits",
                 metric(text, "brisk_cached_prompt_tokens_total") >= c2, str(c2))


def test_parallel_usage(s):
    rng = random.Random(64)
    bodies = [{"model": MODEL, "prompt": ids_prompt(rng, rng.randrange(1, 120)),
               "max_tokens": rng.randrange(1, 17), "temperature": 0, "ignore_eos": True}
              for _ in range(64)]
    barrier = threading.Barrier(64)

    def send(body):
        barrier.wait()
        return post(s, "/v1/completions", body)

    results = parallel(send, bodies, 64)
    bad = []
    for body, r in zip(bodies, results):
        if isinstance(r, Exception) or r[0] != 200:
            bad.append(repr(r)[:200])
            continue
        u = r[1]["usage"]
        if (u["prompt_tokens"] != len(body["prompt"]) or
                u["completion_tokens"] != body["max_tokens"] or
                u["total_tokens"] != u["prompt_tokens"] + u["completion_tokens"] or
                r[1]["choices"][0]["finish_reason"] != "length"):
            bad.append(f"{len(body['prompt'])}+{body['max_tokens']}: {u}")
    CHECKS.check("64 parallel requests: all 200 with exact usage", not bad, "; ".join(bad[:5]))
    ok, _ = wait_idle(s)
    CHECKS.check("64 parallel requests: KV blocks back to 0", ok)


def test_cancel_frees_blocks(s):
    before = metric(metrics_of(s), "brisk_requests_total", model=MODEL, finish_reason="abort")
    sock = raw_socket(s)
    try:
        sock.sendall(raw_post_bytes("/v1/completions",
                                    {"model": MODEL, "prompt": "A very long story:",
                                     "max_tokens": 1500, "ignore_eos": True, "stream": True}))
        got = b""
        while got.count(b"data: ") < 4:
            piece = sock.recv(4096)
            if not piece:
                break
            got += piece
        CHECKS.check("long stream sends chunks", got.count(b"data: ") >= 4, got[:200])
        running = metric(metrics_of(s), "brisk_num_requests_running")
        CHECKS.check("the long stream is running before the disconnect", running >= 1,
                     str(running))
    finally:
        sock.close()
    ok, text = wait_idle(s, 5.0)
    CHECKS.check("cancelled stream: KV blocks used and running go to 0 within 5 s", ok,
                 f"kv_used={metric(text, 'brisk_kv_blocks_used', model=MODEL)} "
                 f"running={metric(text, 'brisk_num_requests_running')}")
    deadline = time.monotonic() + 5
    after = before
    while time.monotonic() < deadline and after <= before:
        after = metric(metrics_of(s), "brisk_requests_total", model=MODEL, finish_reason="abort")
        time.sleep(0.05)
    CHECKS.check("cancelled stream: brisk_requests_total{finish_reason=abort} went up",
                 after > before, f"{before} -> {after}")
    # A non-streaming request whose client leaves is aborted too.
    before = metric(metrics_of(s), "brisk_requests_total", model=MODEL, finish_reason="abort")
    sock = raw_socket(s)
    sock.sendall(raw_post_bytes("/v1/completions",
                                {"model": MODEL, "prompt": "Another long story:",
                                 "max_tokens": 1500, "ignore_eos": True}))
    time.sleep(0.2)
    sock.close()
    ok, text = wait_idle(s, 5.0)
    CHECKS.check("cancelled non-stream request: KV blocks back to 0 within 5 s", ok,
                 f"kv_used={metric(text, 'brisk_kv_blocks_used', model=MODEL)}")
    # The count is recorded when the connection's strand handles the engine's last output, which
    # may come just after the blocks are freed.
    deadline = time.monotonic() + 5
    after = metric(text, "brisk_requests_total", model=MODEL, finish_reason="abort")
    while time.monotonic() < deadline and after <= before:
        time.sleep(0.05)
        after = metric(metrics_of(s), "brisk_requests_total", model=MODEL, finish_reason="abort")
    CHECKS.check("cancelled non-stream request counts as an abort", after > before,
                 f"{before} -> {after}")


def expect_error(s, name, path, body, status, param=None, contains=()):
    st, r, _ = post(s, path, body)
    err = (r or {}).get("error") if isinstance(r, dict) else None
    ok = (st == status and isinstance(err, dict) and
          all(k in err for k in ("message", "type", "param", "code")))
    if ok and param is not None:
        ok = err["param"] == param
    if ok:
        ok = all(str(c) in err["message"] for c in contains)
    CHECKS.check(name, ok, f"status {st}, body {json.dumps(r)[:300]}")


def test_bad_inputs(s):
    C, X = "/v1/chat/completions", "/v1/completions"
    expect_error(s, "malformed JSON is 400", X, b'{"model": "brisk-tiny", "prompt": ', 400)
    expect_error(s, "a body that is not an object is 400", X, b"[1, 2]", 400)
    expect_error(s, "wrong type (max_tokens string) is 400 naming the param", X,
                 {"model": MODEL, "prompt": "hi", "max_tokens": "ten"}, 400, param="max_tokens")
    expect_error(s, "wrong type (temperature string) is 400 naming the param", C,
                 chat_body("hi", temperature="hot"), 400, param="temperature")
    expect_error(s, "wrong type (messages not a list) is 400 naming the param", C,
                 {"model": MODEL, "messages": "hello"}, 400, param="messages")
    expect_error(s, "unknown field is 400 'Unrecognized request argument'", X,
                 {"model": MODEL, "prompt": "hi", "frobnicate": 1}, 400,
                 contains=("Unrecognized request argument",))
    expect_error(s, "unknown model is 404", C,
                 {"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}, 404)
    expect_error(s, "missing model is 400", X, {"prompt": "hi"}, 400, param="model")
    long_prompt = ids_prompt(random.Random(5), 2100)
    expect_error(s, "prompt longer than the context is 400 with 2048 and its length", X,
                 {"model": MODEL, "prompt": long_prompt, "max_tokens": 4}, 400,
                 contains=("2048", "2100"))
    expect_error(s, "prompt + max_tokens beyond the context is 400", X,
                 {"model": MODEL, "prompt": long_prompt[:2040], "max_tokens": 100}, 400,
                 contains=("2048",))
    expect_error(s, "max_tokens 0 is 400", X,
                 {"model": MODEL, "prompt": "hi", "max_tokens": 0}, 400, param="max_tokens")
    expect_error(s, "temperature out of range is 400", C, chat_body("hi", temperature=-1), 400,
                 param="temperature")
    expect_error(s, "token id out of the vocabulary is 400", X,
                 {"model": MODEL, "prompt": [1, 2, VOCAB + 5], "max_tokens": 2}, 400)
    expect_error(s, "n = 0 is 400", X, {"model": MODEL, "prompt": "hi", "n": 0}, 400)

    status, h, body = request(s, "GET", "/v1/chat/completions")
    CHECKS.equal("GET on a POST route is 405", status, 405)
    status, h, body = request(s, "POST", "/v1/models", {})
    CHECKS.equal("POST on a GET route is 405", status, 405)
    status, h, body = request(s, "GET", "/v1/nothing-here")
    CHECKS.check("unknown path is 404 with an OpenAI error body",
                 status == 404 and "error" in json.loads(body), f"{status} {body[:200]}")
    status, h, body = request(s, "GET", "/v1/models/no-such-model")
    CHECKS.equal("unknown model card is 404", status, 404)

    # Keep-alive: an error answer does not spoil the connection.
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    statuses = []
    try:
        for b in (b"{bad", {"model": MODEL, "prompt": "hi", "max_tokens": 2},
                  {"model": "nope", "prompt": "hi"}, {"model": MODEL, "prompt": "hi",
                                                      "max_tokens": 2}):
            conn.request("POST", "/v1/completions",
                         body=b if isinstance(b, bytes) else json.dumps(b).encode(),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            statuses.append(r.status)
    finally:
        conn.close()
    CHECKS.equal("keep-alive: 400, 200, 404, 200 on one connection", statuses,
                 [400, 200, 404, 200])
    # Pipelined requests are answered in order.
    sock = raw_socket(s)
    try:
        one = raw_post_bytes(X, {"model": MODEL, "prompt": "hi", "max_tokens": 2})
        sock.sendall(one + b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n" + one)
        sock.settimeout(5)
        got = b""
        while got.count(b"HTTP/1.1 ") < 3:
            piece = sock.recv(65536)
            if not piece:
                break
            got += piece
    finally:
        sock.close()
    CHECKS.equal("pipelined requests answered in order",
                 re.findall(rb"HTTP/1.1 (\d+)", got), [b"200", b"404", b"200"])
    # Expect: 100-continue (curl sends it for large bodies): the client waits for an interim
    # 100 or a final answer before it sends the body.
    sock = raw_socket(s)
    try:
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 40\r\n\r\n")
        sock.settimeout(0.5)
        try:
            reply = sock.recv(4096)
        except socket.timeout:
            reply = b"(nothing within 0.5 s)"
    finally:
        sock.close()
    CHECKS.check("Expect: 100-continue gets '100 Continue' before the body", reply.startswith(
        b"HTTP/1.1 100"), reply[:100])

    # Half a request, then the client leaves.
    sock = raw_socket(s)
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
                 b'{"model": "bri')
    sock.close()
    sock = raw_socket(s)
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le")
    sock.close()
    CHECKS.equal("half a request then disconnect: /health still 200",
                 request(s, "GET", "/health")[0], 200)

    # Garbage bytes: 400 or a closed connection, never a crash.
    sock = raw_socket(s)
    try:
        sock.sendall(bytes(random.Random(9).randrange(256) for _ in range(2048)) + b"\r\n\r\n")
        sock.settimeout(5)
        try:
            reply = sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            reply = b""
    finally:
        sock.close()
    CHECKS.check("garbage bytes: 400 or a closed connection",
                 reply == b"" or reply.startswith(b"HTTP/1.1 400"), reply[:100])
    # A request line with a bad method token and an absurd header block.
    sock = raw_socket(s)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (70 << 10) + b"\r\n\r\n")
        sock.settimeout(5)
        try:
            reply = sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            reply = b""
    finally:
        sock.close()
    CHECKS.check("oversized header block: 4xx or a closed connection",
                 reply == b"" or re.match(rb"HTTP/1.1 4\d\d", reply) is not None, reply[:100])
    status, _, _ = request(s, "GET", "/health")
    CHECKS.check("server still up after all bad inputs", status == 200 and s.alive())
    text = metrics_of(s)
    CHECKS.check("brisk_http_requests_total counts 4xx answers",
                 metric(text, "brisk_http_requests_total", code="400") >= 5 and
                 metric(text, "brisk_http_requests_total", code="404") >= 2,
                 "400s=%s 404s=%s" % (metric(text, "brisk_http_requests_total", code="400"),
                                      metric(text, "brisk_http_requests_total", code="404")))


def test_stop_strings(s):
    body = {"model": MODEL, "prompt": "The quick brown fox", "max_tokens": 32, "temperature": 0,
            "ignore_eos": True}
    full = text_of(post(s, "/v1/completions", body)[1])
    # A 3-character stop string starting in the middle of the text, not blank.
    mid = len(full) // 2
    while mid < len(full) - 3 and not full[mid:mid + 3].strip():
        mid += 1
    stop = full[mid:mid + 3]
    want = full[:full.find(stop)]
    status, r, _ = post(s, "/v1/completions", {**body, "stop": [stop]})
    CHECKS.check("stop string cuts a greedy completion before it (non-stream)",
                 status == 200 and text_of(r) == want and
                 r["choices"][0]["finish_reason"] == "stop",
                 f"stop {stop!r}: got {r and text_of(r)!r} / "
                 f"{r and r['choices'][0]['finish_reason']}, want {want!r}")
    st, chunks, done, _ = stream(s, "/v1/completions", {**body, "stop": [stop], "stream": True})
    text, finish, _ = joined_stream(chunks, chat=False)
    CHECKS.check("stop string cuts a greedy completion before it (stream)",
                 st == 200 and done and text == want and finish == "stop",
                 f"got {text!r} / {finish}, want {want!r}")
    # Chat, with the stop string given as a plain string.
    cb = chat_body("Say something long.", max_tokens=32, temperature=0, ignore_eos=True)
    full = text_of(post(s, "/v1/chat/completions", cb)[1])
    mid = len(full) // 2
    while mid < len(full) - 2 and not full[mid:mid + 2].strip():
        mid += 1
    stop = full[mid:mid + 2]
    want = full[:full.find(stop)]
    status, r, _ = post(s, "/v1/chat/completions", {**cb, "stop": stop})
    CHECKS.check("chat stop string (as a string) cuts the text",
                 status == 200 and text_of(r) == want and
                 r["choices"][0]["finish_reason"] == "stop",
                 f"stop {stop!r}: got {r and text_of(r)!r}, want {want!r}")
    st, chunks, done, _ = stream(s, "/v1/chat/completions", {**cb, "stop": stop, "stream": True})
    text, finish, _ = joined_stream(chunks, chat=True)
    CHECKS.check("chat stop string cuts the streamed text", text == want and finish == "stop",
                 f"got {text!r} / {finish}, want {want!r}")
    ok, _ = wait_idle(s)
    CHECKS.check("stop strings: KV blocks back to 0", ok)


def test_logprobs(s):
    body = chat_body("Name a fruit.", max_tokens=16, temperature=0, logprobs=True,
                     top_logprobs=3)
    status, r, _ = post(s, "/v1/chat/completions", body)
    content = (((r or {}).get("choices") or [{}])[0].get("logprobs") or {}).get("content")
    CHECKS.check("chat logprobs: one entry per completion token",
                 status == 200 and isinstance(content, list) and
                 0 < len(content) <= r["usage"]["completion_tokens"], json.dumps(r)[:300])
    problems = []
    for k, e in enumerate(content or []):
        tops = e.get("top_logprobs", [])
        lps = [t["logprob"] for t in tops]
        if len(tops) != 3:
            problems.append(f"[{k}] {len(tops)} top_logprobs")
        elif lps != sorted(lps, reverse=True):
            problems.append(f"[{k}] not sorted {lps}")
        elif not (e["logprob"] <= 0 and all(lp <= 0 for lp in lps)):
            problems.append(f"[{k}] positive logprob")
        elif e["token"] != tops[0]["token"] or abs(e["logprob"] - tops[0]["logprob"]) > 1e-4:
            problems.append(f"[{k}] greedy token {e['token']!r} is not top {tops[0]!r}")
        elif e.get("bytes") != list(e["token"].encode("utf-8", "surrogatepass")) and \
                "\ufffd" not in e["token"]:
            problems.append(f"[{k}] bytes {e.get('bytes')} do not spell {e['token']!r}")
    CHECKS.check("chat logprobs: 3 sorted top_logprobs, logprob <= 0, greedy token is top-1",
                 content is not None and not problems, "; ".join(problems[:4]))
    joined = "".join(e["token"] for e in content or [])
    CHECKS.check("chat logprobs: tokens spell the content", joined.strip() ==
                 text_of(r).strip() if r else False, f"{joined!r} vs {text_of(r)!r}")
    st, chunks, done, _ = stream(s, "/v1/chat/completions", {**body, "stream": True,
                                 "stream_options": {"include_usage": True}})
    entries = [e for ch in chunks for c in ch["choices"]
               for e in ((c.get("logprobs") or {}).get("content") or [])]
    CHECKS.check("streamed chat logprobs: same entries as non-streamed",
                 content is not None and [(e["token"], e["top_logprobs"]) for e in entries] ==
                 [(e["token"], e["top_logprobs"]) for e in content],
                 f"{len(entries)} vs {len(content or [])}")
    # Completions' legacy form.
    status, r, _ = post(s, "/v1/completions", {"model": MODEL, "prompt": "Hello", "max_tokens": 8,
                                               "temperature": 0, "logprobs": 2,
                                               "ignore_eos": True})
    lp = r["choices"][0]["logprobs"] if status == 200 else None
    CHECKS.check("completion logprobs: tokens, token_logprobs, 2 top_logprobs, text_offset",
                 lp is not None and len(lp["tokens"]) == 8 == len(lp["token_logprobs"]) and
                 all(len(t) >= 1 for t in lp["top_logprobs"]) and
                 len(lp["text_offset"]) == 8, json.dumps(r)[:300])


def test_promtool(s):
    text = metrics_of(s)
    for needed in ("brisk_kv_blocks_used", "brisk_num_requests_running", "brisk_requests_total",
                   "brisk_cached_prompt_tokens_total", "brisk_http_requests_total",
                   "brisk_time_to_first_token_seconds_bucket"):
        CHECKS.check(f"/metrics has {needed}", needed in text)
    if shutil.which("promtool") is None:
        CHECKS.skip("promtool check metrics", "promtool is not on PATH")
        return
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=30)
    CHECKS.check("promtool check metrics passes", p.returncode == 0,
                 (p.stdout + p.stderr).decode()[:500])


def test_load(s):
    rng = random.Random(300)
    jobs = []
    for k in range(300):
        kind = k % 4
        if kind == 0:
            jobs.append(("chat", chat_body(f"Request {k}: say hi.", max_tokens=rng.randrange(1, 9),
                                           temperature=0.7, seed=k)))
        elif kind == 1:
            jobs.append(("comp", {"model": MODEL, "prompt": ids_prompt(rng, rng.randrange(4, 64)),
                                  "max_tokens": rng.randrange(1, 9), "ignore_eos": True}))
        elif kind == 2:
            jobs.append(("stream", {"model": MODEL, "prompt": f"Story {k}", "max_tokens": 6,
                                    "stream": True,
                                    "stream_options": {"include_usage": True}}))
        else:
            jobs.append(("shared", {"model": MODEL,
                                    "prompt": "Shared system preamble. " * 8 + f"#{k}",
                                    "max_tokens": 4, "temperature": 0}))

    def run(job):
        kind, body = job
        if kind == "chat":
            st, r, _ = post(s, "/v1/chat/completions", body)
            return st == 200 and r["usage"]["completion_tokens"] <= body["max_tokens"]
        if kind == "stream":
            st, chunks, done, _ = stream(s, "/v1/completions", body)
            return st == 200 and done and joined_stream(chunks, False)[2] is not None
        st, r, _ = post(s, "/v1/completions", body)
        if kind == "comp":
            return st == 200 and r["usage"]["completion_tokens"] == body["max_tokens"]
        return st == 200

    t0 = time.monotonic()
    results = parallel(run, jobs, 16)
    dt = time.monotonic() - t0
    failures = [f"{jobs[i][0]}: {r!r:.150}" for i, r in enumerate(results) if r is not True]
    CHECKS.check(f"load: 300 requests on 16 threads, no errors ({dt:.1f} s)", not failures,
                 "; ".join(failures[:5]) + f" ({len(failures)} failed)")
    ok, text = wait_idle(s, 5.0)
    CHECKS.check("load: KV blocks used back to 0 afterwards", ok,
                 f"kv_used={metric(text, 'brisk_kv_blocks_used', model=MODEL)}")
    CHECKS.check("server still healthy after the load", request(s, "GET", "/health")[0] == 200)


# ---------------------------------------------------------------------------------------------


def main():
    if len(sys.argv) < 3:
        print("usage: serve_test.py BRISK_BINARY SOURCE_DIR [SERVER_FLAG...]\n"
              "  SERVER_FLAGs are added to every server, e.g. --device cuda", file=sys.stderr)
        return 2
    binary, src = sys.argv[1], sys.argv[2]
    serve_harness.SERVER_FLAGS.extend(sys.argv[3:])
    # A SIGTERM (a CTest timeout) unwinds through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    t0 = time.monotonic()
    main_server = Server(binary, src)
    try:
        main_server.start()
        s = main_server
        for name, fn in [("basics", test_health_models_headers),
                         ("stream", test_stream_equals_nonstream),
                         ("seeds", test_seeds),
                         ("batch", test_batch_invariance),
                         ("prefix", test_prefix_cache),
                         ("parallel", test_parallel_usage),
                         ("cancel", test_cancel_frees_blocks),
                         ("bad inputs", test_bad_inputs),
                         ("stop", test_stop_strings),
                         ("logprobs", test_logprobs),
                         ("load", test_load),
                         ("metrics", test_promtool)]:
            run_step(name, fn, s)
        reference = [text_of(post(s, "/v1/completions", b)[1]) for b in greedy_ids_requests()]
        preempt_reference = [text_of(post(s, "/v1/completions", b)[1])
                             for b in preemption_requests()]
        CHECKS.check("main server survived every scenario", s.alive(), s.tail())
        CHECKS.equal("main server exits 0 on SIGTERM", main_server.stop(), 0)
        run_step("small budget", test_small_budget_server, binary, src, reference)
        run_step("preemption", test_preemption, binary, src, preempt_reference)
        run_step("body limit", test_body_limit, binary, src)
        run_step("queue limit", test_queue_limit, binary, src)
        run_step("api keys", test_api_keys, binary, src)
        run_step("two models", test_two_models, binary, src, reference)
    except Exception:  # noqa: BLE001
        CHECKS.check("test driver", False, traceback.format_exc() + "\n" + main_server.tail())
    finally:
        main_server.stop()
    return summary(t0)


if __name__ == "__main__":
    sys.exit(main())
