#!/usr/bin/env python3
"""Reads a mutascan store with Python's sqlite3 and pandas, rebuilds its score table from the raw results, and
checks it against `mutascan export --format scores` (docs/python.md).

    python3 examples/python/scores.py STORE.sqlite SCORES.csv

Needs pandas and SciPy (Debian: python3-pandas python3-scipy). Prints what it compared and a few views of the
data; exits 1 if a value differs."""
import json
import math
import re
import sqlite3
import sys

import pandas as pd
from scipy import stats


def read_store(path):
    """The store's tables as data frames: one row per (mutant, assay) result, with the assay's name split into
    the assay as the screen file named it and its seed (assays with several seeds are stored as name@seed)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    results = pd.read_sql_query(
        """SELECT m.key AS mutant, a.name AS stored_assay, r.silent, r.similarity, r.first_divergence, r.n_tokens,
                  r.loglik_change, r.kl_mean, r.kl_max, r.accuracy, r.accuracy_change
           FROM results r JOIN mutants m ON m.id = r.mutant_id JOIN assays a ON a.id = r.assay_id""",
        con,
    )
    has_pairs = con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'pair_results'").fetchone()[0] > 0
    pairs = (
        pd.read_sql_query(
            """SELECT p.name AS mutant, a.name AS stored_assay, r.silent, r.similarity, r.first_divergence, r.n_tokens,
                      r.loglik_change, r.kl_mean, r.kl_max, r.accuracy, r.accuracy_change
               FROM pair_results r JOIN pairs p ON p.id = r.pair_id JOIN assays a ON a.id = r.assay_id""",
            con,
        )
        if has_pairs
        else None
    )
    types = dict(con.execute("SELECT name, type FROM assays").fetchall())
    # choice assays: how many questions each asks (its prompt_ids_json lists each question's ids)
    questions = {n: len(json.loads(ids)) for n, t, ids in con.execute("SELECT name, type, prompt_ids_json FROM assays") if t == "choice"}
    con.close()
    rows = pd.concat([results, pairs]) if pairs is not None else results
    split = rows["stored_assay"].str.extract(r"^(?P<assay>.+?)(?:@(?P<seed>\d+))?$")
    rows = pd.concat([rows.reset_index(drop=True), split.reset_index(drop=True)], axis=1)
    rows["type"] = rows["stored_assay"].map(types)
    rows["questions"] = rows["stored_assay"].map(questions)
    return rows


def score_of(rows, score):
    if score == "nsm":
        return 1.0 - rows["silent"]
    if score == "loglik":
        return rows["loglik_change"]
    return rows[score]


def wilson(k, n, z=1.959963984540054):
    """Wilson's score interval, from its formula."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (0.0 if k == 0 else max(0.0, centre - half), 1.0 if k == n else min(1.0, centre + half))


def rebuild(rows, table):
    """Per (mutant, assay): the score's mean, SD, SE and 95 % interval over seeds, and the NSM fraction with its
    Wilson interval, computed here from the raw results."""
    out = []
    # the unmutated model's accuracy per choice assay (the null mutant's)
    baseline = rows[rows["mutant"] == "null"].groupby("assay")["accuracy"].first()
    for (mutant, assay), g in rows.groupby(["mutant", "assay"], sort=False):
        kind = table.loc[(mutant, assay), "score_type"]
        x = score_of(g, kind).dropna().astype(float)
        n = len(x)
        nsm = int((g["silent"] == 0).sum())
        row = {"mutant": mutant, "assay": assay, "score": x.mean(), "n": n, "nsm": nsm, "nsm_fraction": nsm / len(g)}
        row["nsm_ci_lower"], row["nsm_ci_upper"] = wilson(nsm, len(g))
        if n == 1 and kind == "accuracy_change":
            # one replicate of a choice assay: the binomial interval of its accuracy over the questions, shifted
            q = int(g["questions"].iloc[0])
            base = baseline[assay]
            acc = x.iloc[0] + base
            row["se"] = math.sqrt(acc * (1 - acc) / q)
            lo, hi = wilson(round(acc * q), q)
            row["ci_lower"], row["ci_upper"] = lo - base, hi - base
        if n >= 2:
            row["sd"] = x.std(ddof=1)
            row["se"] = row["sd"] / math.sqrt(n)
            if kind == "nsm":
                row["ci_lower"], row["ci_upper"] = wilson(int(x.sum()), n)
            else:
                t = stats.t.ppf(0.975, n - 1)
                row["ci_lower"], row["ci_upper"] = row["score"] - t * row["se"], row["score"] + t * row["se"]
        out.append(row)
    return pd.DataFrame(out).set_index(["mutant", "assay"])


SINGLE = re.compile(r"\+(?=(?:\d+\.[a-z_]+|embed|final_norm|lm_head):)")


def additivity(rows):
    """Per pair (a name a+b) and log-likelihood assay: the sum of its singles' changes, and the pair's own change
    minus that sum (epistasis), each averaged over seeds."""
    lik = rows[rows["type"] == "likelihood"].set_index(["mutant", "assay", "seed"])["loglik_change"]
    out = []
    for (mutant, assay), g in rows[rows["mutant"].str.contains(SINGLE) & (rows["type"] == "likelihood")].groupby(["mutant", "assay"]):
        a, b = SINGLE.split(mutant)
        expected = [lik[(a, assay, s)] + lik[(b, assay, s)] for s in g["seed"]]
        eps = [o - e for o, e in zip(g["loglik_change"], expected)]
        out.append({"mutant": mutant, "assay": assay, "expected": sum(expected) / len(expected), "epistasis": sum(eps) / len(eps)})
    return pd.DataFrame(out, columns=["mutant", "assay", "expected", "epistasis"]).set_index(["mutant", "assay"])


def main(store, csv):
    rows = read_store(store)
    # the null mutant is named "null", which pandas would otherwise read as missing
    table = pd.read_csv(csv, keep_default_na=False, na_values=[""]).set_index(["mutant", "assay"])
    # a table exported with --assay holds one assay
    rows = rows[rows["assay"].isin(table.index.get_level_values("assay"))]
    mine = rebuild(rows, table).join(additivity(rows))
    both = mine.join(table, lsuffix="_python", rsuffix="_mutascan", how="outer")
    print(f"{store}: {len(rows)} results of {rows['mutant'].nunique()} mutants and pairs, assays {', '.join(sorted(rows['assay'].unique()))}")
    differ = 0
    for col in ["score", "sd", "se", "ci_lower", "ci_upper", "n", "nsm", "nsm_fraction", "nsm_ci_lower", "nsm_ci_upper", "expected", "epistasis"]:
        a = both[f"{col}_python"]
        b = both[f"{col}_mutascan"]
        present = a.notna() | b.notna()
        bad = present & ~((a - b).abs() <= 1e-9 * (1 + b.abs()))
        differ += int(bad.sum())
        print(f"  {col:<13} {int(present.sum()):>7} values compared, {int(bad.sum())} differ")
    print(f"score table rows: {len(table)}, rebuilt here: {len(mine)}")
    # A few views a researcher would start from.
    gen = table[table["score_type"] == "nsm"]
    if len(gen):
        top = gen.sort_values(["nsm_fraction", "nsm_ci_lower"], ascending=False).head(5)
        print("mutants most often NSMs (fraction, 95 % interval):")
        for (m, a), r in top.iterrows():
            print(f"  {a:<10} {m:<30} {r['nsm_fraction']:.3f} [{r['nsm_ci_lower']:.3f}, {r['nsm_ci_upper']:.3f}]")
    if "pair_class" in table and table["pair_class"].notna().any():
        print("pairs by class:", dict(table["pair_class"].dropna().value_counts()))
    if differ or len(table) != len(mine):
        print("the rebuilt table differs from mutascan's")
        return 1
    print("the score table equals the one rebuilt from the store")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
