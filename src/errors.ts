/**
 * Errors meant for a person: what went wrong, where, and what to do about it.
 * The CLI prints these without a stack trace; anything else is a bug and keeps its stack.
 */
export class MutascanError extends Error {
  constructor(
    readonly what: string,
    readonly where?: string,
    readonly hint?: string,
  ) {
    super([what, where ? `(in ${where})` : '', hint ? `— ${hint}` : ''].filter(Boolean).join(' '));
    this.name = 'MutascanError';
  }
}

export function fail(what: string, where?: string, hint?: string): never {
  throw new MutascanError(what, where, hint);
}
