/**
 * How well predictions rank the outcomes: AUROC (the chance that a random NSM is ranked above a random silent
 * mutant, ties counting half) and the recall of NSMs among the top k % of the ranking.
 */

export interface RankQuality {
  mutants: number;
  nsms: number;
  auroc: number;
  /** share of all NSMs among the `top` share of mutants ranked first */
  recall: number;
  top: number;
  /** mutants predicted NSM (margin < 0), and how many of them are */
  predictedNsms: number;
  predictedRight: number;
}

/** `score`: lower = more likely an NSM (a predicted margin); `nsm`: the observed outcome. */
export function rankQuality(score: ArrayLike<number>, nsm: ArrayLike<boolean>, top = 0.1): RankQuality {
  const n = score.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[a] - score[b] || a - b);
  let nsms = 0;
  for (let i = 0; i < n; i++) if (nsm[i]) nsms++;
  // Mann–Whitney: ranks from the top of the ranking, ties given their average rank.
  let positiveRankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && score[order[j + 1]] === score[order[i]]) j++;
    const mid = (i + j) / 2;
    for (let k = i; k <= j; k++) if (nsm[order[k]]) positiveRankSum += n - 1 - mid;
    i = j + 1;
  }
  const neg = n - nsms;
  // positives ranked above negatives: Σ over positives of negatives below them
  const auroc = nsms && neg ? (positiveRankSum - (nsms * (nsms - 1)) / 2) / (nsms * neg) : NaN;
  const k = Math.round(n * top);
  let found = 0;
  for (let i = 0; i < k; i++) if (nsm[order[i]]) found++;
  let predictedNsms = 0;
  let predictedRight = 0;
  for (let i = 0; i < n; i++)
    if (score[i] < 0) {
      predictedNsms++;
      if (nsm[i]) predictedRight++;
    }
  return { mutants: n, nsms, auroc, recall: nsms ? found / nsms : NaN, top, predictedNsms, predictedRight };
}
