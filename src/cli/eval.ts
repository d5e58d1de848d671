import path from 'node:path';
import { loadAudio } from '../audio/load.js';
import { writeWav } from '../audio/wavFs.js';
import { VqcodecError } from '../errors.js';
import { parseBaselines, requireTools } from '../eval/baselines.js';
import { evaluateClip, evaluateReference, summarize, UsageCounter, type ClipReport, type Summary, type UsageReport } from '../eval/evaluate.js';
import { plotRateQuality } from '../eval/plot.js';
import { evalReport, type ReportFile } from '../eval/report.js';
import { writeFileAtomic } from '../io/atomic.js';
import { expandInputs } from '../train/data.js';
import { checkCodebookCount, intListOption, intOption, loadCodec, type GlobalOptions } from './common.js';
import { caption, pictureFiles, writeComparison } from './pictures.js';
import { fixed, note, progressBar, table } from './ui.js';

export interface EvalOptions extends GlobalOptions {
  codebooks?: string;
  split?: string;
  limit?: string;
  json?: boolean;
  out?: string;
  baseline?: string;
  plot?: string;
  spectrograms?: string;
  report?: string;
}

/** Longer file lists print only their TOTAL rows (every file is in --json). */
const MAX_FILE_ROWS = 20;

export interface EvalResult {
  codec: 'vqcodec';
  model: string;
  numCodebooks: number;
  files: ClipReport[];
  total: Summary;
  /** Totals per manifest `source` (when the files came from a manifest that names more than one). */
  bySource?: Record<string, Summary>;
  codebookUsage: UsageReport[];
}

/** The same clips through a reference codec (`--baseline`). */
export interface BaselineResult {
  /** e.g. `opus-6kbps`, `codec2-1200`. */
  codec: string;
  /** e.g. `opus 6 kbps`. */
  title: string;
  files: ClipReport[];
  total: Summary;
  bySource?: Record<string, Summary>;
}

/** Totals per source, or undefined when the files do not come from at least two named sources. */
function summarizeBySource(reports: ClipReport[], sources: Map<string, string>, sampleRate: number): Record<string, Summary> | undefined {
  const groups = new Map<string, ClipReport[]>();
  for (const r of reports) {
    const source = sources.get(r.name);
    if (source === undefined) return undefined;
    const group = groups.get(source);
    if (group) group.push(r);
    else groups.set(source, [r]);
  }
  if (groups.size < 2) return undefined;
  return Object.fromEntries([...groups.keys()].sort().map((source) => [source, summarize(groups.get(source)!, sampleRate)]));
}

/** vqcodec eval FILES/FOLDERS [--codebooks 1,2,4,8] [--baseline opus:6,codec2:1200] [--json] [--out DIR] [--spectrograms DIR] */
export async function evalCommand(inputs: string[], options: EvalOptions): Promise<void> {
  // Bad specs and missing programs are reported before any work is done.
  const baselines = options.baseline === undefined ? [] : parseBaselines(options.baseline);
  requireTools(baselines);
  const codec = await loadCodec({ ...options, quiet: options.quiet || options.json });
  const limit = intOption('--limit', options.limit);
  if (limit !== undefined && limit < 1) throw new VqcodecError(`--limit must be a positive integer (got ${limit})`);
  const { files, sources } = await expandInputs(inputs, options.split ?? 'test', limit);
  const counts = intListOption('--codebooks', options.codebooks) ?? [codec.numCodebooks];
  for (const n of counts) checkCodebookCount(n, codec.numCodebooks, 'this model');
  const pictured = options.spectrograms === undefined && options.report === undefined ? new Set<string>() : pictureFiles(files);
  // The report's files: the original and each decode (the pictured files only, so memory stays small).
  const drawn = new Map<string, ReportFile>();
  const draw = (file: string, original: Float32Array, label: string, samples: Float32Array, report: ClipReport) => {
    if (options.report === undefined || !pictured.has(file)) return;
    const entry = drawn.get(file) ?? { name: path.basename(file), original, decodes: [] };
    entry.decodes.push({ label, samples, report });
    drawn.set(file, entry);
  };
  let usageCounts: Int32Array[] = [];
  const results: EvalResult[] = [];
  const bar = progressBar(files.length * (counts.length + baselines.length), 'eval |{bar}| {value}/{total} files | {file}', { file: '' });
  let done = 0;
  for (const n of counts) {
    const reports: ClipReport[] = [];
    const usage = new UsageCounter(n, codec.codebookSize);
    for (const file of files) {
      bar.update(done, { file: path.basename(file) });
      const audio = await loadAudio(file, codec.sampleRate);
      const result = evaluateClip(codec, audio.samples, file, n);
      reports.push(result.report);
      usage.addTokens(result.tokens);
      if (options.out) {
        const stem = path.join(options.out, `q${n}`, path.basename(file, path.extname(file)));
        await writeFileAtomic(`${stem}.vqt`, result.tokenBytes);
        await writeWav(`${stem}.wav`, { samples: result.decoded, sampleRate: codec.sampleRate });
      }
      if (pictured.has(file) && options.spectrograms) await writeComparison(options.spectrograms, `q${n}`, audio.samples, result.decoded, result.report, codec.sampleRate);
      draw(file, audio.samples, caption(result.report), result.decoded, result.report);
      done++;
    }
    if (n >= usageCounts.length) usageCounts = usage.counts;
    results.push({
      codec: 'vqcodec',
      model: codec.fingerprint,
      numCodebooks: n,
      files: reports,
      total: summarize(reports, codec.sampleRate),
      bySource: summarizeBySource(reports, sources, codec.sampleRate),
      codebookUsage: usage.report(),
    });
  }
  const baselineResults: BaselineResult[] = [];
  for (const reference of baselines) {
    const reports: ClipReport[] = [];
    for (const file of files) {
      bar.update(done, { file: path.basename(file) });
      const audio = await loadAudio(file, codec.sampleRate);
      const result = await evaluateReference(reference, audio.samples, file, codec.sampleRate);
      reports.push(result.report);
      if (options.out) {
        const stem = path.join(options.out, reference.name, path.basename(file, path.extname(file)));
        await writeWav(`${stem}.wav`, { samples: result.decoded, sampleRate: codec.sampleRate });
      }
      if (pictured.has(file) && options.spectrograms) await writeComparison(options.spectrograms, reference.name, audio.samples, result.decoded, result.report, codec.sampleRate);
      draw(file, audio.samples, caption(result.report), result.decoded, result.report);
      done++;
    }
    baselineResults.push({
      codec: reference.name,
      title: reference.title,
      files: reports,
      total: summarize(reports, codec.sampleRate),
      bySource: summarizeBySource(reports, sources, codec.sampleRate),
    });
  }
  bar.stop();
  const minutes = fixed(results[0].total.seconds / 60, 1);
  const curves = [
    { name: `vqcodec ${codec.fingerprint.slice(0, 8)}`, points: results.map((r) => r.total) },
    ...baselineResults.map((b) => ({ name: b.title, points: [b.total] })),
  ];
  if (options.plot) await writeFileAtomic(options.plot, plotRateQuality(curves, `rate–quality on ${files.length} file(s), ${minutes} min`));
  if (options.report) {
    const minPerplexity = (r: EvalResult) => Math.min(...r.codebookUsage.map((u) => u.perplexity));
    const html = evalReport({
      title: `vqcodec eval: ${files.length} file(s), ${minutes} min`,
      model: codec.fingerprint,
      sampleRate: codec.sampleRate,
      codebookSize: codec.codebookSize,
      rows: [
        ...results.map((r) => ({ name: `vqcodec ${r.numCodebooks} codebook(s)`, total: r.total, minPerplexity: minPerplexity(r) })),
        ...baselineResults.map((b) => ({ name: b.title, total: b.total })),
      ],
      curves,
      usage: usageCounts,
      files: [...drawn.values()],
      fileCount: files.length,
    });
    await writeFileAtomic(options.report, html);
  }
  if (options.json) {
    console.log(JSON.stringify([...results, ...baselineResults], null, 2));
    return;
  }
  const perFile = files.length <= MAX_FILE_ROWS;
  for (const r of results) {
    console.log(`\n${r.numCodebooks} codebook(s), model ${r.model}`);
    console.log(reportTable(perFile ? r.files : [], r.total));
    console.log(`codebook perplexity: ${r.codebookUsage.map((u) => `${u.perplexity.toFixed(1)} (${u.deadCodes} unused)`).join(', ')} of ${codec.codebookSize}`);
  }
  for (const r of baselineResults) {
    console.log(`\n${r.title}`);
    console.log(reportTable(perFile ? r.files : [], r.total));
  }
  if (results.length + baselineResults.length > 1) {
    console.log(`\nrate–quality (${files.length} files, ${minutes} min)`);
    const row = (name: string, t: Summary, perplexity = '') => [name, fixed(t.bitsPerSecond / 1000, 3), fixed(t.siSdr), fixed(t.stoi, 3), fixed(t.estoi, 3), fixed(t.melDistance, 3), perplexity];
    const minPerplexity = (r: EvalResult) => fixed(Math.min(...r.codebookUsage.map((u) => u.perplexity)), 0);
    console.log(table(['codec', 'kbps', 'SI-SDR dB', 'STOI', 'ESTOI', 'mel dist', 'min perplexity'], [
      ...results.map((r) => row(`vqcodec ${r.numCodebooks} codebook(s)`, r.total, minPerplexity(r))),
      ...baselineResults.map((b) => row(b.title, b.total)),
    ]));
  }
  const bySource = results[0].bySource;
  if (bySource !== undefined) {
    const columns = [
      ...results.map((r) => ({ name: `vqcodec ${r.numCodebooks}`, summaries: r.bySource! })),
      ...baselineResults.map((b) => ({ name: b.title, summaries: b.bySource! })),
    ];
    console.log('\nby source: STOI / ESTOI / SI-SDR dB');
    console.log(table(['source', 'files', 'min', ...columns.map((c) => c.name)], Object.entries(bySource).map(([source, t]) => [
      source, String(t.files), fixed(t.seconds / 60, 1), ...columns.map((c) => bySourceCell(c.summaries[source])),
    ])));
  }
  if (!perFile && !options.quiet) note(`per-file rows are left out for ${files.length} files: --json has them`);
  if (options.plot && !options.quiet) note(`rate–quality plot written to ${options.plot}`);
  if (options.report && !options.quiet) note(`report of ${drawn.size} drawn file(s) written to ${options.report}`);
  if (options.out && !options.quiet) note(`token files and decoded audio written under ${options.out}`);
  if (options.spectrograms && !options.quiet) {
    note(`spectrograms of ${pictured.size} of ${files.length} file(s) written under ${options.spectrograms} (q<codebooks>/, one folder per baseline)`);
  }
}

/** A by-source table cell: `STOI / ESTOI / SI-SDR`. */
function bySourceCell(t: Summary): string {
  return `${fixed(t.stoi, 3)} / ${fixed(t.estoi, 3)} / ${fixed(t.siSdr, 1)}`;
}

/** One row per file and a TOTAL row. */
function reportTable(files: ClipReport[], total: Summary): string {
  const row = (name: string, x: ClipReport | Summary) => [
    name, fixed(x.seconds, 1), fixed(x.bitsPerSecond / 1000, 3), fixed(x.compressionRatio, 0), fixed(x.siSdr), fixed(x.stoi, 3), fixed(x.estoi, 3), fixed(x.melDistance, 3),
  ];
  const rows = files.map((f) => row(path.basename(f.name), f));
  rows.push(row('TOTAL', total));
  return table(['file', 'seconds', 'kbps', 'ratio', 'SI-SDR dB', 'STOI', 'ESTOI', 'mel dist'], rows);
}
