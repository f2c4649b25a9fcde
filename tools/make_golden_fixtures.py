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

BERT embedder fixtures (make_bert_fixtures below) share one tiny WordPiece tokenizer built with
`tokenizers` from a vocabulary counted on generated sentences, and write per folder, beside the
model files:

  tokenizer.json, tokenizer_config.json   the tokenizer (tokenizer.json is what brisk reads)
  reference.safetensors:
    ids_{i}            I32 [len_i]           token ids of probe text i from the HF tokenizer
    hidden_{i}         F32 [len_i, hidden]   last_hidden_state, fp32, the text alone
    hidden_f64_{i}     F64 [len_i, hidden]   the same in float64
    embedding_{i}      F32 [hidden]          pooled (and normalized) vector, fp32
    embedding_f64_{i}  F64 [hidden]          the same in float64
    __metadata__: num_probes, text_{i} (the probe texts), pooling ("cls"/"mean"), normalize
    ("true"/"false"), max_tokens (what brisk must report as EmbedderInfo::max_tokens)

Run on the GPU machine's CPU: tools/gpu/make_models.sh (exact command in tests/fixtures/README.md).
`--only bert` or `--only decoders` makes one family alone.
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


# --- BERT embedder fixtures ---------------------------------------------------------------------

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]  # ids 0..4
BERT_MAX_POSITIONS = 64

# (a) a plain transformers folder: brisk defaults to CLS pooling without normalization;
# (b) a sentence-transformers folder, mean pooling + Normalize, tanh GELU, max_seq_length 56,
#     in the module spelling of sentence-transformers 2-5;
# (c) the same layout with bf16 weights saved as BertForMaskedLM ("bert." prefix, MLM head), in
#     the spelling sentence-transformers 6 writes.
BERT_VARIANTS = [
    dict(name="bert-f32-cls", arch="BertModel", dtype=torch.float32, act="gelu",
         sentence_transformers=False),
    dict(name="bert-st-f32-mean-normalize-tanh-gelu", arch="BertModel", dtype=torch.float32,
         act="gelu_pytorch_tanh", sentence_transformers=True, max_seq_length=56, st_spelling="legacy"),
    dict(name="bert-st-bf16-mlm-mean-normalize", arch="BertForMaskedLM", dtype=torch.bfloat16,
         act="gelu", sentence_transformers=True, max_seq_length=64, st_spelling="v6"),
]

# Probe texts: different lengths (so padding matters when they are batched), accents and case
# (BertNormalizer), punctuation and digits (BertPreTokenizer), words split into ##pieces, a word
# with a character outside the alphabet ([UNK]), and an empty text ([CLS] [SEP] only).
BERT_PROBES = [
    "Hello world!",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Café NAÏVE façade: déjà vu, 42 times?",
    "",
    "unbelievably interconnected zebras (ж) don't mind #hashtags & 3.14159",
    "A river of gardens, a garden of rivers; the old teacher reads slowly to the children "
    "while the bright morning light falls on the quiet village and its small stone bridge.",
]


def bert_corpus(seed=7, n=600):
    """Generated English-like sentences to train the tiny WordPiece vocabulary on."""
    import random
    rng = random.Random(seed)
    subjects = ["the teacher", "a child", "my friend", "the old man", "our village", "the river",
                "a small dog", "the bright sun", "every garden", "the quiet bridge", "Anna",
                "the café owner", "a naïve student", "the fox", "two birds"]
    verbs = ["reads", "walks to", "watches", "finds", "remembers", "builds", "paints", "crosses",
             "follows", "describes", "opens", "jumps over", "sings about", "counts"]
    objects = ["the book", "a stone", "the morning light", "green fields", "the lazy dog",
               "their house", "the long road", "a letter", "the market", "cold water",
               "the window", "many stories", "the brown table", "seven apples"]
    tails = ["slowly", "again", "before dinner", "in the rain", "with great care", "every day",
             "near the bank", "at night", "without a word", "for 3 hours", "in 1999", "quickly"]
    sentences = []
    for _ in range(n):
        s = f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} {rng.choice(tails)}"
        if rng.random() < 0.3:
            s = s.capitalize()
        s += rng.choice([".", "!", "?", ",", ";", "..."])
        sentences.append(s)
    return sentences


def make_bert_tokenizer():
    """A BERT-style WordPiece tokenizer (uncased, [CLS] $A [SEP]) as a transformers fast tokenizer.

    The vocabulary is counted here rather than by tokenizers' WordPieceTrainer, whose choice
    among equally frequent merges changes from run to run: every character of the corpus (alone
    and as a ##piece), every corpus word, and the most frequent 2-4 character word endings as
    ##pieces, with words split by the pipeline's own normalizer and pre-tokenizer. Unseen words
    then split into endings and characters, and characters outside the corpus become [UNK].
    """
    from collections import Counter
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast
    normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                            strip_accents=None, lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words = Counter()
    for sentence in bert_corpus():
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(sentence)):
            words[word] += 1
    chars = {c for w in words for c in w}
    endings = Counter()
    for w, n in words.items():
        for k in range(2, 5):
            if len(w) > k:
                endings["##" + w[-k:]] += n
    top_endings = [e for e, _ in sorted(endings.items(), key=lambda x: (-x[1], x[0]))[:80]]
    learned = chars | {"##" + c for c in chars} | set(words) | set(top_endings)
    ordered = BERT_SPECIALS + sorted(learned, key=lambda t: (t.startswith("##"), t))
    tok = Tokenizer(models.WordPiece(vocab={t: i for i, t in enumerate(ordered)}, unk_token="[UNK]",
                                     continuing_subword_prefix="##", max_input_chars_per_word=100))
    tok.add_special_tokens(BERT_SPECIALS)
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    assert [tok.token_to_id(t) for t in BERT_SPECIALS] == [0, 1, 2, 3, 4]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    tok.decoder = decoders.WordPiece(prefix="##")
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   model_max_length=BERT_MAX_POSITIONS)


def build_bert(variant, vocab_size, seed):
    from transformers import BertConfig, BertForMaskedLM, BertModel
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=vocab_size, hidden_size=64, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=128, hidden_act=variant["act"],
                        max_position_embeddings=BERT_MAX_POSITIONS, type_vocab_size=2,
                        layer_norm_eps=1e-12, pad_token_id=0)
    config._attn_implementation = "eager"
    model_cls = BertForMaskedLM if variant["arch"] == "BertForMaskedLM" else BertModel
    model = model_cls(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn_like(p))
            else:
                p.copy_(0.15 * torch.randn_like(p))
    return model.to(variant["dtype"])


def write_sentence_transformers_files(model_dir, variant):
    """modules.json, 1_Pooling/config.json, 2_Normalize/ and sentence_bert_config.json, in the
    spelling of sentence-transformers 2-5 ("legacy": models.* types, pooling_mode_* flags) or of
    6 ("v6": modules moved to base/sentence_transformer packages, one "pooling_mode" string)."""
    if variant["st_spelling"] == "legacy":
        types = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                 "sentence_transformers.models.Normalize"]
        pooling = {"word_embedding_dimension": 64, "pooling_mode_cls_token": False,
                   "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                   "pooling_mode_mean_sqrt_len_tokens": False,
                   "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False,
                   "include_prompt": True}
    else:
        types = ["sentence_transformers.base.modules.transformer.Transformer",
                 "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
                 "sentence_transformers.base.modules.normalize.Normalize"]
        pooling = {"embedding_dimension": 64, "pooling_mode": "mean", "include_prompt": True}
    modules = [{"idx": i, "name": str(i), "path": path, "type": t}
               for i, (path, t) in enumerate(zip(["", "1_Pooling", "2_Normalize"], types))]
    with open(os.path.join(model_dir, "modules.json"), "w") as f:
        json.dump(modules, f, indent=2)
    os.makedirs(os.path.join(model_dir, "1_Pooling"), exist_ok=True)
    with open(os.path.join(model_dir, "1_Pooling", "config.json"), "w") as f:
        json.dump(pooling, f, indent=2)
    os.makedirs(os.path.join(model_dir, "2_Normalize"), exist_ok=True)
    with open(os.path.join(model_dir, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": variant["max_seq_length"], "do_lower_case": False}, f, indent=2)


def bert_references_plain(model_dir, ids_list):
    """last_hidden_state and its CLS row from transformers' BertModel, fp32 and fp64."""
    from transformers import BertModel
    out = {}
    for dtype, suffix in ((torch.float32, ""), (torch.float64, "_f64")):
        m = BertModel.from_pretrained(model_dir, dtype=dtype, attn_implementation="eager").eval()
        for i, ids in enumerate(ids_list):
            with torch.no_grad():
                h = m(input_ids=torch.tensor([ids])).last_hidden_state[0]
            out[f"hidden{suffix}_{i}"] = h.contiguous()
            out[f"embedding{suffix}_{i}"] = h[0].clone()
    return out


def bert_references_st(model_dir, texts, ids_list, max_seq_length):
    """token_embeddings and sentence_embedding from SentenceTransformer, fp32 and fp64; also
    checks that its tokenizer gives `ids_list` and that its output is the mean-pool +
    normalize brisk implements."""
    from sentence_transformers import SentenceTransformer
    out = {}
    for dtype, suffix in ((torch.float32, ""), (torch.float64, "_f64")):
        st = SentenceTransformer(model_dir, device="cpu",
                                 model_kwargs={"attn_implementation": "eager"}).to(dtype).eval()
        assert st.max_seq_length == max_seq_length, st.max_seq_length
        for i, (text, ids) in enumerate(zip(texts, ids_list)):
            features = st.tokenize([text])
            assert features["input_ids"][0].tolist() == ids, (text, features["input_ids"])
            with torch.no_grad():
                o = st(features)
            h, e = o["token_embeddings"][0], o["sentence_embedding"][0]
            expect = torch.nn.functional.normalize(h.mean(dim=0), dim=0)
            assert torch.allclose(e, expect, atol=1e-5), (text, (e - expect).abs().max())
            out[f"hidden{suffix}_{i}"] = h.to(dtype).contiguous()
            out[f"embedding{suffix}_{i}"] = e.to(dtype).clone()
        if dtype == torch.float32:
            # Batched (padded) encode must agree with one text at a time.
            batched = st.encode(texts, convert_to_tensor=True, batch_size=len(texts))
            alone = torch.stack([out[f"embedding_{i}"] for i in range(len(texts))])
            print(f"  {os.path.basename(model_dir)}: max |batched - alone| "
                  f"{(batched.float() - alone).abs().max().item():.2e}", flush=True)
    return out


def make_bert_fixtures(root):
    tokenizer = make_bert_tokenizer()
    vocab_size = len(tokenizer)
    for k, variant in enumerate(BERT_VARIANTS):
        model_dir = os.path.join(root, variant["name"])
        os.makedirs(model_dir, exist_ok=True)
        build_bert(variant, vocab_size, seed=300 + k).save_pretrained(model_dir, safe_serialization=True)
        tokenizer.save_pretrained(model_dir)
        max_tokens = BERT_MAX_POSITIONS
        if variant["sentence_transformers"]:
            write_sentence_transformers_files(model_dir, variant)
            max_tokens = variant["max_seq_length"]
        from transformers import AutoTokenizer
        hf_tok = AutoTokenizer.from_pretrained(model_dir)
        ids_list = [hf_tok(t)["input_ids"] for t in BERT_PROBES]
        assert max(len(ids) for ids in ids_list) <= max_tokens, [len(ids) for ids in ids_list]
        if variant["sentence_transformers"]:
            tensors = bert_references_st(model_dir, BERT_PROBES, ids_list, max_tokens)
        else:
            tensors = bert_references_plain(model_dir, ids_list)
        for i, ids in enumerate(ids_list):
            tensors[f"ids_{i}"] = torch.tensor(ids, dtype=torch.int32)
        metadata = {"num_probes": str(len(BERT_PROBES)),
                    "pooling": "mean" if variant["sentence_transformers"] else "cls",
                    "normalize": "true" if variant["sentence_transformers"] else "false",
                    "max_tokens": str(max_tokens)}
        for i, text in enumerate(BERT_PROBES):
            metadata[f"text_{i}"] = text
        save_file(tensors, os.path.join(model_dir, "reference.safetensors"), metadata=metadata)
        print(f"{variant['name']}: vocab {vocab_size}, probe lengths {[len(x) for x in ids_list]}",
              flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="fixture root, e.g. tests/fixtures/golden")
    p.add_argument("--only", choices=["all", "decoders", "bert"], default="all",
                   help="which fixture family to make (default: all)")
    args = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    if args.only in ("all", "bert"):
        make_bert_fixtures(args.out)
    if args.only == "bert":
        return
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
