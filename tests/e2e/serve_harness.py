# The harness of the `brisk serve` end-to-end tests: pass/fail bookkeeping, a server process
# started on an ephemeral port and always stopped, and small HTTP, SSE and Prometheus-text
# helpers built on the standard library only.
import collections
import ctypes
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
import traceback

MODEL = "brisk-tiny"
CONTEXT = 2048
VOCAB = 8192
BLOCK = 16  # KV block size: cached prompt tokens come in whole blocks

# ---------------------------------------------------------------------------------------------
# Checks


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = []
        self.skipped = []
        self.lock = threading.Lock()

    def check(self, name, ok, detail=""):
        with self.lock:
            if ok:
                self.passed += 1
                print(f"PASS  {name}", flush=True)
            else:
                self.failed.append(name)
                print(f"FAIL  {name}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    def equal(self, name, got, want):
        return self.check(name, got == want, f"got {got!r}, want {want!r}")

    def skip(self, name, why):
        self.skipped.append(name)
        print(f"SKIP  {name}: {why}", flush=True)


CHECKS = Checks()

# ---------------------------------------------------------------------------------------------
# The server under test


def _die_with_parent():
    """In the child before exec: SIGKILL it if this test process dies first (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_step(name, fn, *args):
    """Runs one scenario; a crash is one failed check. Prints its duration."""
    t0 = time.monotonic()
    try:
        return fn(*args)
    except Exception:  # noqa: BLE001 - a crashed scenario is one failed check
        CHECKS.check(f"{name} ran to the end", False, traceback.format_exc(limit=3))
    finally:
        print(f"      ({name}: {time.monotonic() - t0:.1f} s)", flush=True)


def summary(t0):
    """Prints the totals and the failed checks; returns the exit status."""
    print(f"\n{CHECKS.passed} passed, {len(CHECKS.failed)} failed, {len(CHECKS.skipped)} skipped "
          f"in {time.monotonic() - t0:.1f} s")
    for name in CHECKS.failed:
        print(f"  failed: {name}")
    return 1 if CHECKS.failed else 0


# Flags added to every server this suite starts (serve_test.py's extra arguments).
SERVER_FLAGS = []

class Server:
    """One `brisk serve` process on 127.0.0.1 and an ephemeral port.

    engine_only (the default) turns the response cache and the embedding model off, so that
    repeated requests reach the engine: the engine's invariants are what most checks are about.
    """

    def __init__(self, binary, src, *args, engine_only=True):
        # One model thread: on a busy 2-core machine a spinning thread pool slows down many
        # times over, and these checks are about behaviour, not speed.
        self.args = [binary, "serve", "--host", "127.0.0.1", "--port", "0", "--threads", "1",
                     "--model", os.path.join(src, "models", MODEL), *SERVER_FLAGS, *args]
        if engine_only:
            self.args += ["--disable-response-cache", "--no-embedding-model"]
        self.proc = None
        self.port = None
        self.stderr_tail = collections.deque(maxlen=200)
        self._port_seen = threading.Event()

    def start(self, timeout=60):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=_die_with_parent)
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._port_seen.wait(timeout) or self.port is None:
            raise RuntimeError(f"no port line from {self.args}: {self.tail()}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.tail()}")
            try:
                if request(self, "GET", "/ready", headers=self.auth_headers())[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server not ready after {timeout} s: {self.tail()}")

    def auth_headers(self):
        return {}

    def _drain(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.stderr_tail.append(line)
            m = re.search(r"brisk: listening on http://127\.0\.0\.1:(\d+)", line)
            if m and self.port is None:
                self.port = int(m.group(1))
                self._port_seen.set()
        self._port_seen.set()  # the process is gone: stop waiting

    def tail(self):
        return "\n".join(list(self.stderr_tail)[-20:])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL after `timeout` s. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class KeyedServer(Server):
    def __init__(self, binary, src, key_file, key, *args, engine_only=True):
        super().__init__(binary, src, "--api-keys", key_file, *args, engine_only=engine_only)
        self.key = key

    def auth_headers(self):
        return {"Authorization": f"Bearer {self.key}"}


# ---------------------------------------------------------------------------------------------
# HTTP helpers


def request(server, method, path, body=None, headers=None, timeout=60):
    """One request on a fresh connection. Returns (status, headers as a lower-case dict, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        h = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode()
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        payload = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload
    finally:
        conn.close()


def post(server, path, body, headers=None):
    """POST JSON; returns (status, parsed JSON body or None, headers)."""
    status, h, payload = request(server, "POST", path, body, headers)
    try:
        parsed = json.loads(payload)
    except ValueError:
        parsed = None
    return status, parsed, h


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stream(server, path, body, headers=None):
    """A streaming POST. Returns (status, list of parsed chunks, saw [DONE], headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("POST", path, body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        h = {k.lower(): v for k, v in resp.getheaders()}
        if resp.status != 200:
            return resp.status, [json.loads(resp.read())], False, h
        chunks, done = [], False
        for raw in resp:
            line = raw.decode().rstrip("\r\n")
            if not line.startswith("data: "):
                continue
            data = line[len("data: "):]
            if data == "[DONE]":
                done = True
                continue
            chunks.append(json.loads(data))
        return resp.status, chunks, done, h
    finally:
        conn.close()


def chat_body(content, **kw):
    return {"model": MODEL, "messages": [{"role": "user", "content": content}], **kw}


def text_of(resp):
    c = resp["choices"][0]
    return c["message"]["content"] if "message" in c else c["text"]


def joined_stream(chunks, chat):
    """Concatenated text, finish_reason and usage (None if absent) of a stream of one choice."""
    text, finish, usage = "", None, None
    for ch in chunks:
        if ch.get("usage"):
            usage = ch["usage"]
        for c in ch["choices"]:
            piece = c.get("delta", {}).get("content") if chat else c.get("text")
            text += piece or ""
            if c.get("finish_reason"):
                finish = c["finish_reason"]
    return text, finish, usage


def metrics_of(server):
    status, _, payload = request(server, "GET", "/metrics", headers=server.auth_headers())
    assert status == 200, f"/metrics answered {status}"
    return payload.decode()


_SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metric(text, name, **labels):
    """Sum of the samples of `name` whose labels include `labels` (0 when none)."""
    total = 0.0
    for line in text.splitlines():
        m = _SERIES.match(line)
        if not m or m.group(1) != name:
            continue
        have = dict(_LABEL.findall(m.group(3) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(4))
    return total


def ids_prompt(rng, n):
    return [rng.randrange(3, VOCAB) for _ in range(n)]


def parallel(fn, items, threads):
    """Runs fn(item) over items on `threads` threads; returns results (exceptions as values)."""
    results = [None] * len(items)
    next_index = [0]
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= len(items):
                return
            try:
                results[i] = fn(items[i])
            except Exception as e:  # noqa: BLE001 - reported by the caller
                results[i] = e

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def wait_idle(server, timeout=5.0):
    """Polls /metrics until no KV block is used and nothing runs. Returns (ok, last text)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = metrics_of(server)
        if (metric(text, "brisk_kv_blocks_used", model=MODEL) == 0 and
                metric(text, "brisk_num_requests_running") == 0):
            return True, text
        time.sleep(0.05)
    return False, text


def raw_socket(server):
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def raw_post_bytes(path, body):
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


# Request sets whose greedy outputs are compared across servers.
def greedy_ids_requests():
    rng = random.Random(11)
    return [{"model": MODEL, "prompt": ids_prompt(rng, n), "max_tokens": 32, "temperature": 0,
             "ignore_eos": True} for n in (5, 37, 200)]


def preemption_requests():
    rng = random.Random(12)
    return [{"model": MODEL, "prompt": ids_prompt(rng, 300), "max_tokens": 120,
             "temperature": 0, "ignore_eos": True} for _ in range(8)]
