#!/usr/bin/env python3
"""The table of bench/gpu/run.sh: brisk, transformers and the floors, from the run's logs.

Reads, for each shape, what run.sh left in --logs (brisk generate's stderr, `brisk bench serve`
JSON files, hf_peer.py's JSON and stderr, notes) and the checkpoint's safetensors header
(parameter count and weight bytes), prints one markdown table and writes every number to
--json-out. A missing or failed measurement becomes "n/a (reason)"; this script never fails
because a measurement did. Floors (../shared/BENCHMARKS.md, measured on the H100 lent here):
  batch-1 decode: weight bytes / 3.0 TB/s per token (KV bytes left out: under 2 % here);
  TTFT: 2 x params x prompt tokens / 790 TFLOP/s (attention's FLOPs left out);
  decode at batch B: min(B / (weight bytes / 3.0 TB/s), 790 TFLOP/s / (2 x params)) tokens/s.
  report.py --logs DIR --ckpt-root DIR --json-out FILE SHAPE...
"""
import argparse
import glob
import json
import os
import re
import struct
import sys

COPY_BYTES_PER_S = 3.0e12   # device copy bandwidth (BENCHMARKS.md)
BF16_FLOP_PER_S = 790e12    # bf16 matrix rate on random data (BENCHMARKS.md)
NEW_TOKENS = 128            # generated per sequence in the decode measurements
BATCHES = (16, 64)
TTFT_PROMPTS = (512, 2048)

GEN_LINE = re.compile(r"prefill: (\d+) tokens in ([\d.]+) ms \(([\d.]+) tok/s\); "
                      r"decode: (\d+) tokens in ([\d.]+) ms \(([\d.]+) tok/s\)")


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return None


def last_line(text, limit=120):
    lines = [l.strip() for l in (text or "").splitlines() if l.strip()]
    return lines[-1][:limit] if lines else "no output"


def read_json(path):
    """(object, None) or (None, reason)."""
    text = read_text(path)
    if text is None:
        return None, f"no {os.path.basename(path)}"
    try:
        return json.loads(text), None
    except ValueError as e:
        return None, f"bad JSON in {os.path.basename(path)}: {e}"


def checkpoint_size(ckpt_dir):
    """(params, weight bytes) summed over the folder's safetensors headers, or (None, None)."""
    params = weight_bytes = 0
    files = sorted(glob.glob(os.path.join(ckpt_dir, "*.safetensors")))
    try:
        for path in files:
            with open(path, "rb") as f:
                (header_len,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(header_len))
            for name, info in header.items():
                if name == "__metadata__":
                    continue
                count = 1
                for dim in info["shape"]:
                    count *= dim
                params += count
                weight_bytes += info["data_offsets"][1] - info["data_offsets"][0]
    except (OSError, ValueError, KeyError, struct.error):
        return None, None
    return (params, weight_bytes) if files else (None, None)


def floors(params, weight_bytes):
    if not params or not weight_bytes:
        return {}
    step_s = weight_bytes / COPY_BYTES_PER_S
    compute_tok_s = BF16_FLOP_PER_S / (2 * params)
    out = {"batch1_decode_tok_s": 1 / step_s}
    for n in TTFT_PROMPTS:
        out[f"ttft_{n}_ms"] = 2 * params * n / BF16_FLOP_PER_S * 1e3
    for b in BATCHES:
        out[f"batch{b}_decode_tok_s"] = min(b / step_s, compute_tok_s)
    return out


def parse_generate(path):
    """brisk generate's timing line as numbers, or {"error": reason}."""
    text = read_text(path)
    if text is None:
        return {"error": "not run"}
    m = GEN_LINE.search(text)
    if not m:
        errors = [l for l in text.splitlines() if l.startswith("error:")]
        return {"error": errors[-1][:120] if errors else last_line(text)}
    return {"prompt_tokens": int(m[1]), "prefill_ms": float(m[2]),
            "decode_tokens": int(m[4]), "decode_ms": float(m[5]), "decode_tok_s": float(m[6])}


def serve_decode_rate(run, batch):
    """Generated tokens/s while decoding at concurrency `batch`: each request's decode rate,
    (output tokens - 1) / (E2E - TTFT), times the requests in flight."""
    try:
        tokens = run["total_output_tokens"] / max(run["requests_ok"], 1)
        decode_ms = run["e2e_ms"]["mean"] - run["ttft_ms"]["mean"]
        return batch * (tokens - 1) / (decode_ms / 1e3) if decode_ms > 0 else None
    except (KeyError, TypeError):
        return None


def brisk_numbers(logs, shape):
    out = {"generate": {}, "serve": {}, "ttft_server": {}}
    for name in ("f32", "bf16", "bf16-eager", "bf16-2048"):
        out["generate"][name] = parse_generate(os.path.join(logs, f"gen-{shape}-{name}.txt"))
    for c in BATCHES:
        run, err = read_json(os.path.join(logs, f"serve-{shape}-c{c}.json"))
        if run is not None:
            run["decode_tok_s"] = serve_decode_rate(run, c)
        out["serve"][str(c)] = run if run is not None else {"error": err}
    for n in TTFT_PROMPTS:
        run, err = read_json(os.path.join(logs, f"ttft-{shape}-{n}.json"))
        out["ttft_server"][str(n)] = run if run is not None else {"error": err}
    notes = read_text(os.path.join(logs, f"notes-{shape}.txt"))
    out["notes"] = [l for l in (notes or "").splitlines() if l.strip()]
    serve_notes = [n for n in out["notes"] if n.startswith("serve")]
    if serve_notes:  # say why the server's files are missing rather than that they are
        for group in (out["serve"], out["ttft_server"]):
            for run in group.values():
                if "error" in run:
                    run["error"] = serve_notes[0][:120]
    return out


def fmt(value, unit):
    if value is None:
        return "n/a"
    digits = 0 if value >= 100 else 1
    return f"{value:,.{digits}f} {unit}"


class Peer:
    """hf_peer.py's results for one shape, with the reason for anything missing."""

    def __init__(self, logs, shape):
        self.data, err = read_json(os.path.join(logs, f"hf-{shape}.json"))
        stderr = read_text(os.path.join(logs, f"hf-{shape}.err"))
        self.reason = err if self.data is None else None
        if self.data is None and stderr:
            self.reason = last_line(stderr)
        if self.data is not None and not self.data.get("complete"):
            self.reason = "killed at its time limit"

    def value(self, setup, key, field):
        if self.data is None:
            return None
        return self.data.get("setups", {}).get(setup, {}).get(key, {}).get(field)

    def why(self, setup, key):
        if self.data is None:
            return self.reason
        for f in self.data.get("failed", []):
            if f["setup"] in (setup, "all") and (f["what"] == key or
                                                 f["what"].startswith(key + " ")):
                return f["reason"][:100]
        return self.reason or "not measured"

    def cell(self, setup, key, field, unit):
        v = self.value(setup, key, field)
        return fmt(v, unit) if v is not None else f"n/a ({self.why(setup, key)})"

    def best(self, key, field, unit, higher_is_better):
        """(cell, value) of the best setup that measured `key`."""
        found = []
        for setup in ("sdpa", "eager", "static_compile"):
            v = self.value(setup, key, field)
            if v is not None:
                label = setup
                if setup == "static_compile":
                    entry = self.data["setups"][setup][key]
                    label = f"static cache + compile {entry.get('compile_mode', '')}".strip()
                    if entry.get("compiled_call_present") is False:
                        label = "static cache, compile not engaged"
                found.append((v, label))
        if not found:
            return f"n/a ({self.why('sdpa', key)})", None
        v, label = (max if higher_is_better else min)(found, key=lambda t: t[0])
        return f"{fmt(v, unit)} ({label})", v

    def compile_note(self):
        if self.data is None or "batch1" in self.data.get("setups", {}).get("static_compile", {}):
            return None
        reasons = [f"{f['what']}: {f['reason'][:100]}" for f in self.data.get("failed", [])
                   if f["setup"] == "static_compile"]
        return "; ".join(reasons) or None


def ratio(brisk, peer, higher_is_better):
    if not brisk or not peer:
        return ""
    return f"{(brisk / peer if higher_is_better else peer / brisk):.2f}x"


def shape_rows(shape, brisk, peer, fl):
    """Markdown rows: model | metric | brisk | transformers sdpa | transformers best | floor |
    brisk speed / best peer."""
    rows = []
    gen = brisk["generate"]

    def gen_cell(name, field, unit):
        g = gen[name]
        return (fmt(g[field], unit), g[field]) if field in g else (f"n/a ({g['error']})", None)

    cell, v = gen_cell("bf16", "decode_tok_s", "tok/s")
    best_cell, best = peer.best("batch1", "decode_tok_s", "tok/s", True)
    rows.append([shape, "batch-1 decode (512 prompt, 128 new), bf16 activations", cell,
                 peer.cell("sdpa", "batch1", "decode_tok_s", "tok/s"), best_cell,
                 fmt(fl.get("batch1_decode_tok_s"), "tok/s"), ratio(v, best, True)])
    if "error" not in gen["f32"] or gen["f32"]["error"] != "not run":
        cell, _ = gen_cell("f32", "decode_tok_s", "tok/s")
        rows.append([shape, "batch-1 decode, brisk f32 activations", cell, "", "",
                     fmt(fl.get("batch1_decode_tok_s"), "tok/s"), ""])
    if "error" not in gen["bf16-eager"] or gen["bf16-eager"]["error"] != "not run":
        cell, _ = gen_cell("bf16-eager", "decode_tok_s", "tok/s")
        rows.append([shape, "batch-1 decode, brisk bf16, --enforce-eager (no CUDA graphs)", cell,
                     "", "", fmt(fl.get("batch1_decode_tok_s"), "tok/s"), ""])
    for n in TTFT_PROMPTS:
        server = brisk["ttft_server"][str(n)]
        cli = gen["bf16" if n == 512 else "bf16-2048"]
        p50 = (server.get("ttft_ms") or {}).get("p50") if "error" not in server else None
        cli_ms = cli.get("prefill_ms")
        if p50 is not None:
            cell = f"{fmt(p50, 'ms')} (server p50; CLI cold {fmt(cli_ms, 'ms')})"
        elif cli_ms is not None:
            cell = f"{fmt(cli_ms, 'ms')} (CLI, cold; server: {server.get('error', 'n/a')})"
        else:
            cell = f"n/a ({cli.get('error')})"
        brisk_ms = p50 if p50 is not None else cli_ms
        best_cell, best = peer.best(f"ttft_{n}", "median_ms", "ms", False)
        rows.append([shape, f"TTFT, {n}-token prompt, batch 1", cell,
                     peer.cell("sdpa", f"ttft_{n}", "median_ms", "ms"), best_cell,
                     fmt(fl.get(f"ttft_{n}_ms"), "ms"), ratio(brisk_ms, best, False)])
    for b in BATCHES:
        run = brisk["serve"][str(b)]
        v = run.get("decode_tok_s")
        cell = f"{fmt(v, 'tok/s')} (server, c={b})" if v is not None else \
            f"n/a ({run.get('error', 'no decode time')})"
        best_cell, best = peer.best(f"batch{b}", "decode_tok_s", "tok/s", True)
        rows.append([shape, f"decode at batch {b} (256 prompt, 128 new), prefill excluded", cell,
                     peer.cell("sdpa", f"batch{b}", "decode_tok_s", "tok/s"), best_cell,
                     fmt(fl.get(f"batch{b}_decode_tok_s"), "tok/s"), ratio(v, best, True)])
    for b in BATCHES:
        run = brisk["serve"][str(b)]
        if "error" in run:
            rows.append([shape, f"serve c={b}", f"n/a ({run['error']})", "", "", "", ""])
            continue
        t, i = run["ttft_ms"], run["itl_ms"]
        p = lambda d, k, digits: "n/a" if d.get(k) is None else f"{d[k]:.{digits}f}"
        rows.append([shape, f"serve c={b} ({run['requests_ok']} ok, {run['requests_failed']} "
                            f"failed): TTFT p50/p99; ITL p50/p99; generated tok/s",
                     f"{p(t, 'p50', 0)}/{p(t, 'p99', 0)} ms; {p(i, 'p50', 1)}/{p(i, 'p99', 1)} ms; "
                     f"{run['output_tokens_per_s']:.0f} tok/s", "", "",
                     fmt(fl.get(f"batch{b}_decode_tok_s"), "tok/s"), ""])
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logs", required=True)
    parser.add_argument("--ckpt-root", required=True)
    parser.add_argument("--json-out", default="")
    parser.add_argument("shapes", nargs="+")
    args = parser.parse_args()
    everything = {"device": last_line(read_text(os.path.join(args.logs, "device.txt"))),
                  "floor_constants": {"copy_bytes_per_s": COPY_BYTES_PER_S,
                                      "bf16_flop_per_s": BF16_FLOP_PER_S},
                  "shapes": {}}
    header = ["model", "metric", "brisk", "transformers sdpa", "transformers best", "floor",
              "brisk speed / best peer"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    notes = []
    for shape in args.shapes:
        params, weight_bytes = checkpoint_size(os.path.join(args.ckpt_root, shape))
        fl = floors(params, weight_bytes)
        brisk = brisk_numbers(args.logs, shape)
        peer = Peer(args.logs, shape)
        rows = shape_rows(shape, brisk, peer, fl)
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        if peer.compile_note():
            notes.append(f"{shape}: transformers static cache + compile: {peer.compile_note()}")
        notes += [f"{shape}: {n}" for n in brisk["notes"]]
        everything["shapes"][shape] = {
            "params": params, "weight_bytes": weight_bytes, "floors": fl, "brisk": brisk,
            "transformers": peer.data if peer.data is not None else {"error": peer.reason},
            "table_rows": rows}
    checks = read_text(os.path.join(args.logs, "checks.txt"))
    if checks:
        everything["checks"] = checks.strip().splitlines()
        print("\n".join(f"- {c}" for c in everything["checks"]) + "\n")
    print("\n".join(lines))
    for n in notes:
        print(f"- {n}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(everything, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
