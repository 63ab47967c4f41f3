#!/usr/bin/env python3
"""Independent reference for mutascan's backward pass: torch.autograd through llama_reference.py's forward.

stdin: JSON list of {"model": folder, "ids": [...], "objectives": [{"position": p, "dlogits": [vocab floats]}],
"matrices": [checkpoint tensor names]}. Objective s is the scalar sum_v dlogits[v] * logits[p][v].
stdout: JSON list (per job) of lists (per objective) of {matrix name: flattened gradient [rows * cols]}.
"""
import json
import sys

import torch

import llama_reference
from llama_reference import forward, load_folder


def mm_straight_through(x, t, name):
    """llama_reference.mm with the bf16 rounding of the input seen by the forward pass only: autograd through
    x.bfloat16().float() would also round every gradient to bf16, noise that is torch's, not the model's."""
    if getattr(t[name], "stored_bf16", False):
        x = x + (x.bfloat16().float() - x).detach()
    return x @ t[name].T


llama_reference.mm = mm_straight_through


def main():
    torch.set_num_threads(1)
    jobs = json.load(sys.stdin)
    out = []
    for job in jobs:
        cfg, t = load_folder(job["model"])
        names = job["matrices"]
        for n in names:
            t[n].requires_grad_(True)
        logits = forward(cfg, t, job["ids"])
        per = []
        for o in job["objectives"]:
            d = torch.tensor(o["dlogits"], dtype=torch.float32)
            scalar = (logits[o["position"]] * d).sum()
            grads = torch.autograd.grad(scalar, [t[n] for n in names], retain_graph=True, allow_unused=True)
            per.append({n: (g if g is not None else torch.zeros_like(t[n])).reshape(-1).tolist() for n, g in zip(names, grads)})
        out.append(per)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
