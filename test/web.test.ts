/**
 * The web page (demos/web) in a real browser: Debian's Chromium, headless, through
 * playwright-core. It decodes a token file made the CLI's way (the library's Node path:
 * encodeWavFile, range-coded under models/default's context model) to the same samples as Node,
 * encodes the same WAV to the same .vqt bytes, and logs no console errors. Skipped when
 * /usr/bin/chromium is not installed (.ci/run installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/backend.js';
import { Codec } from '../src/codec.js';
import { DEFAULT_MODEL, FIXTURES } from '../src/paths.js';
import { encodeWavFile } from '../src/streamFiles.js';
import { decodeTokenFile, inspectTokenFile } from '../src/tokens/tokenFile.js';
import { CHROMIUM, haveChromium, openChromium, waitForPage } from '../demos/web/browser.js';
import { startPageServer } from '../demos/web/serve.js';

const SPEECH = path.join(FIXTURES, 'speech.wav');
const skip = haveChromium() ? false : `${CHROMIUM} is not installed (apt-get install chromium): the browser test is skipped`;

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'the same number of samples');
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

test('the web page decodes a CLI-made .vqt to the CLI samples and encodes the same clip to the same bytes', { skip, timeout: 180_000 }, async (t) => {
  const started = performance.now();
  // The CLI's way (vqcodec encode speech.wav speech.vqt): streamed, context-coded by default.
  await initBackend('wasm');
  const codec = await Codec.load(DEFAULT_MODEL);
  assert.ok(codec.contextModel !== undefined, 'models/default has its context model');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-web-'));
  const vqtPath = path.join(dir, 'speech.vqt');
  await encodeWavFile(codec, SPEECH, vqtPath, { coding: 'context' });
  const cliVqt = new Uint8Array(await fs.readFile(vqtPath));
  assert.equal(inspectTokenFile(cliVqt).coding.coding, 'context');
  const tokens = decodeTokenFile(cliVqt, vqtPath, { context: codec.contextModel });
  const reference = codec.decode(tokens);
  const reference2 = codec.decode(tokens, { numCodebooks: 2 });
  const cliFingerprint = codec.fingerprint;
  codec.dispose();
  const nodeSeconds = (performance.now() - started) / 1000;

  const server = await startPageServer();
  const browser = await openChromium();
  try {
    const { page } = browser;
    const loadStarted = performance.now();
    await page.goto(server.url);
    await waitForPage(page, 'ready');
    const info = await page.evaluate(() => (window as unknown as { vqcodecPage: { info(): { backend: string; fingerprint: string } } }).vqcodecPage.info());
    assert.equal(info.fingerprint, cliFingerprint, 'the page fingerprints the model as the CLI does');
    const loadSeconds = (performance.now() - loadStarted) / 1000;

    const samples = () => page.evaluate(() => (window as unknown as { vqcodecPage: { decoded(): number[] } }).vqcodecPage.decoded());
    // 1. Open the CLI's token file and decode it.
    await page.setInputFiles('#file', vqtPath);
    await waitForPage(page, 'done', 'speech.vqt');
    const diff = maxDifference(await samples(), reference);
    assert.ok(diff <= 1e-4, `page decode within 1e-4 of Node's (max |Δ| ${diff})`);
    // At 2 of its 8 codebooks too.
    await page.click('#codebooks label:nth-child(2)');
    await page.waitForFunction(() => document.body.dataset.state === 'done' && (window as unknown as { vqcodecPage: { info(): { selected: number } } }).vqcodecPage.info().selected === 2);
    const diff2 = maxDifference(await samples(), reference2);
    assert.ok(diff2 <= 1e-4, `page decode at 2 codebooks within 1e-4 of Node's (max |Δ| ${diff2})`);

    // 2. Open the WAV, encode it in the page at all codebooks, download the .vqt.
    await page.click('#codebooks label:nth-child(8)');
    await page.setInputFiles('#file', SPEECH);
    await waitForPage(page, 'done', 'speech.wav');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-vqt')]);
    const pageVqt = new Uint8Array(await fs.readFile((await download.path())!));
    assert.equal(pageVqt.length, cliVqt.length, 'the page .vqt has the CLI size');
    assert.deepEqual(pageVqt, cliVqt, 'the page .vqt has the CLI bytes');
    const roundTrip = maxDifference(await samples(), reference);

    assert.deepEqual(browser.errors, [], 'no console errors');
    t.diagnostic(`backend in the page: ${info.backend}; max |Δ| page vs Node decode: ${diff.toExponential(2)} (8 codebooks), ${diff2.toExponential(2)} (2 codebooks), ${roundTrip.toExponential(2)} (page encode + decode); .vqt ${pageVqt.length} bytes, equal`);
    t.diagnostic(`Node reference ${nodeSeconds.toFixed(1)} s, bundle ${(server.bundle.milliseconds / 1000).toFixed(1)} s (${Math.round(server.bundle.pageBytes / 1024)} KB), page ready ${loadSeconds.toFixed(1)} s, total ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await browser.close();
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
