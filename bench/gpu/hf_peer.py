#!/usr/bin/env python3
"""Hugging Face transformers on one checkpoint folder: the peer of bench/gpu/run.sh.

Loads the folder as LlamaForCausalLM in bf16 on GPU 0 and measures, on token-id prompts:
  - TTFT of a 512- and a 2,048-token prompt at batch 1: one forward over the prompt (with a
    KV cache, logits of the last position only, as generate's prefill does) plus the argmax,
    between CUDA synchronizations; median of --ttft-repeats after two warm-up forwards;
  - decode tokens/s after a 512-token prompt at batch 1 and after 256-token prompts at batch
    16 and 64: model.generate(do_sample=False, max_new_tokens=N, min_new_tokens=N) (no EOS
    stop), timed by a streamer that stamps each new token as it is copied to the host (a
    synchronization). Decode rate = batch x (N - 1) / (last stamp - first stamp): the first
    token comes out of the prefill, which is left out, as brisk's "decode:" figure leaves it out;
  - setups: "sdpa" (PyTorch eager mode, SDPA attention, dynamic cache) for everything;
    "eager" (eager attention, --eager) for batch-1 decode; "static_compile" (static cache,
    generate's own torch.compile of the decode step, mode reduce-overhead, then mode default
    if that fails) for batch-1 decode, limited by SIGALRM to what is left of --budget-s.
Each step is skipped with a note when its estimate exceeds the budget left. Every number, the
failures and their reasons go to --json-out (rewritten after each step, so a killed run leaves
what it measured) and, at the end, to stdout as one JSON object; progress goes to stderr.
  hf_peer.py --model DIR --budget-s 180 --json-out hf.json [--eager] [--no-compile]
"""
import argparse
import json
import os
import random
import signal
import statistics
import sys
import time
import traceback

# The GPU machine has no network: never ask the Hub for anything.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

NEW_TOKENS = 128          # generated tokens per sequence in every decode measurement
BATCH1_PROMPT = 512
BATCHED_PROMPT = 256      # per sequence at batch 16 and 64, as `brisk bench serve` sends
BATCHES = (16, 64)
TTFT_PROMPTS = (512, 2048)
MIN_COMPILE_BUDGET_S = 30  # below this a compile attempt cannot finish; skip it


def log(message):
    print(f"hf_peer: {message}", file=sys.stderr, flush=True)


class BudgetExceeded(BaseException):
    """Raised by the SIGALRM handler when a time-limited step runs out of budget. A
    BaseException, so that libraries' `except Exception` wrappers (torch.compile's) let it by."""


class Budget:
    """Seconds left of the whole run's --budget-s, counted from process start."""

    def __init__(self, seconds):
        self.start = time.monotonic()
        self.seconds = seconds

    def left(self):
        return self.seconds - (time.monotonic() - self.start)


def id_prompt(num_tokens, seed):
    """Token ids in [3, 100000) from Python's seeded generator; seed 0 gives run.sh's prompts."""
    r = random.Random(seed)
    return [r.randrange(3, 100000) for _ in range(num_tokens)]


class Report:
    """The JSON result, written to --json-out after every change."""

    def __init__(self, path, shape, model_dir):
        self.path = path
        self.data = {
            "shape": shape,
            "model": model_dir,
            "complete": False,
            "method": {
                "ttft": "median of forward(prompt, use_cache, logits_to_keep=1) + argmax between "
                        "cuda synchronizations, after 2 warm-ups",
                "decode": "generate(do_sample=False, max_new_tokens=N, min_new_tokens=N); a "
                          "streamer stamps each token's copy to the host; tok/s = batch x (N-1) / "
                          "(last stamp - first stamp), prefill excluded",
                "new_tokens": NEW_TOKENS,
                "batch1_prompt": BATCH1_PROMPT,
                "batched_prompt": BATCHED_PROMPT,
            },
            "setups": {},
            "failed": [],
        }
        self.save()

    def set(self, setup, key, value):
        self.data["setups"].setdefault(setup, {})[key] = value
        self.save()

    def fail(self, setup, what, reason):
        log(f"{setup} {what}: {reason}")
        self.data["failed"].append({"setup": setup, "what": what, "reason": reason})
        self.save()

    def save(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=2)
        os.replace(tmp, self.path)


def short_error(e):
    text = f"{type(e).__name__}: {e}".strip().replace("\n", " ")
    return text[:300]


class TokenStamps:
    """A generate() streamer that records when each batch of new tokens reaches the host.

    generate() first puts the prompt ([batch, prompt_len]) and then each step's tokens
    ([batch], already copied with .cpu(), so the stamp follows the GPU work of that step)."""

    def __init__(self):
        self.stamps = []

    def put(self, value):
        if value.dim() <= 1:
            self.stamps.append(time.perf_counter())

    def end(self):
        pass


def load_model(model_dir):
    import torch
    from transformers import LlamaForCausalLM
    kwargs = dict(dtype=torch.bfloat16, attn_implementation="sdpa")
    try:
        model = LlamaForCausalLM.from_pretrained(model_dir, device_map="cuda", **kwargs)
    except Exception as e:  # e.g. no accelerate for device_map: load on the CPU and move it
        log(f"device_map load failed ({short_error(e)}); loading on the CPU and moving")
        model = LlamaForCausalLM.from_pretrained(model_dir, **kwargs).to("cuda")
    if model.dtype != torch.bfloat16:
        model = model.to(torch.bfloat16)
    return model.eval()


def set_attention(model, impl):
    """Switches the attention implementation in place; returns the one now in use."""
    try:
        model.set_attn_implementation(impl)
    except Exception:
        model.config._attn_implementation = impl
    return model.config._attn_implementation


def measure_ttft(model, num_tokens, repeats):
    import torch
    ids = torch.tensor([id_prompt(num_tokens, 0)], device="cuda")

    def once():
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.inference_mode():
            try:
                out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
            except TypeError:  # a version without logits_to_keep
                out = model(input_ids=ids, use_cache=True)
            out.logits[:, -1].argmax(-1).cpu()
        torch.cuda.synchronize()
        return (time.perf_counter() - start) * 1e3

    for _ in range(2):
        once()
    times = [once() for _ in range(repeats)]
    return {"median_ms": statistics.median(times), "all_ms": times}


def run_generate(model, ids, new_tokens, **extra):
    """One timed generate(); returns its timings. ids: [batch, prompt_len] on cuda."""
    import torch
    stamps = TokenStamps()
    pad = model.config.eos_token_id
    if isinstance(pad, list):
        pad = pad[0]
    torch.cuda.synchronize()
    start = time.perf_counter()
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                         max_new_tokens=new_tokens, min_new_tokens=new_tokens, pad_token_id=pad,
                         streamer=stamps, **extra)
    torch.cuda.synchronize()
    end = time.perf_counter()
    batch, prompt_len = ids.shape
    result = {
        "batch": batch,
        "prompt_tokens": prompt_len,
        "generated_per_seq": int(out.shape[1] - prompt_len),
        "total_ms": (end - start) * 1e3,
        "stamps": len(stamps.stamps),
    }
    if len(stamps.stamps) >= 2:
        decode_s = stamps.stamps[-1] - stamps.stamps[0]
        steps = len(stamps.stamps) - 1
        result["ttft_in_generate_ms"] = (stamps.stamps[0] - start) * 1e3
        result["decode_ms"] = decode_s * 1e3
        result["decode_steps"] = steps
        result["step_ms"] = decode_s * 1e3 / steps
        result["decode_tok_s"] = batch * steps / decode_s
    return result


def batch_ids(batch, prompt_len):
    import torch
    rows = [id_prompt(prompt_len, 1000 + i) for i in range(batch)]
    return torch.tensor(rows, device="cuda")


def measure_decode(model, report, budget, setup, batch, step_ms_guess, **extra):
    """Warm-up generate of 4 tokens, then the timed one; skips when the estimate is over budget.
    Returns the measured ms per step (or the guess) for later estimates."""
    import torch
    prompt_len = BATCH1_PROMPT if batch == 1 else BATCHED_PROMPT
    key = f"batch{batch}"
    if batch == 1:
        ids = torch.tensor([id_prompt(BATCH1_PROMPT, 0)], device="cuda")  # run.sh's prompt
    else:
        ids = batch_ids(batch, prompt_len)
    try:
        warm = run_generate(model, ids, 4, **extra)
        step_ms = warm.get("step_ms", step_ms_guess)
        estimate_s = (warm["total_ms"] + NEW_TOKENS * step_ms) / 1e3
        if estimate_s > budget.left():
            report.fail(setup, key, f"skipped: needs about {estimate_s:.0f} s, "
                                    f"{budget.left():.0f} s of the budget left")
            return step_ms
        result = run_generate(model, ids, NEW_TOKENS, **extra)
        if result["generated_per_seq"] != NEW_TOKENS:
            result["note"] = f"generated {result['generated_per_seq']} tokens, not {NEW_TOKENS}"
        report.set(setup, key, result)
        log(f"{setup} {key}: {result.get('decode_tok_s', float('nan')):.1f} tok/s decode")
        return result.get("step_ms", step_ms)
    except Exception as e:
        report.fail(setup, key, short_error(e))
        torch.cuda.empty_cache()
        return step_ms_guess


def on_alarm(signum, frame):
    raise BudgetExceeded()


def measure_compiled(model, report, budget):
    """Static cache + generate's torch.compile of the decode step, batch 1, 512-token prompt.
    Returns True when the process is still in a clean state (no interrupted compile)."""
    import torch
    try:
        from transformers import CompileConfig
    except ImportError:
        CompileConfig = None
    ids = torch.tensor([id_prompt(BATCH1_PROMPT, 0)], device="cuda")
    setup = "static_compile"
    for mode in ("reduce-overhead", "default"):
        left = budget.left() - 5
        if left < MIN_COMPILE_BUDGET_S:
            report.fail(setup, f"batch1 ({mode})",
                        f"skipped: {max(left, 0):.0f} s of the budget left, compile needs more")
            return True
        extra = {"cache_implementation": "static"}
        if CompileConfig is not None:
            extra["compile_config"] = CompileConfig(fullgraph=(mode == "reduce-overhead"),
                                                    mode=mode)
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, left)
        log(f"{setup}: compiling ({mode}), at most {left:.0f} s")
        try:
            start = time.monotonic()
            first = run_generate(model, ids, NEW_TOKENS, **extra)  # compiles, captures graphs
            compile_s = time.monotonic() - start
            run_generate(model, ids, NEW_TOKENS, **extra)          # warm
            result = run_generate(model, ids, NEW_TOKENS, **extra)
            signal.setitimer(signal.ITIMER_REAL, 0)
            result["compile_mode"] = mode
            result["first_call_s"] = compile_s
            result["first_call_decode_tok_s"] = first.get("decode_tok_s")
            result["compiled_call_present"] = getattr(model, "_compiled_call", None) is not None
            report.set(setup, "batch1", result)
            log(f"{setup} batch1 ({mode}): {result.get('decode_tok_s', float('nan')):.1f} "
                f"tok/s decode, first call {compile_s:.0f} s")
            return True
        except BudgetExceeded:
            report.fail(setup, f"batch1 ({mode})",
                        f"not done within the {left:.0f} s left of the budget")
            return False
        except Exception as e:
            signal.setitimer(signal.ITIMER_REAL, 0)
            report.fail(setup, f"batch1 ({mode})", short_error(e))
            try:
                torch._dynamo.reset()
            except Exception:
                pass
            torch.cuda.empty_cache()
    return True


def run(args, report, budget):
    import torch
    import transformers
    transformers.logging.set_verbosity_error()
    report.data["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
    report.data["device"] = torch.cuda.get_device_name(0)
    start = time.monotonic()
    model = load_model(args.model)
    report.data["load_s"] = time.monotonic() - start
    report.data["params"] = sum(p.numel() for p in model.parameters())
    log(f"loaded {args.model} in {report.data['load_s']:.1f} s, attention "
        f"{model.config._attn_implementation}")

    for n in TTFT_PROMPTS:
        try:
            report.set("sdpa", f"ttft_{n}", measure_ttft(model, n, args.ttft_repeats))
            log(f"sdpa ttft {n}: {report.data['setups']['sdpa'][f'ttft_{n}']['median_ms']:.1f} ms")
        except Exception as e:
            report.fail("sdpa", f"ttft_{n}", short_error(e))
            torch.cuda.empty_cache()

    step_ms = measure_decode(model, report, budget, "sdpa", 1, 100.0)
    for batch in BATCHES:
        step_ms = measure_decode(model, report, budget, "sdpa", batch, step_ms)

    if args.eager:
        try:
            impl = set_attention(model, "eager")
            if impl != "eager":
                raise RuntimeError(f"attention stayed {impl}")
            measure_decode(model, report, budget, "eager", 1, step_ms)
        except Exception as e:
            report.fail("eager", "batch1", short_error(e))
        try:
            if set_attention(model, "sdpa") != "sdpa":
                raise RuntimeError("could not switch back to sdpa attention")
        except Exception as e:
            report.fail("static_compile", "batch1", f"skipped: {short_error(e)}")
            return True

    if args.no_compile:
        report.fail("static_compile", "batch1", "skipped: --no-compile")
        return True
    return measure_compiled(model, report, budget)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="Hugging Face Llama checkpoint folder")
    parser.add_argument("--shape", default="", help="a name for the report (e.g. llama-3.2-1b)")
    parser.add_argument("--budget-s", type=float, default=300.0,
                        help="wall seconds for the whole run, load included")
    parser.add_argument("--json-out", default="", help="also write the JSON here, step by step")
    parser.add_argument("--eager", action="store_true",
                        help="also batch-1 decode with eager (non-SDPA) attention")
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled setup")
    parser.add_argument("--ttft-repeats", type=int, default=5)
    args = parser.parse_args()
    budget = Budget(args.budget_s)
    report = Report(args.json_out, args.shape, args.model)
    clean = True
    try:
        clean = run(args, report, budget)
    except Exception as e:
        report.fail("all", "load or setup", short_error(e))
        traceback.print_exc(file=sys.stderr)
    report.data["complete"] = True
    report.data["interrupted_compile"] = not clean
    report.data["wall_s"] = time.monotonic() - budget.start
    report.save()
    sys.stdout.write(json.dumps(report.data) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: compile worker pools (and an interrupted compile, when
    # `clean` is False) can keep a normal exit waiting. Exit 1 only when nothing was measured.
    os._exit(0 if report.data["setups"] else 1)


if __name__ == "__main__":
    main()
