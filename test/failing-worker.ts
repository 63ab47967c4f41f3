// A worker whose one batch always fails (the parking test of scale.test.ts): node --import tsx failing-worker.ts REDIS BATCH
import { runWorker } from '../src/scale/worker.js';

const [queue, batch] = process.argv.slice(2);
await runWorker({
  queue,
  lockMs: 1000,
  idleExitMs: 4000,
  log: () => {},
  beforeBatch: (id) => {
    if (id === batch) throw new Error(`injected failure of batch ${id}`);
  },
});
