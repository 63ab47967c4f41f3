/**
 * Local screening processes (`mutascan run --jobs N`, src/screen/jobs.ts): the same store as one process; a
 * screening process killed mid-run ends the run with a message, keeps what was stored, and the screen resumes
 * to the same results.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { CLI, expectCleanError, runCli, storeRows, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';

const dir = tempDir('jobs');
after(() => dir.remove());

/** Process ids whose parent is `pid` (from /proc, so nothing beyond the kernel is needed). */
function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // the command name (field 2) is in parentheses and may hold spaces: the parent id follows the last ')'
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

function stored(path: string): number {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM results').get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mutascan run --jobs', () => {
  const spec = join(dir.path, 'screen.yaml');
  const single = join(dir.path, 'single.sqlite');
  before(() => {
    // 12,289 element mutants in the first and the last layer
    writeFileSync(
      spec,
      `model: ${STORIES_BIN}\ntokenizer: ${STORIES_TOK}\ntargets: ["0.k", "4.o"]\nunit: element\nkinds: [max, min]\nassays:\n` +
        `  - name: once\n    type: generate\n    prompt: "Once upon a time"\n    max_length: 48\n    temperature: 0\n`,
    );
    const r = runCli(['run', spec, '--store', single, '--jobs', '1']);
    assert.equal(r.status, 0, r.stderr);
  });

  it('two processes store exactly what one process stores', () => {
    const two = join(dir.path, 'two.sqlite');
    const r = runCli(['run', spec, '--store', two, '--jobs', '2']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /screen complete: 12289 mutants .*2 processes/);
    assert.deepEqual(storeRows(two), storeRows(single));
  });

  it('a killed screening process stops the run with a message; the store keeps its results and resumes to the same', async () => {
    const store = join(dir.path, 'killed.sqlite');
    const child = spawn(process.execPath, [CLI, 'run', spec, '--store', store, '--jobs', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // wait until results are being stored, then kill one of the two screening processes
    let kids: number[] = [];
    for (let i = 0; i < 600 && kids.length === 0; i++) {
      await sleep(50);
      const now = childPids(child.pid!);
      // early in the run (a fast machine screens the rest in about a second)
      if (now.length === 2 && stored(store) > 200) kids = now;
    }
    const victim = kids[0];
    assert.ok(victim, 'the run started two screening processes and stored results');
    process.kill(victim, 'SIGKILL');
    const code = await exited;
    expectCleanError({ status: code, stdout: '', stderr }, new RegExp(`screening process ${victim} stopped \\(killed by SIGKILL\\).*run the same command to resume`, 's'));
    const kept = stored(store);
    assert.ok(kept > 200 && kept < 12289, `results stored before the kill are kept (${kept})`);
    await sleep(200);
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    assert.deepEqual(kids.filter(alive), [], 'no screening process is left behind');
    const resumed = runCli(['run', spec, '--store', store, '--jobs', '2']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`resuming .*${kept} of 12289 mutants already done`));
    assert.deepEqual(storeRows(store), storeRows(single));
  });

  it('refuses --jobs 0 and --jobs with --queue', () => {
    expectCleanError(runCli(['run', spec, '--store', join(dir.path, 'x.sqlite'), '--jobs', '0']), /--jobs must be a whole number ≥ 1/);
    expectCleanError(runCli(['run', spec, '--store', join(dir.path, 'y.sqlite'), '--jobs', '2', '--queue', 'redis://127.0.0.1:1']), /--jobs does not go with --queue/);
  });
});
