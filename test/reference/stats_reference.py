"""Independent values for the report's statistics, from SciPy and NumPy (Debian's python3-scipy).
Reads cases as JSON on stdin, writes the answers as JSON on stdout."""
import json, sys
import numpy as np
from scipy import stats

cases = json.load(sys.stdin)
out = {}
out["binom"] = [float(stats.binom.sf(k - 1, n, p)) for k, n, p in cases["binom"]]
out["fisher"] = []
for a, b, c, d in cases["fisher"]:
    odds, p = stats.fisher_exact([[a, b], [c, d]])
    out["fisher"].append([None if not np.isfinite(odds) else float(odds), float(p)])

def bh(p):
    # Benjamini-Hochberg step-up, written from the 1995 paper's definition (SciPy 1.10 has no
    # false_discovery_control yet): q_(i) = min over j >= i of p_(j) * m / j, capped at 1.
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    res = np.empty(m)
    res[order] = np.minimum(q, 1.0)
    return res.tolist()

out["bh"] = [bh(p) for p in cases["bh"]]
out["r2"] = [float(stats.pearsonr(x, y)[0] ** 2) for x, y in cases["r2"]]
out["wilson"] = []
for k, n in cases.get("wilson", []):
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    out["wilson"].append([float(ci.low), float(ci.high)])
out["pearson"] = [float(stats.pearsonr(x, y)[0]) for x, y in cases.get("corr", [])]
out["spearman"] = [float(stats.spearmanr(x, y)[0]) for x, y in cases.get("corr", [])]
out["sd"] = [float(np.std(x, ddof=1)) for x in cases.get("sd", [])]
json.dump(out, sys.stdout)
