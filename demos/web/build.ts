/**
 * Bundles the web page (demos/web/app.ts and the library modules it imports) with esbuild, in
 * memory. The library's browser path has no Node built-ins: formats are bytes-only modules
 * (src/io/bundle.ts, src/io/modelFormat.ts, src/tokens/tokenFile.ts, src/audio/wav.ts, …) and
 * their file access lives in separate *Fs / modelStore modules that the page never imports.
 * The one exception is Codec.load/save, which import src/io/modelStore.ts (node:fs) lazily:
 * esbuild puts that behind a dynamic import in a chunk of its own, and `node:*` is left
 * external there. The build checks that nothing the page loads up front imports `node:`.
 */
import path from 'node:path';
import * as esbuild from 'esbuild';
import { PACKAGE_ROOT } from '../../src/paths.js';

export const WEB_DIR = path.join(PACKAGE_ROOT, 'demos', 'web');

export interface PageBundle {
  /** Output files by URL path ('/app.js', '/chunk-….js', their .map files). */
  files: Map<string, Uint8Array>;
  /** Bytes of JavaScript loaded with the page (the entry and its static imports). */
  pageBytes: number;
  milliseconds: number;
}

/** Where the bundle would be written; it is kept in memory, so this only names the files. */
const OUT_DIR = path.join(PACKAGE_ROOT, 'dist', 'web');

export async function buildPage(options: { minify?: boolean } = {}): Promise<PageBundle> {
  const started = performance.now();
  const result = await esbuild.build({
    absWorkingDir: PACKAGE_ROOT,
    entryPoints: { app: path.join(WEB_DIR, 'app.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    splitting: true,
    outdir: OUT_DIR,
    write: false,
    metafile: true,
    minify: options.minify ?? true,
    sourcemap: 'linked',
    // Only in the lazily loaded chunk of Codec.load/save (checked below).
    external: ['node:*'],
    // wavefile's "module" build has no default export; src/audio/wav.ts imports the default, as
    // Node resolves it (its "main", a UMD build that runs in browsers too).
    alias: { wavefile: path.join(PACKAGE_ROOT, 'node_modules', 'wavefile', 'dist', 'wavefile.js') },
    logLevel: 'silent',
  });
  for (const w of result.warnings) console.warn(`esbuild: ${w.text}`);
  const url = (file: string) => '/' + path.relative(OUT_DIR, path.resolve(PACKAGE_ROOT, file)).split(path.sep).join('/');
  const files = new Map(result.outputFiles.map((f) => [url(f.path), f.contents]));
  const pageBytes = checkPageImports(result.metafile, '/app.js', url);
  return { files, pageBytes, milliseconds: performance.now() - started };
}

/** Throws when the entry or a chunk it loads up front imports a Node built-in; returns their bytes. */
function checkPageImports(metafile: esbuild.Metafile, entry: string, key: (file: string) => string): number {
  const byPath = new Map(Object.entries(metafile.outputs).map(([p, o]) => [key(p), o]));
  const seen = new Set<string>();
  let bytes = 0;
  const visit = (p: string): void => {
    if (seen.has(p)) return;
    seen.add(p);
    const out = byPath.get(p);
    if (out === undefined) throw new Error(`web bundle: no output ${p}`);
    bytes += out.bytes;
    for (const imp of out.imports) {
      if (imp.kind !== 'import-statement') continue;
      if (imp.external) throw new Error(`web bundle: ${p} imports ${imp.path} at load time (the page must not need Node built-ins)`);
      visit(key(imp.path));
    }
  };
  visit(entry);
  return bytes;
}
