# Scenarios of the `brisk serve` end-to-end tests that need a server of their own: a small
# token budget, KV-cache pressure, a body-size limit, a queue limit, and API keys. Each starts
# its server with `with`, so it is stopped whatever happens.
import json
import os
import socket
import tempfile
import threading
import time

from serve_harness import (CHECKS, MODEL, KeyedServer, Server, greedy_ids_requests, metric,
                           metrics_of, parallel, post, preemption_requests, raw_post_bytes,
                           raw_socket, request, text_of, wait_idle)

# ---------------------------------------------------------------------------------------------
# Scenarios that need their own server


def test_small_budget_server(binary, src, reference):
    with Server(binary, src, "--max-num-batched-tokens", "7", "--max-num-seqs", "3") as s2:
        results = parallel(lambda b: post(s2, "/v1/completions", b), greedy_ids_requests(), 3)
        for i, (r, ref) in enumerate(zip(results, reference)):
            CHECKS.check(f"greedy text equal with --max-num-batched-tokens 7 --max-num-seqs 3 "
                         f"[{i}]", not isinstance(r, Exception) and r[0] == 200 and
                         text_of(r[1]) == ref, f"{r!r:.300} vs {ref!r}")
        ok, _ = wait_idle(s2)
        CHECKS.check("small-budget server: KV blocks back to 0", ok)
        # Stopped while a request runs: its answer must not pass for a complete one.
        result = []
        body = {"model": MODEL, "prompt": "go", "max_tokens": 1500, "ignore_eos": True}
        t = threading.Thread(target=lambda: result.append(_try(post, s2, "/v1/completions",
                                                                body)))
        t.start()
        deadline = time.monotonic() + 5
        while (time.monotonic() < deadline and
               metric(metrics_of(s2), "brisk_num_requests_running") < 1):
            time.sleep(0.02)
        time.sleep(0.2)
        CHECKS.equal("small-budget server exits 0 on SIGTERM during a request", s2.stop(), 0)
        t.join(30)
        r = result[0] if result else None
        truncated_as_normal = (isinstance(r, tuple) and r[0] == 200 and
                               r[1]["choices"][0]["finish_reason"] in ("length", "stop") and
                               r[1]["usage"]["completion_tokens"] < 1500)
        CHECKS.check("a request cut short by shutdown is not reported as a normal finish",
                     not truncated_as_normal,
                     f"200 with finish_reason {r[1]['choices'][0]['finish_reason']!r} after "
                     f"{r[1]['usage']['completion_tokens']} of 1500 tokens (ignore_eos)"
                     if truncated_as_normal else "")


def _try(fn, *args):
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - the caller inspects it
        return e


def test_preemption(binary, src, reference):
    # 8 MiB of KV cache hold 128 blocks (2048 tokens); 8 requests of 300 + 120 tokens need
    # more at once, so the scheduler must preempt and recompute.
    with Server(binary, src, "--kv-cache-memory", "8") as s6:
        results = parallel(lambda b: post(s6, "/v1/completions", b), preemption_requests(), 8)
        same = [not isinstance(r, Exception) and r[0] == 200 and text_of(r[1]) == ref
                for r, ref in zip(results, reference)]
        CHECKS.check("greedy text equal under KV-cache pressure (--kv-cache-memory 8)",
                     all(same), str(same))
        text = metrics_of(s6)
        CHECKS.check("KV-cache pressure scenario did preempt", metric(
            text, "brisk_preemptions_total") > 0, "brisk_preemptions_total is 0")
        ok, _ = wait_idle(s6)
        CHECKS.check("KV-cache pressure: KV blocks back to 0", ok)


def test_body_limit(binary, src):
    with Server(binary, src, "--max-body-size", "1") as s3:
        # The announced length is over the limit: the server must answer without the body.
        sock = raw_socket(s3)
        try:
            sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n")
            sock.settimeout(10)
            reply = sock.recv(4096)
        finally:
            sock.close()
        CHECKS.check("body over --max-body-size 1 (announced) is 413", reply.startswith(
            b"HTTP/1.1 413"), reply[:200])
        big = {"model": MODEL, "prompt": "x " * (1 << 20), "max_tokens": 1}
        # The whole body, read back while sending (as curl does).
        sock = raw_socket(s3)
        try:
            data = raw_post_bytes("/v1/completions", big)

            def send():
                try:
                    sock.sendall(data)
                except OSError:
                    pass  # the server stopped reading: expected

            sender = threading.Thread(target=send)
            sender.start()
            sock.settimeout(10)
            try:
                reply = sock.recv(4096)
            except OSError as e:
                reply = repr(e).encode()
            sender.join()
        finally:
            sock.close()
        CHECKS.check("body over --max-body-size 1 (sent in full, read concurrently) is 413",
                     reply.startswith(b"HTTP/1.1 413"), reply[:200])
        # The body sent after the server has answered: the send fails (the server stops
        # reading), yet the 413 is there to read.
        head, rest = raw_post_bytes("/v1/completions", big).split(b"\r\n\r\n", 1)
        sock = raw_socket(s3)
        try:
            sock.sendall(head + b"\r\n\r\n")
            time.sleep(0.2)
            try:
                sock.sendall(rest)
            except OSError:
                pass
            sock.settimeout(10)
            try:
                reply = sock.recv(4096)
            except OSError as e:
                reply = repr(e).encode()
        finally:
            sock.close()
        CHECKS.check("body over --max-body-size 1 (sent late) still finds its 413",
                     reply.startswith(b"HTTP/1.1 413"), reply[:200])
        CHECKS.equal("after the 413s /health is 200", request(s3, "GET", "/health")[0], 200)
        small = post(s3, "/v1/completions", {"model": MODEL, "prompt": "hi", "max_tokens": 2})
        CHECKS.equal("a small body is still served under --max-body-size 1", small[0], 200)


def test_queue_limit(binary, src):
    with Server(binary, src, "--max-waiting", "1", "--max-num-seqs", "1") as s4:
        socks, replies = [], []
        body = {"model": MODEL, "prompt": "Go on and on:", "max_tokens": 1500, "ignore_eos": True}
        try:
            for _ in range(6):
                sk = raw_socket(s4)
                sk.sendall(raw_post_bytes("/v1/completions", body))
                socks.append(sk)
            for sk in socks:
                sk.settimeout(1.0)
                try:
                    replies.append(sk.recv(4096))
                except socket.timeout:
                    replies.append(b"")  # still queued or running
        finally:
            for sk in socks:
                sk.close()
        limited = [r for r in replies if r.startswith(b"HTTP/1.1 429")]
        CHECKS.check("too many queued requests: 429s", len(limited) >= 3,
                     f"{[r[:40] for r in replies]}")
        CHECKS.check("429 carries Retry-After and a rate_limit_error body",
                     bool(limited) and all(b"\r\nRetry-After: " in r and b"rate_limit" in r
                                           for r in limited), limited[:1])
        ok, _ = wait_idle(s4, 5.0)
        CHECKS.check("queue-limited server: blocks freed after the clients left", ok)
        CHECKS.equal("queue-limited server: /health 200", request(s4, "GET", "/health")[0], 200)


def test_api_keys(binary, src):
    with tempfile.TemporaryDirectory() as tmp:
        key_file = os.path.join(tmp, "keys.txt")
        with open(key_file, "w") as f:
            f.write("# e2e\nsk-test-key-123 acme\n")
        with KeyedServer(binary, src, key_file, "sk-test-key-123") as s5:
            CHECKS.equal("api keys: /health 200 without a key", request(s5, "GET", "/health")[0],
                         200)
            status, h, body = request(s5, "GET", "/v1/models")
            CHECKS.check("api keys: /v1/models 401 without a key",
                         status == 401 and json.loads(body)["error"]["type"] ==
                         "authentication_error", f"{status} {body[:200]}")
            status = request(s5, "GET", "/v1/models",
                             headers={"Authorization": "Bearer sk-wrong-key-999"})[0]
            CHECKS.equal("api keys: /v1/models 401 with a wrong key", status, 401)
            status = request(s5, "GET", "/v1/models",
                             headers={"Authorization": "Bearer sk-test-key-123"})[0]
            CHECKS.equal("api keys: /v1/models 200 with the key", status, 200)
            status, r, _ = post(s5, "/v1/completions",
                                {"model": MODEL, "prompt": "hi", "max_tokens": 3},
                                headers={"Authorization": "Bearer sk-test-key-123"})
            CHECKS.equal("api keys: a completion with the key is 200", status, 200)
            status = post(s5, "/v1/completions", {"model": MODEL, "prompt": "hi"})[0]
            CHECKS.equal("api keys: a completion without the key is 401", status, 401)


def test_two_models(binary, src, reference):
    """Two --model folders are served side by side, each under its folder name."""
    with tempfile.TemporaryDirectory() as tmp:
        second = os.path.join(tmp, "tiny-two")
        os.mkdir(second)
        model_dir = os.path.join(src, "models", MODEL)
        for name in os.listdir(model_dir):
            os.symlink(os.path.join(model_dir, name), os.path.join(second, name))
        with Server(binary, src, "--model", second) as s:
            _, _, body = request(s, "GET", "/v1/models")
            ids = [m["id"] for m in json.loads(body)["data"]]
            CHECKS.equal("two models: /v1/models lists both", ids, [MODEL, "tiny-two"])
            texts = []
            for model in (MODEL, "tiny-two"):
                status, r, _ = post(s, "/v1/completions", {"model": model, "prompt": "It is a",
                                                           "max_tokens": 8, "temperature": 0})
                texts.append(r["choices"][0]["text"] if status == 200 else None)
                CHECKS.equal(f"two models: {model} answers under its name",
                             (status, r.get("model")), (200, model))
            CHECKS.equal("two models: same weights, same greedy text", texts[1], texts[0])
            metrics_text = request(s, "GET", "/metrics")[2].decode()
            CHECKS.check("two models: /metrics has a series per model",
                         'model="tiny-two"' in metrics_text and f'model="{MODEL}"' in metrics_text)
