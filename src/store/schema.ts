/**
 * The store: one SQLite file per screen (WAL). Documented in the README; every table is plain SQL that any
 * SQLite tool can read.
 */
export const SCHEMA_VERSION = 4;

/** The runs table (schema 3): the processes that fill a store, so that a second run joins the first. */
const RUNS = `
CREATE TABLE IF NOT EXISTS runs (   -- processes filling the store: a second run joins (local) or is refused (coordinator)
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,               -- local | coordinator
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  process_key TEXT NOT NULL,        -- boot id and start time of the process (Linux), so a reused pid is not taken for it
  mutascan_version TEXT NOT NULL,
  started_at TEXT NOT NULL,
  heartbeat_ms INTEGER NOT NULL,    -- last sign of life (Unix ms): how a run on another host is known to be alive
  ended_at TEXT                     -- NULL while it runs (or until it is found dead)
);
`;

/**
 * What each worker of a distributed run has done (written by the coordinator as their batches come back), for
 * `status` and the live view. Statistics only: a store without it (made before 0.3.0) is complete all the same,
 * so it is created where missing rather than by a schema migration.
 */
export const WORKERS = `
CREATE TABLE IF NOT EXISTS workers (  -- per worker of a distributed run (run --queue): batches and mutants it returned
  name TEXT PRIMARY KEY,            -- host and pid, as the worker reports them
  batches INTEGER NOT NULL,
  mutants INTEGER NOT NULL,
  seconds REAL NOT NULL,            -- time spent evaluating them, summed over its batches
  first_ms INTEGER NOT NULL,        -- Unix ms of its first and latest batch
  last_ms INTEGER NOT NULL
);
`;

/**
 * First-order predictions (`mutascan predict`), per mutant and generate assay. Like `workers`, created where
 * missing: a store without it simply has no predictions.
 */
export const PREDICTIONS = `
CREATE TABLE IF NOT EXISTS predictions (  -- mutascan predict: per mutant and generate assay, screened or not
  mutant_id INTEGER NOT NULL REFERENCES mutants(id),
  assay_id INTEGER NOT NULL REFERENCES assays(id),
  predicted_margin REAL NOT NULL,   -- lowest first-order predicted margin over the baseline's steps; below 0 = predicted NSM
  step INTEGER NOT NULL,            -- the generated step (0-based) that lowest margin is at
  PRIMARY KEY (mutant_id, assay_id)
) WITHOUT ROWID;
`;

/**
 * The numerics the screen's results were computed with (Backend.numerics, docs/numerics.md): every run, local or
 * distributed, and every worker must compute the same bits, so a store of mixed machines still holds one answer.
 * Created where missing; a store without it gets the numerics of the next run.
 */
export const NUMERICS = `
CREATE TABLE IF NOT EXISTS numerics (  -- what the results' bits depend on besides model and inputs (one row)
  id INTEGER PRIMARY KEY CHECK (id = 1),
  numerics TEXT NOT NULL,           -- e.g. native/f32-fma16/bf16-dp/ops-vector
  recorded_at TEXT NOT NULL
);
`;

/**
 * Each commit's mutants, in commit order: what the live view reads to find what is new without looking through
 * the plan (a run in predicted order finishes mutants all over it). Created where missing, like `workers`; a store
 * written by an older mutascan has none, and the live view falls back to scanning.
 */
export const DONE_LOG = `
CREATE TABLE IF NOT EXISTS done_log (  -- per commit of results: the mutants it marked done (how the live view finds new results)
  seq INTEGER PRIMARY KEY,
  ordinals BLOB NOT NULL            -- their ordinals, little-endian int32
);
`;

/**
 * Double mutants (`pairs:` in a screen file), screened once the singles are done, and their results (the
 * columns of `results`). Created where missing, like `workers`: a store without them has no pairs.
 */
export const PAIRS = `
CREATE TABLE IF NOT EXISTS pairs (  -- double mutants: two singles of the plan applied together
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,        -- the two singles' keys joined by + in canonical order (docs/scores.md)
  a INTEGER NOT NULL REFERENCES mutants(id),
  b INTEGER NOT NULL REFERENCES mutants(id),
  done INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS pair_results (  -- per pair and assay, as results holds them per single
  pair_id INTEGER NOT NULL REFERENCES pairs(id),
  assay_id INTEGER NOT NULL REFERENCES assays(id),
  silent INTEGER NOT NULL,
  phenotype_id INTEGER REFERENCES phenotypes(id),
  first_divergence INTEGER,
  similarity REAL,
  destructive INTEGER NOT NULL,
  n_tokens INTEGER NOT NULL,
  tie INTEGER NOT NULL DEFAULT 0,
  accuracy REAL,
  accuracy_change REAL,
  kl_mean REAL,
  kl_max REAL,
  loglik_change REAL,
  argmax_changes INTEGER,
  PRIMARY KEY (pair_id, assay_id)
) WITHOUT ROWID;
`;

/** How an older store becomes this schema: ALTERs that keep every row, run in one transaction by `run`. */
export const MIGRATIONS: { from: number; sql: string }[] = [
  { from: 2, sql: `ALTER TABLE mutants ADD COLUMN claim INTEGER;\n${RUNS}\nUPDATE screen SET schema_version = 3;` },
  // the layout of targets made before schema 4 is filled in by the next run, which knows the model
  { from: 3, sql: 'ALTER TABLE targets ADD COLUMN layout TEXT;\nALTER TABLE screen ADD COLUMN tokenizer_path TEXT;\nUPDATE screen SET schema_version = 4;' },
];

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS screen (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  schema_version INTEGER NOT NULL,
  spec_yaml TEXT NOT NULL,          -- the screen file as given
  spec_hash TEXT NOT NULL,          -- sha256 of the normalised plan (targets, unit, kinds, assays)
  model_path TEXT NOT NULL,
  model_fingerprint TEXT NOT NULL,
  backend TEXT NOT NULL,            -- the backend the results were computed with
  total_mutants INTEGER NOT NULL,   -- the null mutant included
  created_at TEXT NOT NULL,
  mutascan_version TEXT NOT NULL,
  tokenizer_path TEXT               -- a llama2.c model's tokenizer.bin as the screen file named it (schema 4); NULL when the model carries its own
);
CREATE TABLE IF NOT EXISTS assays (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,               -- generate | choice | likelihood
  settings_json TEXT NOT NULL,
  prompt_ids_json TEXT NOT NULL     -- generate: the prompt's ids; choice, likelihood: each question's or text's ids
);
CREATE TABLE IF NOT EXISTS baselines (
  assay_id INTEGER PRIMARY KEY REFERENCES assays(id),
  ids_json TEXT NOT NULL,           -- the unmutated model's output: generated ids; choice: each question's answer token; likelihood: each position's argmax
  text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS targets (
  id INTEGER PRIMARY KEY,
  short TEXT NOT NULL UNIQUE,       -- 0.q, 4.down, embed, lm_head
  tensor TEXT NOT NULL,             -- checkpoint name
  layer INTEGER,                    -- NULL for embed / lm_head
  matrix TEXT NOT NULL,             -- q k v o gate up down embed lm_head
  rows INTEGER NOT NULL,
  cols INTEGER NOT NULL,
  max REAL NOT NULL,                -- of the unmutated matrix
  min REAL NOT NULL,
  layout TEXT                       -- the order of its rows: huggingface, or llama2c for q/k of llama2.c checkpoints (schema 4; NULL in older stores)
);
CREATE TABLE IF NOT EXISTS mutants (
  id INTEGER PRIMARY KEY,           -- ordinal in the plan; 0 is the null mutant
  key TEXT NOT NULL UNIQUE,         -- e.g. 3.down:0,64+64x64:max
  target_id INTEGER REFERENCES targets(id),
  row INTEGER, col INTEGER, rows INTEGER, cols INTEGER,
  kind TEXT NOT NULL,               -- max min zero negate value:x scale:k, or null
  value REAL,                       -- the value written (max/min/zero/value), NULL for scale/negate/null
  done INTEGER NOT NULL DEFAULT 0,  -- set in the same transaction as the mutant's results
  claim INTEGER                     -- the run (runs.id) evaluating it now; NULL when free (schema 3)
);
CREATE INDEX IF NOT EXISTS mutants_pending ON mutants(done, id);
CREATE TABLE IF NOT EXISTS phenotypes (
  id INTEGER PRIMARY KEY,
  assay_id INTEGER NOT NULL REFERENCES assays(id),
  hash TEXT NOT NULL,               -- sha1 of the generated ids
  ids_json TEXT NOT NULL,
  text TEXT NOT NULL,
  -- where the output parts from the baseline, in UTF-16 code units of the texts (what JavaScript's String
  -- indexes): the first divergent token is text[diverge_at, diverge_end), the baseline's at that step is
  -- baseline.text[diverge_at, baseline_end); the report marks them
  diverge_at INTEGER NOT NULL,
  diverge_end INTEGER NOT NULL,
  baseline_end INTEGER NOT NULL,
  UNIQUE (assay_id, hash)
);
CREATE TABLE IF NOT EXISTS results (
  mutant_id INTEGER NOT NULL REFERENCES mutants(id),
  assay_id INTEGER NOT NULL REFERENCES assays(id),
  silent INTEGER NOT NULL,          -- 1 = same output as the baseline
  phenotype_id INTEGER REFERENCES phenotypes(id),  -- NULL when silent
  first_divergence INTEGER,         -- index of the first generated token that differs; NULL when silent
  similarity REAL,                  -- 1 - token Levenshtein distance / longer length
  destructive INTEGER NOT NULL,     -- empty, looping, or mostly non-text output
  n_tokens INTEGER NOT NULL,
  tie INTEGER NOT NULL DEFAULT 0,   -- some decision of the output was within the tie epsilon (float-fragile; re-checked on the plain path where the backend is not row-exact)
  -- measured values, NULL where the assay does not measure them:
  accuracy REAL,                    -- choice: share of questions answered right
  accuracy_change REAL,             -- choice: accuracy minus the baseline's
  kl_mean REAL,                     -- likelihood: mean over positions of KL(baseline || mutant), nats
  kl_max REAL,                      -- likelihood: max over positions of that KL
  loglik_change REAL,               -- likelihood: the texts' total log-likelihood minus the baseline's, nats
  argmax_changes INTEGER,           -- likelihood: positions whose most likely next token changed
  PRIMARY KEY (mutant_id, assay_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parked (  -- batches a distributed run (run --queue) gave up on; the next run retries them
  batch TEXT PRIMARY KEY,           -- the job id: m<first ordinal>
  first INTEGER NOT NULL, count INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  error TEXT NOT NULL,
  parked_at TEXT NOT NULL
);
${RUNS}${WORKERS}${PREDICTIONS}${DONE_LOG}${NUMERICS}`;
