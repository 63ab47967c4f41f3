const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/u;

/** The first word of a text: its first run of letters or digits (leading spaces and punctuation skipped). */
export function firstWord(text: string): string {
  return WORD.exec(text)?.[0] ?? '';
}

/** The word that holds the character at `at`, or the next word after it (when `at` is a space or a mark). */
export function wordAt(text: string, at: number): string {
  let start = at;
  const inWord = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{N}'’-]/u.test(c);
  while (start > 0 && inWord(text[at]) && inWord(text[start - 1])) start--;
  return firstWord(text.slice(start));
}
