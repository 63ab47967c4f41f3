import { Command, CommanderError } from 'commander';
import { MutascanError, StoreDamaged } from '../index.js';
import { registerConvert } from './convert.js';
import { registerEstimate } from './estimate.js';
import { registerExport } from './export.js';
import { registerGenerate } from './generate.js';
import { registerInfo } from './info.js';
import { registerLogits } from './logits.js';
import { registerPhenotypes } from './phenotypes.js';
import { registerPredict } from './predict.js';
import { registerRepair } from './repair.js';
import { registerReport } from './report.js';
import { registerRun } from './run.js';
import { registerScores } from './scores.js';
import { registerScout } from './scout.js';
import { registerServe } from './serve.js';
import { registerStatus } from './status.js';
import { registerSynth } from './synth.js';
import { registerThreshold } from './threshold.js';
import { registerWorker } from './worker.js';

/** Every command and option (docs/cli-reference.md is generated from this). */
export function buildProgram(): Command {
  const program = new Command('mutascan')
    .description('mutagenesis screens on the parameters of large language models')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  for (const register of [
    registerGenerate, registerLogits, registerConvert, registerRun, registerPredict, registerStatus, registerScout, registerExport,
    registerReport, registerScores, registerThreshold, registerWorker, registerSynth, registerEstimate, registerRepair, registerPhenotypes, registerServe, registerInfo,
  ])
    register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // output piped into `head` and the like: the reader has what it wanted, so stop quietly as Unix tools do
  for (const out of [process.stdout, process.stderr])
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode; // commander already printed its message
    if (StoreDamaged.isCause(e)) {
      // the library names the store wherever it knows it; this is the message for any damage that got past it
      process.stderr.write(`mutascan: error: a store or model file is damaged (${(e as Error).message}); \`mutascan status STORE\` says what a store still holds, \`mutascan repair STORE --out fixed.sqlite\` keeps it\n`);
      return 1;
    }
    if (e instanceof MutascanError) {
      process.stderr.write(`mutascan: error: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`mutascan: internal error: ${(e as Error)?.message ?? e}\nThis is a bug in mutascan; the stack follows.\n${(e as Error)?.stack ?? ''}\n`);
    return 70;
  }
}
