import type { PhenotypeFamily } from './families.js';

/** The columns of `mutascan phenotypes` (CSV) and the report's tables/phenotypes.csv. */
export const PHENOTYPE_COLUMNS = ['assay', 'phenotype', 'mutants', 'styles', 'like_baseline', 'cluster', 'similarity', 'x', 'y', 'divergent_word', 'baseline_word', 'targets', 'layers', 'n_tokens', 'excerpt'] as const;

/** One flat record per phenotype (CSV and the report's table). */
export function phenotypeRecord(f: PhenotypeFamily): Record<(typeof PHENOTYPE_COLUMNS)[number], string | number | boolean | null> {
  return {
    assay: f.assay, phenotype: f.id, mutants: f.mutants, styles: f.styles.join(' '), like_baseline: f.likeBaseline, cluster: f.cluster,
    similarity: f.similarity === null ? null : Number(f.similarity.toFixed(4)), x: f.x === null ? null : Number(f.x.toFixed(4)), y: f.y === null ? null : Number(f.y.toFixed(4)),
    divergent_word: f.divergentWord, baseline_word: f.baselineWord, targets: f.targets.map((t) => `${t.target}×${t.mutants}`).join(' '), layers: f.layers.join(' '),
    n_tokens: f.nTokens, excerpt: f.excerpt,
  };
}
