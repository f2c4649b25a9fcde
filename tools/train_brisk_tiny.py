#!/usr/bin/env python3
"""Trains brisk-tiny, the demo decoder that brisk serves by default.

A LlamaForCausalLM with grouped-query attention (about 7.7 M parameters) and its own byte-level
BPE tokenizer (8,192 tokens), trained from scratch on the public-domain corpus that
tools/prepare_corpus.sh builds from Debian packages. Persuasion is held out and its perplexity
is measured here with transformers in fp32, by the same method as `brisk eval perplexity`:

  The text is encoded without special tokens and cut into consecutive windows of
  (context - 1) tokens; each window is prefixed with <|bos|> and every text token is predicted
  exactly once. Perplexity = exp(total negative log-likelihood / number of text tokens).

Runs on the GPU machine (PyTorch, transformers, tokenizers); see tools/gpu/make_models.sh.
Usage: train_brisk_tiny.py --corpus data/corpus --out OUT_DIR [--train-seconds 200]
"""
import argparse
import glob
import json
import math
import os
import time

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIAL_TOKENS = ["<|bos|>", "<|eos|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)
# Fixed probe texts whose ids the tokenizer test in brisk compares against.
TOKENIZER_PROBES = [
    "It is a truth universally acknowledged, that a single man in possession of a good fortune",
    "In the beginning God created the heaven and the earth.",
    "  leading spaces, trailing spaces   \n\nand\ttabs\r\n",
    "Numbers 1234567 and 3.14159, symbols #@!$%^&*() and CamelCaseWords.",
    "Unicode: café, naïve, Ærø, 東京, Привет, 😀👍🏽 and combining e\u0301.",
    "<|bos|>special tokens inline<|eos|> and <|user|>roles<|end|>",
    "",
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, help="folder made by tools/prepare_corpus.sh")
    p.add_argument("--out", required=True, help="output model folder")
    p.add_argument("--vocab-size", type=int, default=8192)
    p.add_argument("--context", type=int, default=1024, help="training sequence length")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--train-seconds", type=float, default=150.0)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--eval-every", type=int, default=100, help="steps between validation evals")
    p.add_argument("--patience", type=int, default=4, help="stop after this many evals without improvement")
    p.add_argument("--seed", type=int, default=1234)
    return p.parse_args()


def train_tokenizer(files, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train(files, trainer)
    bos_id = tok.token_to_id("<|bos|>")
    tok.post_processor = processors.TemplateProcessing(
        single="<|bos|> $A", pair="<|bos|> $A <|bos|> $B", special_tokens=[("<|bos|>", bos_id)]
    )
    return tok


def heldout_perplexity(model, ids, bos_id, context, device):
    """Perplexity by the method in the module docstring; fp32 on `device`."""
    step = context - 1
    total_nll, total_tokens = 0.0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(ids), step):
            chunk = ids[start:start + step]
            x = torch.tensor([[bos_id] + chunk], device=device)
            logits = model(x).logits.float()[0, :-1]
            target = x[0, 1:]
            nll = torch.nn.functional.cross_entropy(logits.double(), target, reduction="sum")
            total_nll += nll.item()
            total_tokens += len(chunk)
    return math.exp(total_nll / total_tokens), total_tokens


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = "cuda" if torch.cuda.is_available() else "cpu"
    os.makedirs(args.out, exist_ok=True)
    files = sorted(glob.glob(os.path.join(args.corpus, "train", "*.txt")))
    heldout_path = os.path.join(args.corpus, "heldout-persuasion.txt")

    t0 = time.time()
    tok = train_tokenizer(files, args.vocab_size)
    print(f"tokenizer: {tok.get_vocab_size()} tokens in {time.time() - t0:.1f}s", flush=True)
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|bos|>", eos_token="<|eos|>")
    hf_tok.chat_template = CHAT_TEMPLATE
    hf_tok.save_pretrained(args.out)
    bos_id, eos_id = tok.token_to_id("<|bos|>"), tok.token_to_id("<|eos|>")

    # The last 3 % of every training file is a validation split for early stopping; the
    # held-out novel is never looked at during training.
    stream, valid = [], []
    for path in files:
        with open(path, encoding="utf-8") as f:
            ids = tok.encode(f.read(), add_special_tokens=False).ids
        cut = int(len(ids) * 0.97)
        stream.extend(ids[:cut] + [eos_id])
        valid.extend(ids[cut:] + [eos_id])
    data = torch.tensor(stream, dtype=torch.long, device=device)
    with open(heldout_path, encoding="utf-8") as f:
        heldout_ids = tok.encode(f.read(), add_special_tokens=False).ids
    print(f"corpus: {len(stream)} training tokens, {len(valid)} validation tokens, "
          f"{len(heldout_ids)} held-out tokens", flush=True)

    config = LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=256, intermediate_size=704,
        num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=2, head_dim=32,
        max_position_embeddings=2048, rms_norm_eps=1e-5, tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        bos_token_id=bos_id, eos_token_id=eos_id, hidden_act="silu",
    )
    model = LlamaForCausalLM(config).to(device)
    num_params = sum(p.numel() for p in model.parameters())
    print(f"model: {num_params / 1e6:.2f} M parameters", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), fused=(device == "cuda"))
    gen = torch.Generator(device=device).manual_seed(args.seed)
    t_train = time.time()
    step, tokens_seen, loss_ema = 0, 0, None
    best_valid, best_state, best_step, bad_evals = float("inf"), None, 0, 0
    model.train()
    while True:
        frac = (time.time() - t_train) / args.train_seconds
        if frac >= 1.0 or bad_evals >= args.patience:
            break
        warm = min(1.0, (step + 1) / 100)  # linear warm-up over 100 steps, then cosine in time
        lr = args.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(stream) - args.context, (args.batch,), device=device, generator=gen)
        offsets = torch.arange(args.context - 1, device=device)
        x = data[starts[:, None] + offsets[None, :]]
        x = torch.cat([torch.full((args.batch, 1), bos_id, device=device), x], dim=1)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=(device == "cuda")):
            loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens_seen += x.numel()
        loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item()
        if step % args.eval_every == 0:
            valid_ppl, _ = heldout_perplexity(model, valid, bos_id, args.context, device)
            model.train()
            if valid_ppl < best_valid:
                best_valid, best_step, bad_evals = valid_ppl, step, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad_evals += 1
            print(f"step {step} loss {loss_ema:.3f} valid ppl {valid_ppl:.2f} lr {lr:.2e} "
                  f"{time.time() - t_train:.0f}s", flush=True)
    train_seconds = time.time() - t_train
    model.load_state_dict(best_state)
    print(f"keeping step {best_step} (validation perplexity {best_valid:.2f})", flush=True)

    model = model.to(torch.bfloat16)
    model.config.dtype = "bfloat16"
    model.save_pretrained(args.out, safe_serialization=True)

    # Held-out perplexity of the checkpoint as saved (bf16 weights), computed in fp32.
    reloaded = LlamaForCausalLM.from_pretrained(args.out, dtype=torch.float32).to(device)
    ppl, n_tok = heldout_perplexity(reloaded, heldout_ids, bos_id, args.context, device)
    print(f"held-out perplexity (Persuasion, {n_tok} tokens, context {args.context}): {ppl:.4f}", flush=True)

    # Probe encodings for brisk's tokenizer test, and a greedy continuation for its golden test.
    probes = [{"text": t, "ids": hf_tok(t, add_special_tokens=False)["input_ids"],
               "ids_with_special": hf_tok(t, add_special_tokens=True)["input_ids"]}
              for t in TOKENIZER_PROBES]
    prompt = "It is a truth universally acknowledged"
    prompt_ids = hf_tok(prompt, add_special_tokens=True)["input_ids"]
    out = reloaded.generate(torch.tensor([prompt_ids], device=device), max_new_tokens=32,
                            do_sample=False, eos_token_id=None, pad_token_id=eos_id)
    card = {
        "parameters": num_params, "train_seconds": round(train_seconds, 1), "steps": step,
        "kept_step": best_step, "validation_perplexity": best_valid,
        "tokens_seen": tokens_seen, "final_train_loss_ema": round(loss_ema, 4),
        "training_tokens": len(stream), "heldout_tokens": n_tok, "heldout_perplexity": ppl,
        "context": args.context, "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "torch": torch.__version__, "seed": args.seed,
    }
    with open(os.path.join(args.out, "training_report.json"), "w") as f:
        json.dump(card, f, indent=2)
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump({"tokenizer_probes": probes, "greedy": {
            "prompt": prompt, "prompt_ids": prompt_ids, "output_ids": out[0, len(prompt_ids):].tolist()}},
            f, indent=1, ensure_ascii=False)
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
