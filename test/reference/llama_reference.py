#!/usr/bin/env python3
"""Independent reference for mutascan's engine: a plain PyTorch Llama/Mistral/Qwen2 forward pass,
written from the Hugging Face modeling code's semantics (rotate-half RoPE, rope scaling, GQA, q/k/v bias,
sliding window, tied or untied lm_head). It shares no code with mutascan.

Matrices stored as BF16 multiply bf16-rounded inputs with float32 accumulation (torch.autocast(bfloat16)'s
rule for matmuls); everything else is float32.

stdin: JSON list of {"model": folder, "ids": [...]}; stdout: JSON list of logits [positions][vocab].
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        b, e = v["data_offsets"]
        buf = data[b:e]
        if v["dtype"] == "F32":
            a = np.frombuffer(buf, dtype="<f4").copy()
        elif v["dtype"] == "F16":
            a = np.frombuffer(buf, dtype="<f2").astype(np.float32)
        elif v["dtype"] == "BF16":
            a = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(v["dtype"])
        out[name] = torch.from_numpy(a.reshape(v["shape"]).copy())
        if v["dtype"] == "BF16":
            out[name].stored_bf16 = True
    return out


def mm(x, t, name):
    """x @ W^T for the stored matrix `name`; a bf16 matrix sees its input rounded to bf16."""
    if getattr(t[name], "stored_bf16", False):
        x = x.bfloat16().float()
    return x @ t[name].T


def load_folder(folder):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    index = os.path.join(folder, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(index):
        for shard in sorted(set(json.load(open(index))["weight_map"].values())):
            tensors.update(load_safetensors(os.path.join(folder, shard)))
    else:
        tensors = load_safetensors(os.path.join(folder, "model.safetensors"))
    return cfg, tensors


def inv_freq(cfg, head_dim):
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    rs = cfg.get("rope_scaling")
    if rs:
        kind = rs.get("rope_type", rs.get("type"))
        if kind == "linear":
            inv = inv / rs["factor"]
        elif kind == "llama3":
            factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
            old = rs["original_max_position_embeddings"]
            low_wavelen, high_wavelen = old / low, old / high
            wavelen = 2 * math.pi / inv
            scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
            smooth = (old / wavelen - low) / (high - low)
            smoothed = (1 - smooth) * scaled / factor + smooth * scaled
            medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
            inv = torch.where(medium, smoothed, scaled)
    return inv


def rmsnorm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(cfg, t, ids):
    dim = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or dim // nh
    eps = cfg.get("rms_norm_eps", 1e-6)
    mt = cfg["model_type"]
    window = None
    if mt == "mistral":
        window = cfg.get("sliding_window")
    if mt == "qwen2" and cfg.get("use_sliding_window"):
        window = cfg.get("sliding_window")
    T = len(ids)
    x = t["model.embed_tokens.weight"][torch.tensor(ids)]
    pos = torch.arange(T, dtype=torch.float32)
    freqs = torch.outer(pos, inv_freq(cfg, hd))
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    allowed = j <= i
    if window:
        allowed = allowed & (i - j < window)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rmsnorm(x, t[p + "input_layernorm.weight"], eps)

        def proj(name):
            y = mm(h, t, p + f"self_attn.{name}_proj.weight")
            b = t.get(p + f"self_attn.{name}_proj.bias")
            return y if b is None else y + b

        q = proj("q").view(T, nh, hd).transpose(0, 1)
        k = proj("k").view(T, nkv, hd).transpose(0, 1)
        v = proj("v").view(T, nkv, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=0)
        v = v.repeat_interleave(nh // nkv, dim=0)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        s = s.masked_fill(~allowed, float("-inf"))
        o = (torch.softmax(s, dim=-1) @ v).transpose(0, 1).reshape(T, nh * hd)
        x = x + mm(o, t, p + "self_attn.o_proj.weight")
        h = rmsnorm(x, t[p + "post_attention_layernorm.weight"], eps)
        g = torch.nn.functional.silu(mm(h, t, p + "mlp.gate_proj.weight"))
        u = mm(h, t, p + "mlp.up_proj.weight")
        x = x + mm(g * u, t, p + "mlp.down_proj.weight")
    x = rmsnorm(x, t["model.norm.weight"], eps)
    return mm(x, t, "lm_head.weight" if "lm_head.weight" in t else "model.embed_tokens.weight")


def main():
    torch.set_num_threads(1)
    jobs = json.load(sys.stdin)
    cache = {}
    out = []
    with torch.no_grad():
        for job in jobs:
            if job["model"] not in cache:
                cache[job["model"]] = load_folder(job["model"])
            cfg, t = cache[job["model"]]
            out.append(forward(cfg, t, job["ids"]).tolist())
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
