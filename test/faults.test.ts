/**
 * Faults a long screen meets, on real processes, a real file system that fills up, real SQLite damage and a
 * real redis-server with a password and with TLS. After each, the store's results equal an uninterrupted run's
 * for every mutant completed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statfsSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { CLI, expectCleanError, ROOT, runCli, storedCount, storeRows, STORIES_BIN, STORIES_TOK, tempDir } from './helpers.js';
import { makeCertificates, RedisServer } from './redis-server.js';

const dir = tempDir('faults');
const mounts: string[] = [];
after(() => {
  for (const m of mounts) spawnSync('umount', [m]);
  dir.remove();
});

/** A sampled element screen of 1.k (4,097 mutants, nearly all NSMs): about ten seconds of work for one process. */
const spec = join(dir.path, 'sampled.yaml');
writeFileSync(
  spec,
  `model: ${STORIES_BIN}\ntokenizer: ${STORIES_TOK}\ntargets: ["1.k"]\nunit: element\nkinds: [max, min]\nassays:\n  - name: once\n    type: generate\n    prompt: "Once upon a time"\n    max_length: 100\n    temperature: 0.7\n    top_p: 0.9\n    seed: 42\n`,
);
const reference = join(dir.path, 'reference.sqlite');
let referenceRows: string[];
before(() => {
  const r = runCli(['run', spec, '--store', reference, '--jobs', '1']);
  assert.equal(r.status, 0, r.stderr);
  referenceRows = storeRows(reference);
  assert.equal(referenceRows.length, 4097);
});

interface Proc {
  child: ChildProcess;
  log(): string;
  exited: Promise<number | null>;
}

function start(args: string[], env: Record<string, string> = {}, cli = CLI): Proc {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, log: () => log, exited };
}

async function until(what: string, test: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!test()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Every stored result is the reference's (for a store that is part way). */
function assertSubsetOfReference(store: string): number {
  const rows = storeRows(store);
  const ref = new Set(referenceRows);
  for (const r of rows) assert.ok(ref.has(r), `a stored result differs from the uninterrupted run's: ${r.slice(0, 200)}`);
  return rows.length;
}

/** Mutants evaluated by one run, from its last line. */
function evaluatedBy(log: string): number {
  const m = /\((\d+) now,/.exec(log) ?? /\((\d+) mutants evaluated here,/.exec(log);
  assert.ok(m, log);
  return Number(m[1]);
}

describe('two runs on one store', () => {
  it('a second run joins the first: disjoint mutants, none evaluated twice (counted), the store of one run', async () => {
    const store = join(dir.path, 'joined.sqlite');
    const a = start(['run', spec, '--store', store, '--jobs', '1', '--threads', '1']);
    await until('the first run to store 200 mutants', () => storedCount(store) >= 200);
    const b = start(['run', spec, '--store', store, '--jobs', '1', '--threads', '1']);
    assert.equal(await a.exited, 0, a.log());
    assert.equal(await b.exited, 0, b.log());
    assert.match(b.log(), /note: another run is filling this store \(pid \d+ on .*\): this run joins it/);
    const na = evaluatedBy(a.log());
    const nb = evaluatedBy(b.log());
    assert.ok(na > 0 && nb > 0, `${na} + ${nb}`);
    assert.equal(na + nb, 4097, `evaluations: ${na} by the first run + ${nb} by the second`);
    assert.deepEqual(storeRows(store), referenceRows);
    const st = runCli(['status', store]);
    assert.doesNotMatch(st.stdout, /being filled|left mutants claimed/);
  });

  it('the claims of a run killed with -9 are taken over; the store equals an uninterrupted run', async () => {
    const store = join(dir.path, 'killed.sqlite');
    const a = start(['run', spec, '--store', store, '--jobs', '1', '--threads', '1']);
    await until('the first run to store 200 mutants', () => storedCount(store) >= 200);
    const b = start(['run', spec, '--store', store, '--jobs', '1', '--threads', '1']);
    await until('the second run to join', () => /joins it/.test(b.log()));
    await sleep(500);
    a.child.kill('SIGKILL');
    await a.exited;
    const st = runCli(['status', store]);
    assert.match(st.stdout, /a run that is gone left mutants claimed \(pid \d+/);
    assert.equal(await b.exited, 0, b.log());
    assert.match(b.log(), /\d+ mutants claimed by a run that is gone are taken over/);
    assert.match(b.log(), /screen complete: 4097 mutants/);
    assert.deepEqual(storeRows(store), referenceRows);
  });
});

/** A file system of `bytes` (tmpfs) at `path`, or false where this machine does not allow mounting. */
function mountSmall(path: string, bytes: number): boolean {
  mkdirSync(path, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', path]);
  if (r.status !== 0) return false;
  mounts.push(path);
  return true;
}

/** Fills the file system of `path` until `leave` bytes are free; returns the filler's path. */
function fill(path: string, leave: number): string {
  const filler = join(path, 'filler');
  const s = statfsSync(path);
  const size = s.bavail * s.bsize - leave;
  writeFileSync(filler, Buffer.alloc(Math.max(0, size)));
  return filler;
}

describe('a full disk', () => {
  it('filling while a store is made or a run registers: the same message, never a stack trace, and a run that works once space is freed', (t) => {
    const fs = join(dir.path, 'tiny');
    if (!mountSmall(fs, 24 * 2 ** 20)) return t.skip('mounting is not permitted here');
    // every layer matrix: making its store writes about 40 MB of mutant rows, more than this disk holds
    const all = join(dir.path, 'all.yaml');
    writeFileSync(all, readFileSync(spec, 'utf8').replace('targets: ["1.k"]', 'targets: all'));
    for (const [screen, leave] of [[all, 20 << 20], [all, 4 << 20], [spec, 256 << 10], [spec, 64 << 10], [spec, 16 << 10]] as const) {
      const store = join(fs, `s${leave}.sqlite`);
      const filler = fill(fs, leave);
      const r = runCli(['run', screen, '--store', store, '--jobs', '1', '--limit', '200']);
      expectCleanError(r, /(the disk holding the store is full|cannot write the store|cannot create the store).*(run the same command to resume|choose)/s);
      rmSync(filler);
      const again = runCli(['run', spec, '--store', join(fs, `again${leave}.sqlite`), '--jobs', '1', '--limit', '20']);
      assert.equal(again.status, 0, again.stderr);
      for (const f of readdirSync(fs)) rmSync(join(fs, f), { force: true });
    }
  });

  it('stops the run with the store and the space it needs named, keeps every committed result, resumes once space is freed; report and export likewise', async (t) => {
    const fs = join(dir.path, 'small');
    const store = join(fs, 'screen.sqlite');
    let filler: string | undefined;
    let r: ReturnType<typeof runCli>;
    if (mountSmall(fs, 24 * 2 ** 20)) {
      // the disk fills once the first results are committed (a fixed amount of free space would depend on how
      // many mutants the machine evaluates before its first commit)
      const p = start(['run', spec, '--store', store, '--jobs', '1']);
      await until('the first committed results', () => storedCount(store) > 1);
      filler = fill(fs, 64 * 1024);
      r = { status: await p.exited, stdout: '', stderr: p.log() };
      expectCleanError(r, /the disk holding the store is full \([\d.]+ MiB free\) \(in .*screen\.sqlite\) — free about [\d.]+ MiB .*every result committed so far is kept; run the same command to resume/);
    } else {
      // no mount here: the store's files capped at 1.2 MB by the process's file size limit
      t.diagnostic('mount not permitted: the store is capped with prlimit --fsize instead');
      mkdirSync(fs, { recursive: true });
      const p = spawnSync('prlimit', [`--fsize=${1200 * 1024}`, process.execPath, CLI, 'run', spec, '--store', store, '--jobs', '1'], { encoding: 'utf8' });
      r = { status: p.status, stdout: p.stdout, stderr: p.stderr };
      expectCleanError(r, /(the disk holding the store is full|cannot write the store).*every result committed so far is kept; run the same command to resume/);
    }
    const kept = storedCount(store);
    assert.ok(kept > 1 && kept < 4097, `${kept} mutants kept`);
    assert.equal(assertSubsetOfReference(store), kept);
    const st = runCli(['status', store]);
    assert.equal(st.status, 0, st.stderr);
    assert.match(st.stdout, new RegExp(`${kept - 1} of 4096 mutants done`));

    if (filler) rmSync(filler);
    const again = runCli(['run', spec, '--store', store, '--jobs', '1']);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`resuming .*: ${kept} of 4097 mutants already done`));
    assert.deepEqual(storeRows(store), referenceRows);

    if (!filler) return;
    // the report's folder and an export on a full disk: a message, no half-written file, and they work once freed
    filler = fill(fs, 64 * 1024);
    const out = join(fs, 'report');
    expectCleanError(runCli(['report', store, '--out', out]), /cannot write the report: the disk is full \([\d.]+ MiB free\); nothing half-written was left behind .*run `mutascan report` again/);
    const written = (d: string): string[] => (existsSync(d) ? readdirSync(d, { recursive: true }).map(String) : []);
    assert.deepEqual(written(out).filter((f) => f.endsWith('.part')), []);
    expectCleanError(runCli(['export', store, '--format', 'csv', '--out', join(fs, 'all.csv')]), /cannot write the export: the disk is full.*\(in .*all\.csv\)/);
    assert.ok(!existsSync(join(fs, 'all.csv')) && !existsSync(join(fs, 'all.csv.part')));
    rmSync(filler);
    const report = runCli(['report', store, '--out', out]);
    assert.equal(report.status, 0, report.stderr);
    assert.ok(existsSync(join(out, 'index.html')));
    const exported = runCli(['export', store, '--format', 'csv', '--out', join(fs, 'all.csv')]);
    assert.equal(exported.status, 0, exported.stderr);
  });
});

/** Overwrites one page of `table` (a leaf, or page 1) with random bytes, as a failing disk would. */
function garble(store: string, table: string | 1): number {
  const db = new Database(store, { readonly: true });
  const size = db.pragma('page_size', { simple: true }) as number;
  const leaves = table === 1 ? [1] : (db.prepare("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno").pluck().all(table) as number[]);
  db.close();
  const page = leaves[Math.floor(leaves.length / 2)];
  const fd = openSync(store, 'r+');
  writeSync(fd, randomBytes(size), 0, size, (page - 1) * size);
  closeSync(fd);
  return page;
}

function integrity(store: string): string {
  const db = new Database(store, { readonly: true });
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

describe('a damaged store', () => {
  for (const table of ['results', 'mutants'] as const) {
    it(`a page of garbage in its ${table}: status and run say so; repair keeps what is readable and the repaired store finishes identical`, () => {
      const store = join(dir.path, `damaged-${table}.sqlite`);
      copyFileSync(reference, store);
      garble(store, table);
      const st = runCli(['status', store]);
      assert.equal(st.status, 1);
      assert.match(st.stdout, /the store is damaged \((database disk image is malformed|SQLite's quick check: .+)\)/);
      const readable = /readable: the results of ([\d,]+) mutants \(of 4,097/.exec(st.stdout);
      assert.ok(readable, st.stdout);
      assert.match(st.stdout, table === 'results' ? /finished mutants lose a result or phenotype and are re-queued/ : /mutant rows are unreadable \(the next run makes them again/);
      expectCleanError(runCli(['run', spec, '--store', store]), /the store is damaged .*mutascan repair .* --out fixed\.sqlite/);

      const fixed = join(dir.path, `fixed-${table}.sqlite`);
      const rep = runCli(['repair', store, '--out', fixed]);
      assert.equal(rep.status, 0, rep.stderr);
      assert.match(rep.stdout, new RegExp(`readable: the results of ${readable[1]} mutants`));
      assert.equal(integrity(fixed), 'ok');
      const kept = storedCount(fixed);
      assert.equal(kept.toLocaleString('en-US'), readable[1]);
      assert.ok(kept > 3000 && kept < 4097, `${kept}`);
      assert.equal(assertSubsetOfReference(fixed), kept);
      expectCleanError(runCli(['repair', store, '--out', fixed]), /the output file exists/);

      const run = runCli(['run', spec, '--store', fixed, '--jobs', '1']);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stderr, new RegExp(`screen complete: 4097 mutants \\(${4097 - kept} now`));
      assert.deepEqual(storeRows(fixed), referenceRows);
    });
  }

  it('a garbled page that no count reads (an index): status checks every page and says the store is damaged', () => {
    const store = join(dir.path, 'damaged-index.sqlite');
    copyFileSync(reference, store);
    garble(store, 'sqlite_autoindex_mutants_1');
    const st = runCli(['status', store]);
    assert.equal(st.status, 1, st.stdout + st.stderr);
    assert.match(st.stdout, /the store is damaged \(SQLite's quick check: .+\)/);
    assert.match(st.stdout, /keep them with: mutascan repair/);
  });

  it('a garbled first page, a log without its database, a foreign SQLite file: a message each, no stack', () => {
    const store = join(dir.path, 'header.sqlite');
    copyFileSync(reference, store);
    garble(store, 1);
    expectCleanError(runCli(['status', store]), /not an SQLite database \(file is not a database\): it is not a store, or its first page is damaged/);
    expectCleanError(runCli(['repair', store, '--out', join(dir.path, 'x.sqlite')]), /SQLite cannot read this file at all .*nothing can be salvaged/);

    const orphan = join(dir.path, 'orphan.sqlite');
    writeFileSync(`${orphan}-wal`, readFileSync(reference).subarray(0, 8192));
    for (const args of [['status', orphan], ['run', spec, '--store', orphan]])
      expectCleanError(runCli(args), /the store's database file is missing, but its write-ahead log .*orphan\.sqlite-wal is there .*put the database file back/);
    assert.ok(!existsSync(orphan), 'nothing was created beside the log');

    const foreign = join(dir.path, 'foreign.sqlite');
    const db = new Database(foreign);
    db.exec('CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES (\'mine\')');
    db.close();
    expectCleanError(runCli(['status', foreign]), /not a mutascan store/);
    expectCleanError(runCli(['run', spec, '--store', foreign]), /not a mutascan store/);
  });
});

describe('store versions', () => {
  const fixture = join(ROOT, 'test', 'fixtures', 'schema-v2');
  const fixtureSpec = join(fixture, 'screen.yaml');

  it('a store of schema 2 (mutascan 0.1.0) is read by status, migrated by run, and finishes identical to a new run', () => {
    const store = join(dir.path, 'v2.sqlite');
    copyFileSync(join(fixture, 'store.sqlite'), store);
    const st = runCli(['status', store]);
    assert.equal(st.status, 0, st.stderr);
    assert.match(st.stdout, /39 of 480 mutants done/);
    const run = runCli(['run', fixtureSpec, '--store', store, '--jobs', '1']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /note: the store was written with schema 2; migrated to schema 4 \(every result kept\)/);
    const fresh = join(dir.path, 'v3.sqlite');
    assert.equal(runCli(['run', fixtureSpec, '--store', fresh, '--jobs', '1']).status, 0);
    assert.deepEqual(storeRows(store), storeRows(fresh));
    const db = new Database(store, { readonly: true });
    assert.equal(db.prepare('SELECT schema_version FROM screen').pluck().get(), 4);
    db.close();
  });

  it('a store of a newer schema is refused by name', () => {
    const store = join(dir.path, 'future.sqlite');
    copyFileSync(join(fixture, 'store.sqlite'), store);
    const db = new Database(store);
    db.prepare('UPDATE screen SET schema_version = 99').run();
    db.close();
    for (const args of [['status', store], ['run', fixtureSpec, '--store', store]])
      expectCleanError(runCli(args), /the store was written by a newer mutascan \(store schema 99; this mutascan knows schema 4 and older\)/);
  });
});

describe('Redis that is not wide open, and mismatched versions', () => {
  const small = join(ROOT, 'test', 'fixtures', 'schema-v2', 'screen.yaml');
  let smallReference: string[];
  before(() => {
    const store = join(dir.path, 'small-reference.sqlite');
    assert.equal(runCli(['run', small, '--store', store, '--jobs', '1']).status, 0);
    smallReference = storeRows(store);
  });

  const distributed = (redis: RedisServer, name: string, extra: string[] = []): { c: Proc; ws: Proc[] } => {
    const store = join(dir.path, `${name}.sqlite`);
    const c = start(['run', small, '--store', store, '--queue', redis.url, '--batch', '32', ...extra]);
    const ws = [start(['worker', '--queue', redis.url, '--lock-seconds', '1', '--exit-when-idle', '3', ...extra])];
    return { c, ws };
  };

  it('an ACL user with a password: coordinator and worker finish the screen; a wrong password gets a message that never shows it', async () => {
    const password = 'p@ss:w/rd-7419';
    const redis = await RedisServer.start({ user: { name: 'screener', password } });
    try {
      const { c, ws } = distributed(redis, 'acl');
      assert.equal(await c.exited, 0, c.log());
      for (const w of ws) await w.exited;
      assert.deepEqual(storeRows(join(dir.path, 'acl.sqlite')), smallReference);
      assert.ok(!c.log().includes(password) && !ws[0].log().includes(password));

      const wrong = redis.url.replace(encodeURIComponent(password), 'not-it-5521');
      const r = runCli(['run', small, '--store', join(dir.path, 'acl2.sqlite'), '--queue', wrong]);
      expectCleanError(r, /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(.*WRONGPASS.*\).*check the user name and password/);
      assert.ok(!r.stderr.includes('not-it-5521'));
      const bad = runCli(['worker', '--queue', 'redis://screener:secret-9@[::1', '--exit-when-idle', '1']);
      expectCleanError(bad, /"redis:\/\/screener:\*\*\*@\[::1" is not a Redis address/);
      assert.ok(!bad.stderr.includes('secret-9'));
    } finally {
      await redis.stop();
    }
  });

  it('TLS (rediss://) with the CA given: the screen finishes; without the CA a message says to give it', async () => {
    const certs = makeCertificates(dir.path);
    const redis = await RedisServer.start({ tls: certs, user: { name: 'screener', password: 'tls-secret' } });
    try {
      const { c, ws } = distributed(redis, 'tls', ['--redis-ca', certs.ca]);
      assert.equal(await c.exited, 0, c.log());
      for (const w of ws) await w.exited;
      assert.deepEqual(storeRows(join(dir.path, 'tls.sqlite')), smallReference);
      const r = runCli(['worker', '--queue', redis.url, '--exit-when-idle', '1']);
      expectCleanError(r, /cannot reach Redis at rediss:\/\/127\.0\.0\.1:\d+ .*give --redis-ca the PEM file of the CA/);
      expectCleanError(runCli(['worker', '--queue', redis.url.replace('rediss:', 'redis:'), '--redis-ca', certs.ca]), /--redis-ca is for TLS connections/);
    } finally {
      await redis.stop();
    }
  });

  it('a worker of another mutascan version refuses before evaluating anything, and the coordinator says so; a run next to a live coordinator is refused', async () => {
    // a real second installation: this package's code under another version number
    const other = join(dir.path, 'mutascan-0.1.9');
    mkdirSync(other);
    for (const d of ['bin', 'dist']) cpSync(join(ROOT, d), join(other, d), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(other, 'node_modules'));
    symlinkSync(join(ROOT, 'native'), join(other, 'native'));
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    writeFileSync(join(other, 'package.json'), JSON.stringify({ ...pkg, version: '0.1.9' }));

    const redis = await RedisServer.start();
    try {
      const store = join(dir.path, 'skew.sqlite');
      const c = start(['run', small, '--store', store, '--queue', redis.url, '--batch', '32']);
      const old = start(['worker', '--queue', redis.url, '--lock-seconds', '1', '--exit-when-idle', '3'], {}, join(other, 'bin', 'mutascan.js'));
      assert.equal(await old.exited, 2, old.log());
      assert.match(old.log(), new RegExp(`refusing screen \\w+: the coordinator runs mutascan ${pkg.version.replaceAll('.', '\\.')} \\(store schema 4\\); this worker is mutascan 0\\.1\\.9 \\(store schema 4\\).*install mutascan ${pkg.version.replaceAll('.', '\\.')} on this machine`));
      assert.match(old.log(), /ran 0 batches, refused 1 screens/);
      await until('the coordinator to note the refusal', () => /worker .* pid \d+ refused the screen: the coordinator runs mutascan/.test(c.log()), 20_000);
      assert.equal(storedCount(store), 1, 'only the null mutant, by the coordinator');

      for (const args of [['run', small, '--store', store, '--jobs', '1'], ['run', small, '--store', store, '--queue', redis.url]])
        expectCleanError(runCli(args), /a distributed run is filling this store \(its coordinator: pid \d+ on .*\).*mutascan worker --queue/);

      const good = start(['worker', '--queue', redis.url, '--lock-seconds', '1', '--exit-when-idle', '3']);
      assert.equal(await c.exited, 0, c.log());
      await good.exited;
      assert.deepEqual(storeRows(store), smallReference);
    } finally {
      await redis.stop();
    }
  });
});
