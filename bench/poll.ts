/**
 * npm run bench:poll [store] — what one poll of the live view (src/serve/watch.ts) costs on the main job's finished
 * store (453,120 mutants; made by `mutascan run` first unless a store of it is given), put back to a screen in
 * progress: starts a watch, commits 64 mutants' results (as a run does: results, done marks and a done_log row in
 * one transaction) and times the poll that finds them, and a poll with nothing new. Two screens in progress: in
 * plan order (the last tenth of the plan pending, the 64 next in plan order) and in predicted order (every other
 * mutant pending, the 64 scattered over the plan, as `run --order predicted` finishes them); each with the store's
 * done_log and without it (a store written before 0.3.0, where the watch scans for holes).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { StoreWatch } from '../src/serve/watch.js';
import { DONE_LOG } from '../src/store/schema.js';
import { Store } from '../src/store/store.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(join(tmpdir(), 'mutascan-bench-poll-'));

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[s.length >> 1];
}

try {
  let source = process.argv[2];
  if (!source) {
    source = join(tmp, 'main.sqlite');
    console.log('running the main job for its store (about a minute)…');
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'mutascan.js'), 'run', join(ROOT, 'examples', 'stories260K-element.yaml'), '--store', source], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
  }
  const work = join(tmp, 'work.sqlite');
  {
    const db = new Database(source);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
  }
  copyFileSync(source, work);
  const db = new Database(work);
  db.exec(DONE_LOG);
  const total = db.prepare('SELECT max(id) FROM mutants').pluck().get() as number;
  const cols = (db.prepare('SELECT count(*) FROM pragma_table_info(?)').pluck().get('results') as number);
  const tenth = Math.floor(total * 0.9);
  const scenarios: { name: string; pending: number[]; commit: number[] }[] = [
    { name: 'plan order', pending: Array.from({ length: total - tenth }, (_, i) => tenth + 1 + i), commit: Array.from({ length: 64 }, (_, i) => tenth + 1 + i) },
    {
      name: 'predicted order',
      pending: Array.from({ length: Math.floor(total / 2) }, (_, i) => 2 * i + 1),
      commit: Array.from({ length: 64 }, (_, i) => 2 * Math.floor(((i + 0.5) * total) / 128) + 1),
    },
  ];
  const select = db.prepare('SELECT * FROM results WHERE mutant_id = ?').raw();
  const ins = db.prepare(`INSERT INTO results VALUES (${new Array(cols).fill('?').join(', ')})`);
  const setDone = db.prepare('UPDATE mutants SET done = ? WHERE id = ?');
  const del = db.prepare('DELETE FROM results WHERE mutant_id = ?');
  for (const sc of scenarios)
    for (const log of [true, false]) {
      const saved = new Map(sc.pending.map((id) => [id, select.all(id) as unknown[][]]));
      db.transaction(() => {
        for (const id of sc.pending) {
          del.run(id);
          setDone.run(0, id);
        }
        if (!log) db.exec('DROP TABLE done_log');
      })();
      const store = Store.open(work);
      const t0 = performance.now();
      const watch = new StoreWatch(store);
      const opened = performance.now() - t0;
      const idle: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        watch.poll();
        idle.push(performance.now() - t);
      }
      const commit = (ids: number[]): void =>
        db.transaction(() => {
          for (const id of ids) {
            for (const r of saved.get(id)!) ins.run(...r);
            setDone.run(1, id);
          }
          if (log) db.prepare('INSERT INTO done_log (ordinals) VALUES (?)').run(Buffer.from(Int32Array.from(ids).buffer));
        })();
      commit(sc.commit);
      const t1 = performance.now();
      const u = watch.poll();
      const found = performance.now() - t1;
      const units = u ? Buffer.from(u.changes, 'base64').length / 20 : 0;
      console.log(
        `${sc.name}, ${sc.pending.length.toLocaleString('en-US')} pending, ${log ? 'with the done_log' : 'without it (holes scan)'}: the poll that finds 64 new mutants ${found.toFixed(1)} ms (${units} results), a poll with nothing new ${median(idle).toFixed(2)} ms (the watch opened in ${(opened / 1000).toFixed(1)} s)`,
      );
      store.close();
      // back to the finished store
      commit(sc.pending.filter((id) => !sc.commit.includes(id)));
      if (!log) db.exec(DONE_LOG);
    }
  db.close();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
