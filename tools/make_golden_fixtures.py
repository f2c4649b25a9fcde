#!/usr/bin/env python3
"""Makes the golden decoder fixtures under tests/fixtures/golden/.

For each variant below it builds a tiny random-initialised model with transformers (norm
weights perturbed away from 1 so a forgotten norm fails, biases non-zero), saves it with
save_pretrained (safetensors + config.json), rewrites config.json into the older rope spelling
(`rope_theta` + `rope_scaling`) where the variant asks for it, and writes reference.safetensors:

  prompt_{i}        I32 [len_i]            the prompt token ids
  logits_{i}        F32 [len_i, vocab]     fp32 logits at every position (eager attention)
  logits_f64_{i}    F64 [len_i, vocab]     the same model in float64, the oracle for error ratios
  greedy_{i}        I32 [16]               16-token greedy continuation (fp32)

bf16 variants store bf16 weights; their references are computed from those weights upcast to
fp32 / fp64, so brisk (which computes in fp32) is held to fp32 tolerances on them too.
Run on the GPU machine's CPU: tools/gpu/make_models.sh (exact command in tests/fixtures/README.md).
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file
from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                          Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM)

CLASSES = {
    "llama": (LlamaConfig, LlamaForCausalLM),
    "qwen2": (Qwen2Config, Qwen2ForCausalLM),
    "qwen3": (Qwen3Config, Qwen3ForCausalLM),
    "mistral": (MistralConfig, MistralForCausalLM),
}
VOCAB = 251  # deliberately not a multiple of 8
PROMPT_LENGTHS = [5, 13, 41]
NUM_GREEDY = 16

VARIANTS = [
    dict(name="llama-mha-f32-tied-legacy-rope", family="llama", heads=4, kv_heads=4,
         dtype=torch.float32, tied=True, spelling="legacy",
         rope={"rope_type": "default", "rope_theta": 10000.0}),
    dict(name="llama-gqa-bf16-llama3-rope", family="llama", heads=4, kv_heads=2,
         dtype=torch.bfloat16, tied=False, spelling="new",
         rope={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 16}),
    dict(name="llama-mqa-f32-linear-rope-bias", family="llama", heads=4, kv_heads=1,
         dtype=torch.float32, tied=False, spelling="legacy", extra={"attention_bias": True, "mlp_bias": True},
         rope={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0}),
    dict(name="qwen2-gqa-f32-tied", family="qwen2", heads=4, kv_heads=2,
         dtype=torch.float32, tied=True, spelling="new",
         rope={"rope_type": "default", "rope_theta": 1000000.0}),
    dict(name="qwen3-gqa-bf16-head-dim-yarn", family="qwen3", heads=4, kv_heads=2, head_dim=24,
         dtype=torch.bfloat16, tied=False, spelling="legacy",
         rope={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
               "original_max_position_embeddings": 32}),
    dict(name="mistral-gqa-f32-sliding-window", family="mistral", heads=4, kv_heads=2,
         dtype=torch.float32, tied=False, spelling="legacy", extra={"sliding_window": 8},
         rope={"rope_type": "default", "rope_theta": 10000.0}),
]


def build(variant, seed):
    torch.manual_seed(seed)
    config_cls, model_cls = CLASSES[variant["family"]]
    kwargs = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=88, num_hidden_layers=2,
                  num_attention_heads=variant["heads"], num_key_value_heads=variant["kv_heads"],
                  max_position_embeddings=128, rms_norm_eps=1e-6, tie_word_embeddings=variant["tied"],
                  rope_parameters=dict(variant["rope"]), hidden_act="silu",
                  bos_token_id=1, eos_token_id=2)
    if "head_dim" in variant:
        kwargs["head_dim"] = variant["head_dim"]
    kwargs.update(variant.get("extra", {}))
    config = config_cls(**kwargs)
    config._attn_implementation = "eager"
    model = model_cls(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn_like(p))
            else:
                # Larger than the default 0.02 so logits are well separated and greedy
                # continuations are not decided by rounding.
                p.copy_(0.15 * torch.randn_like(p))
    return model.to(variant["dtype"])


def to_legacy_spelling(config_path):
    """Rewrites rope_parameters into the older rope_theta + rope_scaling keys."""
    with open(config_path) as f:
        cfg = json.load(f)
    rope = dict(cfg.pop("rope_parameters"))
    cfg["rope_theta"] = rope.pop("rope_theta")
    rope_type = rope.pop("rope_type", "default")
    if rope_type == "default" and not rope:
        cfg["rope_scaling"] = None
    else:
        rope["type"] = rope_type  # the oldest spelling of the key
        cfg["rope_scaling"] = rope
    with open(config_path, "w") as f:
        json.dump(cfg, f, indent=2)


def references(model_dir, variant, seed):
    _, model_cls = CLASSES[variant["family"]]
    m32 = model_cls.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").eval()
    m64 = model_cls.from_pretrained(model_dir, dtype=torch.float64, attn_implementation="eager").eval()
    gen = torch.Generator().manual_seed(seed)
    tensors, margins = {}, []
    for i, n in enumerate(PROMPT_LENGTHS):
        prompt = torch.randint(3, VOCAB, (1, n), generator=gen)
        with torch.no_grad():
            tensors[f"prompt_{i}"] = prompt[0].to(torch.int32)
            tensors[f"logits_{i}"] = m32(prompt).logits[0].float().contiguous()
            tensors[f"logits_f64_{i}"] = m64(prompt).logits[0].double().contiguous()
            out = m32.generate(prompt, max_new_tokens=NUM_GREEDY, do_sample=False, eos_token_id=None,
                               pad_token_id=0, output_scores=True, return_dict_in_generate=True)
            tensors[f"greedy_{i}"] = out.sequences[0, n:].to(torch.int32).contiguous()
            for s in out.scores:
                top2 = torch.topk(s[0].float(), 2).values
                margins.append((top2[0] - top2[1]).item())
    save_file(tensors, os.path.join(model_dir, "reference.safetensors"))
    return min(margins)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="fixture root, e.g. tests/fixtures/golden")
    args = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    for k, variant in enumerate(VARIANTS):
        model_dir = os.path.join(args.out, variant["name"])
        os.makedirs(model_dir, exist_ok=True)
        model = build(variant, seed=100 + k)
        model.save_pretrained(model_dir, safe_serialization=True)
        if variant["spelling"] == "legacy":
            to_legacy_spelling(os.path.join(model_dir, "config.json"))
        margin = references(model_dir, variant, seed=200 + k)
        print(f"{variant['name']}: min greedy top-2 logit margin {margin:.4f}", flush=True)


if __name__ == "__main__":
    main()
