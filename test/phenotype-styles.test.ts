/**
 * The style rules (src/phenotypes/styles.ts) against hand-written texts: for every style, texts that must get it
 * and texts that must not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { labelStyles, STYLES, stylesOf, type Style } from '../src/phenotypes/styles.js';

const prose = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.';
const full = { nTokens: 48, stopped: false };

const cases: { style: Style; yes: string[]; no: string[] }[] = [
  {
    style: 'poetic',
    yes: [
      'The sun is bright\nThe moon is white\nThe stars at night',
      'I saw a cat\nI saw a hat\nI saw the sea',
      'Little bird\nflying high\nover trees\ninto sky',
    ],
    no: [prose, 'One line only\nand a second', '- milk\n- eggs\n- bread', `${prose}\n${prose}\n${prose}`],
  },
  {
    style: 'conversational',
    yes: [
      'User: what is a cat?\nAssistant: A small animal.',
      '"Hello, Tom!" said Lily. "Do you want to play with me?"',
      'Hi! I think you will like my garden. Thank you for coming.',
      '<|assistant|> Sure.',
    ],
    no: [prose, 'The dog ran. The cat sat. The bird flew away from the tree.', 'Why? The sky is blue.'],
  },
  {
    style: 'list',
    yes: ['- milk\n- eggs\n- bread', '1. Open the box\n2. Take the toy\n3. Play', 'Things to do:\n* swim\n* run'],
    no: [prose, '- only one item', 'Lily - the girl - ran home.\nTom - the boy - stayed.'],
  },
  {
    style: 'code',
    yes: ['```\nprint(1)\n```', 'int x = 1;\nint y = 2;', 'def f(x):\n    return x + 1', 'if (a == b) {\n  go();\n}'],
    no: [prose, 'She said: "stop; now".', 'For a while, the children played.\nIf only they knew.'],
  },
  {
    style: 'repetitive',
    yes: [
      'the the the the the the the the the',
      'Lily went to the park. Lily went to the park. Lily went to the park. Lily went to the park.',
      'and then and then and then and then she slept',
      '!!!!!!!!!!!!!!!!!!!!',
    ],
    no: [prose, 'The cat sat on the mat and the dog sat on the log.', 'Hmm.'],
  },
  {
    style: 'other-language',
    yes: ['Жила-была маленькая девочка по имени Лили.', '从前有一个小女孩，她喜欢在公园里玩。', 'Il était une fois une petite fille qui aimait jouer dehors avec ses amis.'],
    no: [prose, 'Lily saw a café near the école.', 'Tom and Lily ran home.'],
  },
  {
    style: 'non-text',
    yes: ['', '   ', '#### ((( 12345 ))) ####', '\uFFFD\uFFFD\uFFFD abc'],
    no: [prose, 'A, B, C.', 'It cost 5 dollars.'],
  },
];

describe('style rules on hand-written texts', () => {
  it('every style has texts that get it and texts that do not', () => {
    assert.deepEqual(new Set(cases.map((c) => c.style)), new Set(STYLES.filter((s) => s !== 'truncated')));
  });
  for (const c of cases) {
    it(c.style, () => {
      for (const t of c.yes) assert.ok(stylesOf({ text: t, ...full }).includes(c.style), `should be ${c.style}: ${JSON.stringify(t)} → ${stylesOf({ text: t, ...full })}`);
      for (const t of c.no) assert.ok(!stylesOf({ text: t, ...full }).includes(c.style), `should not be ${c.style}: ${JSON.stringify(t)} → ${stylesOf({ text: t, ...full })}`);
    });
  }

  it('truncated: stopped before the budget and at most 3/4 of the baseline', () => {
    const baseline = { text: prose, nTokens: 40, stopped: false };
    assert.ok(stylesOf({ text: 'Once upon a time.', nTokens: 10, stopped: true }, baseline).includes('truncated'));
    assert.ok(!stylesOf({ text: 'Once upon a time.', nTokens: 10, stopped: false }, baseline).includes('truncated'), 'not stopped: ran to its budget');
    assert.ok(!stylesOf({ text: prose, nTokens: 38, stopped: true }, baseline).includes('truncated'), 'nearly as long as the baseline');
  });

  it('plain prose has no style; "like the baseline" when the styles are the baseline\'s', () => {
    assert.deepEqual(stylesOf({ text: prose, ...full }), []);
    const baseline = { text: prose, ...full };
    assert.deepEqual(labelStyles({ text: 'Once upon a time, there was a boy named Tom. He liked to run in the big park.', ...full }, baseline), { styles: [], likeBaseline: true });
    assert.deepEqual(labelStyles({ text: 'the the the the the the the the the', ...full }, baseline), { styles: ['repetitive'], likeBaseline: false });
  });
});
