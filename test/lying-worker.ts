// A program on the queue that is not an honest mutascan worker (scale.test.ts): it takes the published screen's
// batches and returns results of every wrong shape, then exits. node --import tsx lying-worker.ts REDIS N
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const [url, n] = process.argv.slice(2);
const redis = new Redis(url, { maxRetriesPerRequest: null });
let ids: string[] = [];
while (!ids.length) {
  ids = await redis.smembers('mutascan:screens');
  if (!ids.length) await new Promise((r) => setTimeout(r, 100));
}
const screen = JSON.parse((await redis.get(`mutascan:screen:${ids[0]}`))!) as { queue: string };
const silent = { silent: true, firstDivergence: null, similarity: null, destructive: false, nTokens: 3, tie: false };
// each job gets the next lie in turn
const lies = [
  (b: { first: number; count: number }) => ({ results: [{ ordinal: b.first + b.count + 5, outcomes: [silent, silent] }] }),
  () => ({ results: 'all silent' }),
  (b: { first: number; count: number }) => ({ results: Array.from({ length: b.count }, (_, i) => ({ ordinal: b.first + i, outcomes: [silent] })) }),
  (b: { first: number; count: number }) => ({ results: [...Array.from({ length: b.count }, (_, i) => ({ ordinal: b.first + i, outcomes: [silent, silent] })), { ordinal: b.first, outcomes: [silent, silent] }] }),
  (b: { first: number; count: number }) => ({
    results: Array.from({ length: b.count }, (_, i) => ({ ordinal: b.first + i, outcomes: [silent, { ...silent, silent: false, phenotype: { key: 'x', ids: [1, 99999], text: 'x', divergeAt: 0, divergeEnd: 1, baselineEnd: 1 } }] })),
  }),
  () => null,
];
let served = 0;
const worker = new Worker(
  screen.queue,
  async (job) => lies[served++ % lies.length](job.data as { first: number; count: number }),
  { connection: new Redis(url, { maxRetriesPerRequest: null }), concurrency: 1 },
);
worker.on('error', () => {});
while (served < Number(n)) await new Promise((r) => setTimeout(r, 50));
await worker.close(true);
// the worker's own connection would keep the process alive
process.exit(0);
