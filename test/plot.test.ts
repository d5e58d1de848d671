/** The rate–quality plot of `vqcodec eval --plot`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plotRateQuality } from '../src/eval/plot.js';

test('plotRateQuality draws four panels against kbps, a dot per measured point and a legend entry per codec', () => {
  const svg = plotRateQuality(
    [
      { name: 'vqcodec', points: [4000, 1000, 2000].map((bitsPerSecond, i) => ({ bitsPerSecond, stoi: 0.5 + i / 10, estoi: 0.4 + i / 10, siSdr: i, melDistance: 1 - i / 10 })) },
      { name: 'opus 6 kbps', points: [{ bitsPerSecond: 8000, stoi: 0.9, estoi: 0.8, siSdr: 6, melDistance: 0.5 }] },
    ],
    'rate <test> & co',
  );
  assert.ok(svg.startsWith('<svg') && svg.endsWith('</svg>'));
  assert.equal((svg.match(/<circle /g) ?? []).length, 4 * 4, 'four points in each of four panels');
  assert.equal((svg.match(/<path /g) ?? []).length, 4 * 2, 'one line per codec per panel');
  for (const title of ['>STOI (', '>ESTOI (', 'SI-SDR', 'log-mel distance']) assert.ok(svg.includes(title), title);
  assert.ok(svg.includes('kbps 1</text>') && svg.includes('kbps 8</text>'), 'the x axis runs from 1 to 8 kbps');
  assert.ok(svg.includes('rate &lt;test&gt; &amp; co'), 'the title is escaped');
  // The vqcodec line is drawn in rate order, whatever order its points came in.
  const firstPath = /<path d="M([\d.]+),[\d.]+L([\d.]+),[\d.]+L([\d.]+),/.exec(svg);
  assert.ok(firstPath && Number(firstPath[1]) < Number(firstPath[2]) && Number(firstPath[2]) < Number(firstPath[3]));
});
