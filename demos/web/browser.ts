/**
 * Debian's Chromium (/usr/bin/chromium) driven by playwright-core, for the page's test and its
 * screenshot: headless, no sandbox (root in CI), no GPU, nothing fetched in the background, a
 * fresh profile each time. Never a browser download: playwright-core only drives the one given.
 */
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function haveChromium(): boolean {
  return existsSync(CHROMIUM);
}

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  /** Console messages of type 'error' and uncaught page errors, as they came. */
  errors: string[];
  close(): Promise<void>;
}

export async function openChromium(options: { viewport?: { width: number; height: number }; deviceScaleFactor?: number } = {}): Promise<BrowserSession> {
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: options.viewport ?? { width: 1200, height: 900 },
      acceptDownloads: true,
      ...(options.deviceScaleFactor === undefined ? {} : { deviceScaleFactor: options.deviceScaleFactor }),
    });
  } catch (err) {
    await fs.rm(profile, { recursive: true, force: true });
    throw err;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  return {
    context,
    page,
    errors,
    close: async () => {
      await context.close();
      await fs.rm(profile, { recursive: true, force: true });
    },
  };
}

/** Waits until the page's status is `state` and, when given, its clip is `name` (or it shows an error). */
export async function waitForPage(page: Page, state: 'ready' | 'done', name?: string, timeout = 60_000): Promise<void> {
  await page.waitForFunction(
    ([s, n]) => {
      const st = document.body.dataset.state;
      if (st === 'error') return true;
      const info = (window as unknown as { vqcodecPage?: { info(): { name?: string } } }).vqcodecPage?.info();
      return st === s && (n === null || info?.name === n);
    },
    [state, name ?? null] as const,
    { timeout },
  );
  if ((await page.getAttribute('body', 'data-state')) === 'error') throw new Error(`the page shows an error: ${await page.textContent('#status')}`);
}
