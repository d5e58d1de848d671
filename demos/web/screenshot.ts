/**
 * Takes demos/web/screenshot.png (the README's picture): the page after coding the sample clip
 * at 8 codebooks and then 4, in headless Chromium (./browser.ts), written with a 256-colour
 * palette (./pngQuantize.ts) to keep the repository small.
 *
 *   node dist/demos/web/screenshot.js [out.png]
 */
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { openChromium, waitForPage } from './browser.js';
import { startPageServer } from './serve.js';
import { WEB_DIR } from './build.js';
import { quantizePng } from './pngQuantize.js';

const out = process.argv[2] ?? path.join(WEB_DIR, 'screenshot.png');
const server = await startPageServer();
const browser = await openChromium({ viewport: { width: 1160, height: 700 } });
try {
  const { page } = browser;
  await page.goto(server.url);
  await waitForPage(page, 'ready');
  await page.click('#sample');
  await waitForPage(page, 'done', 'speech.wav');
  await page.click('#codebooks label:nth-child(4)');
  await page.waitForFunction(() => document.body.dataset.state === 'done' && (window as unknown as { vqcodecPage: { info(): { selected: number } } }).vqcodecPage.info().selected === 4);
  await fs.writeFile(out, quantizePng(await page.screenshot({ fullPage: true })));
  if (browser.errors.length > 0) throw new Error(`the page logged errors: ${browser.errors.join('; ')}`);
  console.log(`${out}: ${Math.round((await fs.stat(out)).size / 1024)} KB`);
} finally {
  await browser.close();
  await server.close();
}
