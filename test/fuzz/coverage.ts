/**
 * Which lines of mutascan's own code (src/) a fuzz target's inputs have reached, from V8's block coverage
 * through the in-process inspector. The fuzzers are not coverage-guided (their inputs are drawn by fast-check
 * from the formats' structure); this measures how far they reach and whether a longer run still reaches code
 * a shorter one did not.
 */
import { Session } from 'node:inspector';
import { eachMapping, TraceMap } from '@jridgewell/trace-mapping';

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface ScriptCoverage {
  scriptId: string;
  url: string;
  functions: { ranges: Range[] }[];
}

export class LineCoverage {
  private readonly session = new Session();
  /** per script (by V8's id: one URL can name more than one): 1 where a character has run (in the code as loaded, after tsx's transform) */
  private readonly reached = new Map<string, Uint8Array>();
  private readonly sources = new Map<string, string>();

  constructor(private readonly include: (url: string) => boolean) {
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  /** The in-process session answers before `post` returns, so this is synchronous. */
  private post(method: string, params?: object): unknown {
    let out: unknown;
    let err: Error | null = null;
    this.session.post(method, params, (e, r) => {
      err = e;
      out = r;
    });
    if (err) throw err;
    return out;
  }

  /** Adds what ran since the last call (V8 resets its counts on each take). */
  take(): void {
    const { result } = this.post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
    for (const s of result) {
      if (!this.include(s.url)) continue;
      let end = 0;
      for (const f of s.functions) for (const r of f.ranges) end = Math.max(end, r.endOffset);
      let bits = this.reached.get(s.scriptId);
      if (!bits || bits.length < end) {
        const grown = new Uint8Array(end);
        if (bits) grown.set(bits);
        this.reached.set(s.scriptId, (bits = grown));
      }
      // a function's ranges come outermost first; an inner range's count replaces its parent's over its span
      const now = new Uint8Array(end);
      for (const f of s.functions) for (const r of f.ranges) now.fill(r.count > 0 ? 1 : 0, r.startOffset, r.endOffset);
      for (let i = 0; i < end; i++) bits[i] |= now[i];
    }
  }

  /** Forgets what ran so far (V8's counts since the last take are dropped too). */
  reset(): void {
    this.post('Profiler.takePreciseCoverage');
    this.reached.clear();
  }

  /**
   * Lines of the TypeScript sources with code that ran, and lines with code, over the included scripts that
   * ran at all; tsx compiles each module to a few long lines, so its inline source map takes offsets back to
   * the lines as written.
   */
  lines(): { reached: number; total: number } {
    const reached = new Set<string>();
    const total = new Set<string>();
    // the debugger only while the sources are read: enabled, it would slow the code being fuzzed
    this.post('Debugger.enable');
    for (const [id, bits] of this.reached) {
      if (!this.sources.has(id)) this.sources.set(id, (this.post('Debugger.getScriptSource', { scriptId: id }) as { scriptSource: string }).scriptSource);
      const src = this.sources.get(id)!;
      const map = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/.exec(src);
      if (!map) continue;
      const starts = [0];
      for (let i = src.indexOf('\n'); i >= 0; i = src.indexOf('\n', i + 1)) starts.push(i + 1);
      eachMapping(new TraceMap(Buffer.from(map[1], 'base64').toString('utf8')), (m) => {
        if (m.source === null || m.originalLine === null) return;
        const line = `${m.source}:${m.originalLine}`;
        total.add(line);
        if (bits[starts[m.generatedLine - 1] + m.generatedColumn]) reached.add(line);
      });
    }
    this.post('Debugger.disable');
    return { reached: reached.size, total: total.size };
  }
}
