/**
 * One screening process of a local run with --jobs N (jobs.ts starts it with child_process.fork): loads the
 * screen itself, then evaluates the mutants it is handed and sends their outcomes back. It never touches the
 * store; the parent is its only writer.
 */
import { MutascanError } from '../errors.js';
import { evaluatorFor, prepareScreen } from './runner.js';
import type { JobReply, JobRequest } from './jobs.js';

const send = (m: JobReply): void => {
  process.send!(m);
};

let handle: ((m: JobRequest) => void) | undefined;
const early: JobRequest[] = [];
process.on('message', (m: JobRequest) => (handle ? handle(m) : early.push(m)));
// The parent gone (killed, crashed): nothing left to work for.
process.on('disconnect', () => process.exit(0));

const init = early.shift() ?? (await new Promise<JobRequest>((resolve) => (handle = resolve)));
if (init.type !== 'init') throw new Error('job process: expected init');
try {
  const p = await prepareScreen(init.specFile, init.backend, init.threads);
  const baselines = p.assays.map((a) => a.baselineIds);
  if (JSON.stringify(baselines) !== JSON.stringify(init.baselines))
    throw new MutascanError('a screening process computed other baselines than the main process', init.specFile, 'this is a bug; run with --jobs 1 and please report it');
  const evaluator = evaluatorFor(p, init.plain, init.processes);
  let rechecks = 0;
  const run = (m: JobRequest): void => {
    if (m.type !== 'run') return;
    const results = evaluator.evaluate(m.ordinals.map((x) => p.plan.mutant(x))).map((outcomes, k) => ({ ordinal: m.ordinals[k], outcomes }));
    send({ type: 'done', results, rechecks: evaluator.rechecks - rechecks });
    rechecks = evaluator.rechecks;
  };
  handle = run;
  send({ type: 'ready' });
  for (const m of early.splice(0)) run(m);
} catch (e) {
  const err = e instanceof MutascanError ? { what: e.what, where: e.where, hint: e.hint } : { what: (e as Error).stack ?? String(e) };
  send({ type: 'error', ...err });
  process.disconnect();
}
