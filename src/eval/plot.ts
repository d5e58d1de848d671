/**
 * Training curves as a self-contained SVG (no plotting dependency): stacked panels,
 * each a set of named line series over training steps.
 */
import type { LogEntry, StepLog, ValidLog } from '../train/trainer.js';

export interface Series {
  name: string;
  points: [number, number][];
}

export interface Panel {
  title: string;
  series: Series[];
  logY?: boolean;
  /** Names the x axis at its two ends (default 'step'). */
  xLabel?: string;
  /** Draw a dot at every point (for a few measured points rather than a curve). */
  markers?: boolean;
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const WIDTH = 760;
const PANEL_HEIGHT = 220;
const MARGIN = { left: 64, right: 150, top: 28, bottom: 30 };

export function renderPanels(panels: Panel[], title: string): string {
  const height = panels.length * PANEL_HEIGHT + 30;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`, `<text x="${WIDTH / 2}" y="18" text-anchor="middle" font-size="14">${escape(title)}</text>`];
  panels.forEach((panel, i) => parts.push(renderPanel(panel, 30 + i * PANEL_HEIGHT)));
  parts.push('</svg>');
  return parts.join('\n');
}

function renderPanel(panel: Panel, top: number): string {
  const all = panel.series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y) && (!panel.logY || y > 0));
  const out = [`<text x="${MARGIN.left}" y="${top + 16}" font-size="12" font-weight="bold">${escape(panel.title)}</text>`];
  if (all.length === 0) return out.join('\n');
  const fy = panel.logY ? Math.log10 : (y: number) => y;
  const [x0, x1] = extent(all.map(([x]) => x));
  const [y0, y1] = extent(all.map(([, y]) => fy(y)));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + ((x - x0) / (x1 - x0 || 1)) * plotW;
  const sy = (y: number) => top + MARGIN.top + plotH - ((fy(y) - y0) / (y1 - y0 || 1)) * plotH;
  out.push(`<rect x="${MARGIN.left}" y="${top + MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  for (let t = 0; t <= 4; t++) {
    const v = y0 + ((y1 - y0) * t) / 4;
    const y = top + MARGIN.top + plotH - (plotH * t) / 4;
    out.push(`<text x="${MARGIN.left - 4}" y="${y + 4}" text-anchor="end">${formatTick(panel.logY ? 10 ** v : v)}</text>`);
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y}" y2="${y}" stroke="#eee"/>`);
  }
  const xLabel = escape(panel.xLabel ?? 'step');
  out.push(`<text x="${MARGIN.left}" y="${top + PANEL_HEIGHT - 8}">${xLabel} ${formatTick(x0)}</text>`);
  out.push(`<text x="${MARGIN.left + plotW}" y="${top + PANEL_HEIGHT - 8}" text-anchor="end">${xLabel} ${formatTick(x1)}</text>`);
  panel.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const pts = s.points.filter(([, y]) => Number.isFinite(y) && (!panel.logY || y > 0));
    if (pts.length === 0) return;
    const d = pts.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    out.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.5"/>`);
    if (panel.markers) for (const [x, y] of pts) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" fill="${colour}"/>`);
    const ly = top + MARGIN.top + 12 + i * 14;
    out.push(`<line x1="${WIDTH - MARGIN.right + 10}" x2="${WIDTH - MARGIN.right + 28}" y1="${ly - 4}" y2="${ly - 4}" stroke="${colour}" stroke-width="2"/>`);
    out.push(`<text x="${WIDTH - MARGIN.right + 32}" y="${ly}">${escape(s.name)}</text>`);
  });
  return out.join('\n');
}

function extent(values: number[]): [number, number] {
  return [Math.min(...values), Math.max(...values)];
}

function formatTick(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-2) ? v.toExponential(1) : Number(v.toPrecision(3)).toString();
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The standard training report: losses, codebook perplexity, validation quality. */
export function plotTrainingLog(entries: LogEntry[], title: string): string {
  const train = entries.filter((e): e is StepLog => e.type === 'train');
  const valid = entries.filter((e): e is ValidLog => e.type === 'valid');
  const line = (name: string, rows: LogEntry[], get: (e: any) => number): Series => ({ name, points: rows.map((e) => [e.step, get(e)]) });
  const codebooks = Math.max(0, ...train.map((e) => e.perplexity.length));
  return renderPanels(
    [
      {
        title: 'training loss',
        logY: true,
        series: [line('total', train, (e) => e.total), line('waveform L1', train, (e) => e.waveform), line('STFT', train, (e) => e.stft), line('commitment', train, (e) => e.commitment)],
      },
      { title: 'codebook perplexity (per codebook)', series: Array.from({ length: codebooks }, (_, q) => line(`codebook ${q}`, train, (e) => e.perplexity[q] ?? NaN)) },
      { title: 'validation', series: [line('SI-SDR (dB)', valid, (e) => e.siSdr), line('mel distance ×10', valid, (e) => e.melDistance * 10), line('STOI ×10', valid, (e) => e.stoi * 10), line('ESTOI ×10', valid, (e) => (e.estoi ?? NaN) * 10)] },
    ],
    title,
  );
}

/** One codec's measured operating points: bitrate (bits/s) → quality, for the rate–quality plot. */
export interface RatePoint {
  bitsPerSecond: number;
  stoi: number;
  estoi: number;
  siSdr: number;
  melDistance: number;
}

/** Rate–quality curves (STOI, ESTOI, SI-SDR, mel distance against kbps), one series per codec. */
export function plotRateQuality(codecs: { name: string; points: RatePoint[] }[], title: string): string {
  const series = (get: (p: RatePoint) => number): Series[] =>
    codecs.map((c) => ({ name: c.name, points: [...c.points].sort((a, b) => a.bitsPerSecond - b.bitsPerSecond).map((p) => [p.bitsPerSecond / 1000, get(p)]) }));
  const panel = (name: string, get: (p: RatePoint) => number): Panel => ({ title: name, series: series(get), xLabel: 'kbps', markers: true });
  return renderPanels([panel('STOI (higher is better)', (p) => p.stoi), panel('ESTOI (higher is better)', (p) => p.estoi), panel('SI-SDR dB (higher is better)', (p) => p.siSdr), panel('log-mel distance (lower is better)', (p) => p.melDistance)], title);
}
