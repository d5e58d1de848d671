/**
 * `npm run demo:web`: bundles the page (./build.ts) and serves it on localhost with what it
 * fetches: the tfjs wasm binaries, models/default's files and a sample clip. No cross-origin
 * isolation headers, so the browser runs tfjs-backend-wasm's SIMD build without threads: the
 * same binary Node runs, hence the same numbers as the CLI.
 *
 *   node dist/demos/web/serve.js [--port 8080] [--host 127.0.0.1]
 */
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_MODEL, FIXTURES, PACKAGE_ROOT } from '../../src/paths.js';
import { buildPage, WEB_DIR, type PageBundle } from './build.js';

const WASM_DIR = path.join(PACKAGE_ROOT, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');

/** Files served from disk, by URL path. */
const STATIC: Record<string, string> = {
  '/': path.join(WEB_DIR, 'index.html'),
  '/index.html': path.join(WEB_DIR, 'index.html'),
  '/samples/speech.wav': path.join(FIXTURES, 'speech.wav'),
  ...Object.fromEntries(['config.json', 'weights.bin', 'context-model.bin'].map((f) => [`/models/default/${f}`, path.join(DEFAULT_MODEL, f)])),
  ...Object.fromEntries(['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'].map((f) => [`/wasm/${f}`, path.join(WASM_DIR, f)])),
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.wav': 'audio/wav',
  '.bin': 'application/octet-stream',
};

export interface PageServer {
  url: string;
  bundle: PageBundle;
  close(): Promise<void>;
}

/** Builds the page and serves it; port 0 picks a free port. */
export async function startPageServer(options: { port?: number; host?: string } = {}): Promise<PageServer> {
  const bundle = await buildPage();
  const host = options.host ?? '127.0.0.1';
  const server = http.createServer((req, res) => {
    const urlPath = new URL(req.url ?? '/', 'http://localhost').pathname;
    const send = (status: number, body: Uint8Array | string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    const type = TYPES[path.extname(urlPath === '/' ? '/index.html' : urlPath)] ?? 'application/octet-stream';
    const built = bundle.files.get(urlPath);
    if (built !== undefined) return send(200, built, type);
    const file = STATIC[urlPath];
    if (file === undefined) return send(404, `not found: ${urlPath}`);
    fs.readFile(file).then(
      (bytes) => send(200, bytes, type),
      () => send(404, `not found: ${urlPath}`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host === '0.0.0.0' ? 'localhost' : host}:${port}/`,
    bundle,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const port = Number(option('--port') ?? process.env.PORT ?? 8080);
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new Error(`--port must be a port number (got ${option('--port')})`);
  const page = await startPageServer({ port, host: option('--host') });
  const kb = (n: number) => `${Math.round(n / 1024)} KB`;
  console.log(`bundled in ${(page.bundle.milliseconds / 1000).toFixed(1)} s (${kb(page.bundle.pageBytes)} of JavaScript loaded with the page)`);
  console.log(`vqcodec web page: ${page.url}  (Ctrl-C to stop)`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: Error) => {
    console.error(`demo:web: ${err.message}`);
    process.exit(1);
  });
}
