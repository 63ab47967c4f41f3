#!/usr/bin/env python3
"""The method a user would otherwise run, as the peer of `npm run bench:7b`: the paper's mutagenesis loop written
the Hugging Face way in PyTorch (Debian's python3-torch), bf16 weights, one sampled generation with a KV cache per
mutant (temperature 0.7, top-k 50, the seed reset before each generation, as the paper's presets), the block
written before and restored after. The forward pass is test/reference/llama_reference.py's, with a KV cache added.

stdin: JSON {"model": folder, "prompt_ids": [...], "max_length": 150, "target": "model.layers.1.mlp.down_proj.weight",
"blocks": [[row, col, "max"|"min"], ...], "block": 64, "threads": 2}
stdout: JSON {"seconds": [per mutant], "tokens": [generated per mutant], "load_seconds": s, "torch": version}
"""
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "reference"))
from llama_reference import inv_freq, load_folder  # noqa: E402


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Llama:
    """A bf16 Llama with a KV cache: what transformers' LlamaForCausalLM does at generation, in plain torch."""

    def __init__(self, cfg, t):
        self.cfg = cfg
        self.t = {k: v.to(torch.bfloat16) for k, v in t.items()}
        self.nh = cfg["num_attention_heads"]
        self.nkv = cfg.get("num_key_value_heads", self.nh)
        self.hd = cfg.get("head_dim") or cfg["hidden_size"] // self.nh
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        self.inv = inv_freq(cfg, self.hd)
        self.head = self.t["lm_head.weight"] if "lm_head.weight" in self.t else self.t["model.embed_tokens.weight"]

    def norm(self, x, w):
        xf = x.float()
        return (w * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(torch.bfloat16))

    def forward(self, ids, cache, start):
        t = self.t
        T = len(ids)
        x = t["model.embed_tokens.weight"][torch.tensor(ids)]
        pos = torch.arange(start, start + T, dtype=torch.float32)
        freqs = torch.outer(pos, self.inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(torch.bfloat16), emb.sin().to(torch.bfloat16)
        for l in range(self.cfg["num_hidden_layers"]):
            p = f"model.layers.{l}."
            h = self.norm(x, t[p + "input_layernorm.weight"])
            q = (h @ t[p + "self_attn.q_proj.weight"].T).view(T, self.nh, self.hd).transpose(0, 1)
            k = (h @ t[p + "self_attn.k_proj.weight"].T).view(T, self.nkv, self.hd).transpose(0, 1)
            v = (h @ t[p + "self_attn.v_proj.weight"].T).view(T, self.nkv, self.hd).transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if l in cache:
                k = torch.cat((cache[l][0], k), dim=1)
                v = torch.cat((cache[l][1], v), dim=1)
            cache[l] = (k, v)
            kk = k.repeat_interleave(self.nh // self.nkv, dim=0)
            vv = v.repeat_interleave(self.nh // self.nkv, dim=0)
            # (Debian 12's torch 1.13 has no scaled_dot_product_attention: the same, written out)
            scores = (q @ kk.transpose(-1, -2)) / math.sqrt(self.hd)
            if T > 1:
                Tk = kk.shape[1]
                allowed = torch.arange(Tk)[None, :] <= (Tk - T + torch.arange(T))[:, None]
                scores = scores.masked_fill(~allowed, -math.inf)
            o = torch.softmax(scores.float(), dim=-1).to(torch.bfloat16) @ vv
            x = x + o.transpose(0, 1).reshape(T, self.nh * self.hd) @ t[p + "self_attn.o_proj.weight"].T
            h = self.norm(x, t[p + "post_attention_layernorm.weight"])
            g = torch.nn.functional.silu(h @ t[p + "mlp.gate_proj.weight"].T)
            u = h @ t[p + "mlp.up_proj.weight"].T
            x = x + (g * u) @ t[p + "mlp.down_proj.weight"].T
        x = self.norm(x[-1:], t["model.norm.weight"])
        return (x @ self.head.T).float()[0]

    def generate(self, prompt, max_length, temperature=0.7, top_k=50, seed=0):
        torch.manual_seed(seed)
        cache = {}
        logits = self.forward(prompt, cache, 0)
        out = []
        for step in range(max_length - len(prompt)):
            scores = logits / temperature
            kth = torch.topk(scores, top_k).values[-1]
            scores = scores.masked_fill(scores < kth, -math.inf)
            token = int(torch.multinomial(torch.softmax(scores, -1), 1))
            out.append(token)
            if token == 2:
                break
            logits = self.forward([token], cache, len(prompt) + step)
        return out


def main():
    job = json.load(sys.stdin)
    torch.set_num_threads(job.get("threads", 2))
    t0 = time.perf_counter()
    cfg, t = load_folder(job["model"])
    model = Llama(cfg, t)
    del t
    load = time.perf_counter() - t0
    W = model.t[job["target"]]
    b = job["block"]
    wmax, wmin = W.max(), W.min()
    seconds, tokens = [], []
    with torch.no_grad():
        for row, col, kind in job["blocks"]:
            start = time.perf_counter()
            saved = W[row:row + b, col:col + b].clone()
            W[row:row + b, col:col + b] = wmax if kind == "max" else wmin
            ids = model.generate(job["prompt_ids"], job["max_length"])
            W[row:row + b, col:col + b] = saved
            seconds.append(time.perf_counter() - start)
            tokens.append(len(ids))
    json.dump({"seconds": seconds, "tokens": tokens, "load_seconds": load, "torch": torch.__version__}, sys.stdout)


if __name__ == "__main__":
    main()
