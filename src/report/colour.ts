/**
 * The map colours. `unitColour` is also sent to the browser as source text (the page's canvas maps call the
 * same function as the PNG maps), so it must stay self-contained: no imports, no closures.
 */
export const COLOURS = {
  max: [214, 39, 40],
  min: [31, 119, 180],
  both: [44, 160, 44],
  other: [148, 103, 189],
  silent: [255, 255, 255],
  pending: [190, 190, 190],
} as const;

export const COLOUR_LEGEND: [keyof typeof COLOURS, string][] = [
  ['max', 'NSM under max only'],
  ['min', 'NSM under min only'],
  ['both', 'NSM under max and min'],
  ['other', 'NSM under another kind only'],
  ['silent', 'silent under every kind'],
  ['pending', 'not run yet'],
];

/**
 * A unit's colour from its outcomes under the kinds shown: `outcomes[i]` is the outcome under `kinds[i]`
 * (> 0 phenotype id = NSM, 0 = silent, -1 = not run).
 */
export function unitColour(kinds: string[], outcomes: number[]): 'max' | 'min' | 'both' | 'other' | 'silent' | 'pending' {
  let max = false;
  let min = false;
  let other = false;
  let pending = false;
  for (let i = 0; i < kinds.length; i++) {
    const o = outcomes[i];
    if (o < 0) pending = true;
    else if (o > 0) {
      if (kinds[i] === 'max') max = true;
      else if (kinds[i] === 'min') min = true;
      else other = true;
    }
  }
  if (max && min) return 'both';
  if (max) return 'max';
  if (min) return 'min';
  if (other) return 'other';
  return pending ? 'pending' : 'silent';
}
