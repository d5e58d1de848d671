/** Shared CLI output: progress bars that stay quiet when not on a terminal, tables, number formatting. */
import cliProgress from 'cli-progress';

export interface Progress {
  update(value: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/** A progress bar on stderr when it is a terminal; nothing otherwise (logs stay clean). */
export function progressBar(total: number, format: string, payload: Record<string, string | number> = {}): Progress {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format, stream: process.stderr, hideCursor: true, etaBuffer: 50, fps: 5, barsize: 24 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, payload);
  return { update: (v, p) => bar.update(v, p), stop: () => bar.stop() };
}

/** Prints rows as an aligned text table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(fmt)].join('\n');
}

export function fixed(v: number, digits = 2): string {
  return Number.isFinite(v) ? v.toFixed(digits) : 'n/a';
}

export function kbps(bitsPerSecond: number): string {
  return `${(bitsPerSecond / 1000).toFixed(2)} kbps`;
}

/** Prints a one-line note to stderr (which backend runs, where outputs went). */
export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}
