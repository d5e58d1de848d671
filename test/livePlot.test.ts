/** `train --plot` redraws RUN/curves.svg from the log as it grows, one write at a time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LivePlot } from '../src/cli/livePlot.js';

const line = (step: number) => JSON.stringify({ type: 'train', step, elapsedSeconds: step, total: 10 / step, waveform: 1, stft: 1, codebook: 0, commitment: 0.1, adversarial: 0, featureMatching: 0, discriminator: 0, gradNorm: 1, learningRate: 1e-3, audioSecondsPerSecond: 1, perplexity: [5], deadCodes: [0] }) + '\n';

test('curves.svg follows the log: drawn on refresh, redrawn as lines arrive, throttled unless forced', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-liveplot-'));
  try {
    const svg = path.join(dir, 'curves.svg');
    await fs.writeFile(path.join(dir, 'log.jsonl'), line(1) + line(2));
    const plot = new LivePlot(svg, dir, 3600);
    plot.refresh();
    plot.refresh(); // throttled: nothing more is drawn
    await plot.finish();
    const first = await fs.readFile(svg, 'utf8');
    assert.match(first, /^<svg /);
    await fs.appendFile(path.join(dir, 'log.jsonl'), line(3) + line(4) + line(5));
    plot.refresh(true);
    await plot.finish();
    const second = await fs.readFile(svg, 'utf8');
    assert.notEqual(second, first, 'the new steps are drawn');
    assert.deepEqual((await fs.readdir(dir)).sort(), ['curves.svg', 'log.jsonl']);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
