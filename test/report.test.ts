/**
 * `vqcodec eval --report`: one self-contained HTML page (nothing fetched from a network), with
 * the rate–quality table including MFCC distance, the curves, a usage histogram per codebook,
 * and per drawn file a spectrogram PNG and a WAV player for the original and every decode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeWav } from '../src/audio/wav.js';
import { mfccDistance } from '../src/eval/mfcc.js';
import { FIXTURES, PACKAGE_ROOT } from '../src/paths.js';
import { loadAudio } from '../src/audio/load.js';
import { CHROMIUM, haveChromium, openChromium } from '../demos/web/browser.js';

test('MFCC distance is 0 for the same audio, ignores gain, and grows with distortion', async () => {
  const speech = (await loadAudio(path.join(FIXTURES, 'speech.wav'), 16000)).samples;
  assert.equal(mfccDistance(speech, speech, 16000), 0);
  assert.ok(mfccDistance(speech, speech.map((v) => v * 0.5), 16000) < 0.01);
  const slight = mfccDistance(speech, speech.map((v, i) => v + 0.003 * Math.sin(i * 1.3)), 16000);
  const heavy = mfccDistance(speech, speech.map((v, i) => v + 0.03 * Math.sin(i * 1.3)), 16000);
  assert.ok(slight > 0 && heavy > slight, `${slight} then ${heavy}`);
  assert.ok(Number.isNaN(mfccDistance(speech.subarray(0, 100), speech.subarray(0, 100), 16000)));
});

test('eval --report writes one self-contained page with every picture and player', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-report-'));
  try {
    const report = path.join(dir, 'report.html');
    const r = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'vqcodec.js'), '-q', 'eval', path.join(FIXTURES, 'speech.wav'), '--codebooks', '1,2', '--report', report], {
      env: { ...process.env, VQCODEC_BACKEND: 'wasm' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const html = await fs.readFile(report, 'utf8');
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'nothing is fetched');
    assert.match(html, /<th>MFCC distance<\/th>/);
    assert.equal(html.match(/<tr><th>vqcodec \d codebook\(s\)<\/th>/g)?.length, 2);
    assert.equal(html.match(/aria-label="codebook \d+ usage"/g)?.length, 2);
    assert.match(html, /<svg[^>]*>[\s\S]*STOI \(higher is better\)/);
    const pngs = [...html.matchAll(/src="data:image\/png;base64,([^"]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64'));
    assert.equal(pngs.length, 1);
    assert.deepEqual([...pngs[0]!.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const wavs = [...html.matchAll(/src="data:audio\/wav;base64,([^"]+)"/g)].map((m) => decodeWav(Buffer.from(m[1]!, 'base64'), 'player'));
    assert.equal(wavs.length, 3, 'original and two decodes');
    assert.ok(wavs.every((w) => w.sampleRate === 16000 && w.channels[0]!.length === wavs[0]!.channels[0]!.length));
    await openInBrowser(report);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

/** Opens the report in headless Chromium (when installed): its images load and nothing logs an error. */
async function openInBrowser(report: string): Promise<void> {
  if (!haveChromium()) {
    console.log(`# ${CHROMIUM} is not installed: the report is not opened in a browser`);
    return;
  }
  const browser = await openChromium();
  try {
    await browser.page.goto(`file://${report}`);
    const images = await browser.page.evaluate(() => [...document.images].map((i) => ({ complete: i.complete, width: i.naturalWidth })));
    assert.ok(images.length >= 1 && images.every((i) => i.complete && i.width > 0), JSON.stringify(images));
    const svgs = await browser.page.evaluate(() => document.querySelectorAll('svg').length);
    assert.ok(svgs >= 3, 'the curves and a histogram per codebook');
    const audio = await browser.page.evaluate(() => document.querySelectorAll('audio').length);
    assert.equal(audio, 3);
    assert.deepEqual(browser.errors, []);
  } finally {
    await browser.close();
  }
}
