/**
 * `vqcodec eval --report report.html`: one self-contained HTML page (no network needed to open
 * it: pictures are PNG/SVG data inline, audio is WAV data URIs) with the rate–quality table and
 * curves, each codebook's usage histogram, and per file the spectrograms of the original and
 * every decode with players for each.
 */
import { encodeWav } from '../audio/wav.js';
import type { ClipReport, Summary } from './evaluate.js';
import { plotRateQuality } from './plot.js';
import { spectrogramFigure } from './spectrogramFigure.js';

/** One codec's (or codebook count's) results, as eval prints them. */
export interface ReportRow {
  name: string;
  total: Summary;
  /** The lowest codebook perplexity (vqcodec rows). */
  minPerplexity?: number;
}

/** A file drawn in the report: the original and each decode. */
export interface ReportFile {
  name: string;
  original: Float32Array;
  decodes: { label: string; samples: Float32Array; report: ClipReport }[];
}

export interface ReportInput {
  title: string;
  model: string;
  sampleRate: number;
  codebookSize: number;
  rows: ReportRow[];
  /** The rate–quality curves: one series per codec (vqcodec's codebook counts form one). */
  curves: { name: string; points: Summary[] }[];
  /** Per codebook: how often each code was used (the largest codebook count evaluated). */
  usage: Int32Array[];
  files: ReportFile[];
  /** The full file count (files holds only the drawn ones). */
  fileCount: number;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (v: number, digits = 3) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const base64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/** A rank–frequency histogram of one codebook's usage: codes sorted by use, as an SVG. */
export function usageHistogram(counts: Int32Array, codebook: number): string {
  const W = 300;
  const H = 110;
  const sorted = [...counts].sort((a, b) => b - a);
  const total = sorted.reduce((a, b) => a + b, 0);
  const top = Math.max(1, sorted[0] ?? 1);
  let entropy = 0;
  for (const c of sorted) if (c > 0) entropy -= (c / total) * Math.log2(c / total);
  const unused = sorted.filter((c) => c === 0).length;
  const barW = W / Math.max(1, sorted.length);
  const bars = sorted
    .map((c, i) => (c > 0 ? `<rect x="${(i * barW).toFixed(2)}" y="${(H - 20 - ((H - 30) * c) / top).toFixed(1)}" width="${Math.max(barW, 0.6).toFixed(2)}" height="${(((H - 30) * c) / top).toFixed(1)}"/>` : ''))
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="codebook ${codebook} usage">` +
    `<text x="2" y="10" font-size="10">codebook ${codebook}: perplexity ${(2 ** entropy).toFixed(0)} of ${counts.length}, ${unused} unused</text>` +
    `<g fill="#3b6ea8">${bars}</g><line x1="0" y1="${H - 20}" x2="${W}" y2="${H - 20}" stroke="#444"/>` +
    `<text x="2" y="${H - 6}" font-size="9">codes, most used first →</text></svg>`
  );
}

function summaryTable(rows: ReportRow[]): string {
  const head = ['codec', 'files', 'kbps', 'STOI', 'ESTOI', 'mel distance', 'MFCC distance', 'SI-SDR dB', 'min perplexity'];
  const body = rows
    .map((r) => {
      const t = r.total;
      const cells = [esc(r.name), String(t.files), num(t.bitsPerSecond / 1000), num(t.stoi), num(t.estoi), num(t.melDistance), num(t.mfccDistance, 2), num(t.siSdr, 2), r.minPerplexity === undefined ? '–' : r.minPerplexity.toFixed(0)];
      return `<tr>${cells.map((c, i) => (i === 0 ? `<th>${c}</th>` : `<td>${c}</td>`)).join('')}</tr>`;
    })
    .join('\n');
  return `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function fileSection(file: ReportFile, sampleRate: number): string {
  const panels = [{ label: `original: ${file.name}`, samples: file.original }, ...file.decodes.map((d) => ({ label: d.label, samples: d.samples }))];
  const png = spectrogramFigure(panels, sampleRate);
  const player = (label: string, samples: Float32Array, extra = '') =>
    `<figure><figcaption>${esc(label)}${extra}</figcaption><audio controls preload="none" src="data:audio/wav;base64,${base64(encodeWav(samples, sampleRate))}"></audio></figure>`;
  const players = [
    player('original', file.original),
    ...file.decodes.map((d) => player(d.label, d.samples, ` — STOI ${num(d.report.stoi)}, ESTOI ${num(d.report.estoi)}, mel ${num(d.report.melDistance)}, MFCC ${num(d.report.mfccDistance, 2)}`)),
  ].join('\n');
  return `<section><h3>${esc(file.name)}</h3><img alt="spectrograms of ${esc(file.name)}" src="data:image/png;base64,${base64(png)}"><div class="players">${players}</div></section>`;
}

/** The whole page. */
export function evalReport(input: ReportInput): string {
  const curves = plotRateQuality(input.curves, input.title);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(input.title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1300px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}thead th{background:#eee}tbody th{text-align:left}
img{max-width:100%;display:block}.players{display:flex;flex-wrap:wrap;gap:.5em 1.5em}figure{margin:.3em 0}figcaption{font-size:12px}
.usage{display:flex;flex-wrap:wrap;gap:1em}section{border-top:1px solid #ddd;margin-top:1em}
</style></head><body>
<h1>${esc(input.title)}</h1>
<p>Model <code>${esc(input.model)}</code>, ${input.fileCount} file(s); ${input.files.length} drawn below. Bitrates count the coded files, headers included. MFCC distance: mean Euclidean distance of MFCCs 1–12 (meyda) over the original's non-silent frames.</p>
<h2>Rate and quality</h2>
${summaryTable(input.rows)}
<div>${curves}</div>
<h2>Codebook usage</h2>
<div class="usage">${input.usage.map((c, q) => usageHistogram(c, q)).join('\n')}</div>
<h2>Files</h2>
${input.files.map((f) => fileSection(f, input.sampleRate)).join('\n')}
</body></html>
`;
}
