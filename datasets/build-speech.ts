/**
 * Speech corpus builder (helper of datasets/build-speech.sh).
 *
 *   node --import tsx datasets/build-speech.ts [--out data/speech] [--plan-only] [--convert-only K/N]
 *
 * --convert-only K/N converts every N-th clip from the K-th and writes nothing else: build-speech.sh
 * runs N of these side by side (JOBS=N) before the pass that writes the manifest.
 *
 * Reads the installed Debian speech packages (see SOURCES below; build-speech.sh
 * installs them), converts every usable clip to 16 kHz mono 16-bit WAV with
 * leading/trailing silence trimmed, drops clips shorter than MIN_SECONDS, and
 * writes:
 *   <out>/wav/<source>/<language>/...wav   the clips
 *   <out>/manifest.jsonl                    one clip a line (path, source, language,
 *                                           speaker, seconds, split), sorted by path
 *   <out>/speakers.tsv                      speaker, split group, split, clips, minutes
 *   <out>/summary.json                      per-source / per-split totals
 *
 * One conversion process (sox, or ffmpeg then sox) runs at a time. Resumable:
 * a clip whose WAV (or `.short` marker, for dropped clips) exists is not redone.
 * Outputs are written to a temporary name and renamed, so an interrupted run never
 * leaves a half-written clip behind.
 *
 * SPLIT RULE (speaker-disjoint, deterministic, identical on every machine that has
 * the same package versions):
 *   - Clips are grouped into "split groups"; a group goes wholly to one split.
 *     A group is one speaker, except where one person may have recorded several of
 *     our speaker ids, which are then merged (see splitGroup()):
 *       * tuxpaint-<l>, klettres-<l> and ktuberling-<l> are each recorded by
 *         volunteers of a language team (the KDE Edu ones often by the same
 *         translator, and nothing rules out the same person for Tux Paint), so
 *         all three share the group `volunteer-<base language>` (en with en_GB,
 *         pt_BR with pt, sr with its variants, nb with nn);
 *       * fillets-ng minor characters (anything but the two fish `m` and `v`) are
 *         voiced by an unknown cast that may overlap the fish actors, so they are
 *         pinned to train and never enter valid/test.
 *   - Eligible groups are sorted by sha1("vqcodec-split-v1:" + group) (hex order).
 *     Walking that order, a group is put in VALID if it has at most
 *     MAX_GROUP_MIN_HELDOUT minutes and valid stays <= VALID_MAX_MIN; the walk
 *     stops once valid >= VALID_MIN_MIN. A second walk from the head of the same
 *     order (skipping groups already placed) fills TEST the same way with
 *     TEST_MIN_MIN / TEST_MAX_MIN. All other groups are TRAIN. Minutes are those
 *     of the converted, trimmed clips.
 *   - Why the per-group cap (15 min): pure hash order put three large language
 *     groups (da, es, fr) in test, i.e. 3 voices / 3 languages. With the cap, the
 *     big speakers (the four fillets fish voices, 29-35 min each; the three
 *     asterisk voices, 22-24 min; the volunteer groups es, fr, ro, ru, ml, el over
 *     15 min) always stay in train, and test/valid get many smaller voices and
 *     languages. Valid is filled first so that it takes a few whole groups near
 *     the head of the order and test does not end right at its lower bound.
 *     Targets: test 45-60 min, valid 9-12 min; the script prints what it got and
 *     warns when a target is missed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const MIN_SECONDS = 0.4;
const RATE = 16000;
const TEST_MIN_MIN = 45;
const TEST_MAX_MIN = 60;
const VALID_MIN_MIN = 9;
const VALID_MAX_MIN = 12;
const MAX_GROUP_MIN_HELDOUT = 15;
/** Asterisk prompts that are not speech (tones, beeps) and the silence/ folder. */
const ASTERISK_NON_SPEECH = /^(silence\/.*|beep|beeperr|ascending-2tone|descending-2tone)$/;
const SPLIT_SALT = 'vqcodec-split-v1:';
/** sox effect chain: trim leading silence, then the trailing one (via reverse). */
const TRIM = ['silence', '1', '0.05', '-45d', 'reverse', 'silence', '1', '0.05', '-45d', 'reverse'];

type Split = 'train' | 'valid' | 'test';
type Decoder = 'sox' | 'ffmpeg' | 'g722';

interface Clip {
  pkg: string;
  src: string; // absolute source file
  source: string; // fillets | tuxpaint | klettres | ktuberling | asterisk
  language: string;
  speaker: string;
  group: string; // split group
  pinTrain: boolean;
  out: string; // path relative to <out>, e.g. wav/tuxpaint/fr/animals/frog-1.wav
  decoder: Decoder;
}

interface Done extends Clip {
  seconds: number;
}

const SOURCES: { pkg: string; source: string }[] = [
  { pkg: 'fillets-ng-data-cs', source: 'fillets' },
  { pkg: 'fillets-ng-data-nl', source: 'fillets' },
  { pkg: 'tuxpaint-stamps-default', source: 'tuxpaint' },
  { pkg: 'klettres-data', source: 'klettres' },
  { pkg: 'ktuberling-data', source: 'ktuberling' },
  { pkg: 'asterisk-core-sounds-fr-g722', source: 'asterisk' },
  { pkg: 'asterisk-core-sounds-it-g722', source: 'asterisk' },
  { pkg: 'asterisk-core-sounds-ru-g722', source: 'asterisk' },
];

// ---------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
function opt(name: string, dflt: string): string {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1]! : dflt;
}
const OUT = path.resolve(opt('--out', 'data/speech'));
const PLAN_ONLY = argv.includes('--plan-only');
const SHARD = (() => {
  const v = opt('--convert-only', '');
  if (v === '') return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(v);
  if (m === null || Number(m[1]) >= Number(m[2])) throw new Error(`--convert-only must be K/N with K < N (got ${v})`);
  return { k: Number(m[1]), n: Number(m[2]) };
})();

// ---------------------------------------------------------------- helpers
function listPackage(pkg: string): string[] {
  const txt = execFileSync('dpkg', ['-L', pkg], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return txt
    .split('\n')
    .filter((f) => f.length > 0)
    .filter((f) => {
      try {
        return fs.statSync(f).isFile();
      } catch {
        return false;
      }
    })
    .sort();
}

function stripExt(name: string): string {
  return name.replace(/\.[^./]+$/, '');
}

/**
 * Base language of a locale-ish code: en_GB -> en, sr@latin -> sr, pt_BR -> pt;
 * Norwegian Bokmål (nb) and Nynorsk (nn) -> no (one small language team).
 */
function baseLang(l: string): string {
  const b = l.split(/[_@]/)[0]!;
  return b === 'nb' || b === 'nn' ? 'no' : b;
}

/**
 * Fillets speaker code from a file name like `<level>-<speaker>-<line>.ogg`.
 * Returns `m` / `v` for the two fish, else a level-scoped minor character code.
 */
function filletsSpeaker(level: string, file: string): { code: string; main: boolean } {
  const f = stripExt(file).split(/[-_]/);
  let code: string;
  if (f.length >= 3) code = f[1]!;
  else if (f.length === 2) {
    // `m-zmizet`, `1-archlinux`, `b1-a` (speaker first) or `agenti-m` (speaker last)
    if (f[0]!.length <= 2) code = f[0]!;
    else if (f[1]!.length <= 2) code = f[1]!;
    else code = f[0]!;
  } else code = f[0]!.replace(/\d+$/, ''); // `help12` -> help
  if (code === 'm' || code === 'v') return { code, main: true };
  return { code: `${level}-${code}`, main: false };
}

function splitGroup(c: Pick<Clip, 'source' | 'language' | 'speaker'>): string {
  if (c.source === 'klettres' || c.source === 'ktuberling' || c.source === 'tuxpaint') {
    return `volunteer-${baseLang(c.language)}`;
  }
  return c.speaker;
}

function soxRate(file: string): number {
  const r = spawnSync('soxi', ['-r', file], { encoding: 'utf8' });
  if (r.status === 0) return Number(r.stdout.trim());
  const p = spawnSync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=sample_rate', '-of', 'csv=p=0', file],
    { encoding: 'utf8' },
  );
  if (p.status === 0) return Number(p.stdout.trim());
  throw new Error(`cannot read sample rate of ${file}`);
}

// ---------------------------------------------------------------- plan
function plan(): { clips: Clip[]; skipped: Map<string, number> } {
  const clips: Clip[] = [];
  const skipped = new Map<string, number>();
  const skip = (why: string) => skipped.set(why, (skipped.get(why) ?? 0) + 1);

  for (const { pkg, source } of SOURCES) {
    const files = listPackage(pkg);
    for (const src of files) {
      const ext = path.extname(src).toLowerCase();
      if (source === 'fillets') {
        // /usr/share/games/fillets-ng/sound/<level>/<lang>/<file>.ogg
        const m = /^\/usr\/share\/games\/fillets-ng\/sound\/([^/]+)\/(cs|nl)\/([^/]+\.ogg)$/.exec(src);
        if (!m) continue;
        const [, level, lang, file] = m as unknown as [string, string, string, string];
        const sp = filletsSpeaker(level, file);
        const speaker = `fillets-${lang}-${sp.code}`;
        clips.push({
          pkg, src, source, language: lang, speaker, group: speaker, pinTrain: !sp.main,
          out: `wav/fillets/${lang}/${level}/${stripExt(file)}.wav`, decoder: 'sox',
        });
      } else if (source === 'tuxpaint') {
        // /usr/share/tuxpaint/stamps/<cat...>/<name>_desc[_<lang>].(ogg|wav)[.ogg]
        const m = /^\/usr\/share\/tuxpaint\/stamps\/(.+)\/([^/]+)_desc(?:_([A-Za-z]{2,3}(?:_[A-Z]{2})?))?\.(?:ogg|wav)(?:\.ogg)?$/.exec(src);
        if (!m) continue;
        const [, dir, name, l] = m as unknown as [string, string, string, string | undefined];
        const lang = l ?? 'en';
        const c = { source, language: lang, speaker: `tuxpaint-${lang}` };
        clips.push({
          pkg, src, ...c, group: splitGroup(c), pinTrain: false,
          out: `wav/tuxpaint/${lang}/${dir}/${name}.wav`, decoder: 'sox',
        });
      } else if (source === 'klettres') {
        // /usr/share/klettres/<lang>/(alpha|syllab)/<x>.ogg
        const m = /^\/usr\/share\/klettres\/([^/]+)\/(alpha|syllab)\/([^/]+)\.(?:ogg|wav)$/.exec(src);
        if (!m) continue;
        const [, lang, kind, name] = m as unknown as [string, string, string, string];
        const c = { source, language: lang, speaker: `klettres-${lang}` };
        clips.push({
          pkg, src, ...c, group: splitGroup(c), pinTrain: false,
          out: `wav/klettres/${lang}/${kind}/${name}.wav`, decoder: 'sox',
        });
      } else if (source === 'ktuberling') {
        // /usr/share/ktuberling/sounds/<lang>/<word>.(ogg|wav|opus)
        const m = /^\/usr\/share\/ktuberling\/sounds\/([^/]+)\/([^/]+)\.(ogg|wav|opus)$/.exec(src);
        if (!m) continue;
        const [, dir, name, e] = m as unknown as [string, string, string, string];
        if (soxRate(src) < RATE) {
          skip('ktuberling: source below 16 kHz (8 kHz)');
          continue;
        }
        const lang = dir.replace(/@.*$/, '');
        const c = { source, language: lang, speaker: `ktuberling-${lang}` };
        clips.push({
          pkg, src, ...c, group: splitGroup(c), pinTrain: false,
          out: `wav/ktuberling/${dir}/${name}.wav`, decoder: e === 'opus' ? 'ffmpeg' : 'sox',
        });
      } else if (source === 'asterisk') {
        // /usr/share/asterisk/sounds/<ll_CC_g_Name>/[sub/]<prompt>.g722
        const m = /^\/usr\/share\/asterisk\/sounds\/(([a-z]{2})_[^/]+)\/(.+)\.g722$/.exec(src);
        if (!m || ext !== '.g722') continue;
        const [, , lang, rel] = m as unknown as [string, string, string, string];
        if (ASTERISK_NON_SPEECH.test(rel)) {
          skip('asterisk: not speech (tone, beep, silence)');
          continue;
        }
        const speaker = `asterisk-${lang}`;
        clips.push({
          pkg, src, source, language: lang, speaker, group: speaker, pinTrain: false,
          out: `wav/asterisk/${lang}/${rel}.wav`, decoder: 'g722',
        });
      }
    }
  }

  // Deterministic order; drop byte-identical duplicates (e.g. ktuberling's four
  // Serbian locales share files) and output-path collisions (keep the first).
  clips.sort((a, b) => (a.out < b.out ? -1 : a.out > b.out ? 1 : a.src < b.src ? -1 : 1));
  const seenHash = new Set<string>();
  const seenOut = new Set<string>();
  const unique: Clip[] = [];
  for (const c of clips) {
    const h = createHash('sha1').update(fs.readFileSync(c.src)).digest('hex');
    if (seenHash.has(h)) {
      skip(`${c.source}: byte-identical duplicate`);
      continue;
    }
    if (seenOut.has(c.out)) {
      skip(`${c.source}: output name collision`);
      continue;
    }
    seenHash.add(h);
    seenOut.add(c.out);
    unique.push(c);
  }
  return { clips: unique, skipped };
}

// ---------------------------------------------------------------- convert
function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

/** Seconds of a 16-bit mono PCM WAV, from its data chunk. */
function wavSeconds(file: string): number {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    if (head.toString('ascii', 0, 4) !== 'RIFF' || head.toString('ascii', 8, 12) !== 'WAVE') {
      throw new Error(`${file}: not a WAV file`);
    }
    let p = 12;
    let rate = 0;
    let blockAlign = 0;
    while (p + 8 <= n) {
      const id = head.toString('ascii', p, p + 4);
      const size = head.readUInt32LE(p + 4);
      if (id === 'fmt ') {
        rate = head.readUInt32LE(p + 12);
        blockAlign = head.readUInt16LE(p + 20);
      } else if (id === 'data') {
        const dataBytes = Math.min(size, fs.fstatSync(fd).size - (p + 8));
        return dataBytes / blockAlign / rate;
      }
      p += 8 + size + (size & 1);
    }
    throw new Error(`${file}: no data chunk`);
  } finally {
    fs.closeSync(fd);
  }
}

/** Converts one clip; returns its seconds, or null when it was dropped (too short). */
function convert(c: Clip): number | null {
  const dst = path.join(OUT, c.out);
  const marker = dst + '.short';
  if (fs.existsSync(dst)) return wavSeconds(dst);
  if (fs.existsSync(marker)) return null;
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  const tmp = dst + '.part.wav';
  const dec = dst + '.dec.wav';
  let input = c.src;
  try {
    if (c.decoder !== 'sox') {
      const fmt = c.decoder === 'g722' ? ['-f', 'g722'] : [];
      run('ffmpeg', ['-nostdin', '-hide_banner', '-v', 'error', '-y', ...fmt, '-i', c.src, '-map', '0:a:0', '-c:a', 'pcm_s16le', dec]);
      input = dec;
    }
    // -D: no dither (reproducible); -G: guard against clipping from remix/resample.
    run('sox', ['-D', '-G', '-V1', input, '-r', String(RATE), '-c', '1', '-b', '16', '-e', 'signed-integer', tmp, ...TRIM]);
    const s = wavSeconds(tmp);
    if (s < MIN_SECONDS) {
      fs.writeFileSync(marker, `${s.toFixed(3)}\n`);
      fs.rmSync(tmp);
      return null;
    }
    fs.renameSync(tmp, dst);
    return s;
  } finally {
    fs.rmSync(tmp, { force: true });
    fs.rmSync(dec, { force: true });
  }
}

// ---------------------------------------------------------------- splits
function sha1(s: string): string {
  return createHash('sha1').update(s).digest('hex');
}

function assignSplits(done: Done[]): Map<string, Split> {
  const minutes = new Map<string, number>();
  const pinned = new Set<string>();
  for (const d of done) {
    minutes.set(d.group, (minutes.get(d.group) ?? 0) + d.seconds / 60);
    if (d.pinTrain) pinned.add(d.group);
  }
  const order = [...minutes.keys()]
    .filter((g) => !pinned.has(g))
    .sort((a, b) => (sha1(SPLIT_SALT + a) < sha1(SPLIT_SALT + b) ? -1 : 1));
  const split = new Map<string, Split>();
  for (const g of minutes.keys()) split.set(g, 'train');
  const fill = (name: Split, lo: number, hi: number) => {
    let total = 0;
    for (const g of order) {
      if (total >= lo) break;
      if (split.get(g) !== 'train') continue;
      const m = minutes.get(g)!;
      if (m > MAX_GROUP_MIN_HELDOUT || total + m > hi) continue;
      split.set(g, name);
      total += m;
    }
    if (total < lo) console.warn(`warning: ${name} split has only ${total.toFixed(1)} min (target ${lo}-${hi})`);
  };
  fill('valid', VALID_MIN_MIN, VALID_MAX_MIN);
  fill('test', TEST_MIN_MIN, TEST_MAX_MIN);
  return split;
}

// ---------------------------------------------------------------- report
function pad(s: string | number, n: number, left = false): string {
  const t = String(s);
  return left ? t.padStart(n) : t.padEnd(n);
}

function table(title: string, key: (d: Done & { split: Split }) => string, rows: (Done & { split: Split })[]): void {
  const agg = new Map<string, { clips: number; sec: number; spk: Set<string>; lang: Set<string> }>();
  for (const r of rows) {
    const k = key(r);
    const a = agg.get(k) ?? { clips: 0, sec: 0, spk: new Set<string>(), lang: new Set<string>() };
    a.clips++;
    a.sec += r.seconds;
    a.spk.add(r.speaker);
    a.lang.add(r.language);
    agg.set(k, a);
  }
  console.log(`\n${title}`);
  console.log(`${pad('', 12)} ${pad('clips', 7, true)} ${pad('minutes', 8, true)} ${pad('speakers', 9, true)} ${pad('langs', 6, true)}`);
  let tc = 0;
  let ts = 0;
  for (const [k, a] of [...agg.entries()].sort()) {
    tc += a.clips;
    ts += a.sec;
    console.log(`${pad(k, 12)} ${pad(a.clips, 7, true)} ${pad((a.sec / 60).toFixed(1), 8, true)} ${pad(a.spk.size, 9, true)} ${pad(a.lang.size, 6, true)}`);
  }
  console.log(`${pad('total', 12)} ${pad(tc, 7, true)} ${pad((ts / 60).toFixed(1), 8, true)}`);
}

// ---------------------------------------------------------------- main
function main(): void {
  const t0 = Date.now();
  console.log(`[speech] planning (reading package file lists, hashing sources) ...`);
  const { clips, skipped } = plan();
  console.log(`[speech] ${clips.length} clips to use`);
  for (const [why, n] of [...skipped.entries()].sort()) console.log(`[speech]   skipped ${n}: ${why}`);
  if (PLAN_ONLY) {
    const bySpk = new Map<string, number>();
    for (const c of clips) bySpk.set(c.speaker, (bySpk.get(c.speaker) ?? 0) + 1);
    for (const [s, n] of [...bySpk.entries()].sort()) console.log(`${s}\t${n}`);
    return;
  }

  fs.mkdirSync(OUT, { recursive: true });
  // A shard converts its clips and stops; pruning and the manifest are the final pass's (shards would delete each other's temporary files).
  if (SHARD !== undefined) {
    const mine = clips.filter((_, i) => i % SHARD.n === SHARD.k);
    for (const c of mine) convert(c);
    console.log(`[speech] shard ${SHARD.k}/${SHARD.n}: ${mine.length} clips converted or already done`);
    return;
  }
  prune(new Set(clips.map((c) => c.out)));
  const done: Done[] = [];
  let dropped = 0;
  let converted = 0;
  const pending = clips.filter((c) => {
    const dst = path.join(OUT, c.out);
    return !fs.existsSync(dst) && !fs.existsSync(dst + '.short');
  }).length;
  console.log(`[speech] ${clips.length - pending} clips already done, ${pending} to convert`);
  const tc = Date.now();
  for (let i = 0; i < clips.length; i++) {
    const c = clips[i]!;
    const existed = fs.existsSync(path.join(OUT, c.out)) || fs.existsSync(path.join(OUT, c.out) + '.short');
    const s = convert(c);
    if (!existed) converted++;
    if (s === null) dropped++;
    else done.push({ ...c, seconds: s });
    if ((i + 1) % 500 === 0 || i + 1 === clips.length) {
      const el = (Date.now() - tc) / 1000;
      const eta = converted > 0 ? (el / converted) * (pending - converted) : 0;
      console.log(
        `[speech] ${i + 1}/${clips.length} (${converted}/${pending} converted this run, ${dropped} dropped < ${MIN_SECONDS}s so far) ` +
          `${el.toFixed(0)}s elapsed, ~${eta.toFixed(0)}s left`,
      );
    }
  }

  const split = assignSplits(done);
  const rows = done.map((d) => ({ ...d, split: split.get(d.group)! })).sort((a, b) => (a.out < b.out ? -1 : 1));

  const manifest = rows
    .map((r) =>
      JSON.stringify({
        path: r.out,
        source: r.source,
        language: r.language,
        speaker: r.speaker,
        seconds: Math.round(r.seconds * 1000) / 1000,
        split: r.split,
      }),
    )
    .join('\n');
  writeAtomic(path.join(OUT, 'manifest.jsonl'), manifest + '\n');

  const spk = new Map<string, { group: string; split: Split; clips: number; sec: number }>();
  for (const r of rows) {
    const a = spk.get(r.speaker) ?? { group: r.group, split: r.split, clips: 0, sec: 0 };
    a.clips++;
    a.sec += r.seconds;
    spk.set(r.speaker, a);
  }
  const tsv = ['speaker\tgroup\tsplit\tclips\tminutes'];
  for (const [s, a] of [...spk.entries()].sort()) tsv.push(`${s}\t${a.group}\t${a.split}\t${a.clips}\t${(a.sec / 60).toFixed(2)}`);
  writeAtomic(path.join(OUT, 'speakers.tsv'), tsv.join('\n') + '\n');

  const summary: Record<string, Record<string, { clips: number; minutes: number; speakers: number; languages: string[] }>> = {};
  for (const [dim, key] of [
    ['source', (r: (typeof rows)[number]) => r.source],
    ['split', (r: (typeof rows)[number]) => r.split],
    ['source/language', (r: (typeof rows)[number]) => `${r.source}/${r.language}`],
  ] as const) {
    const m: Record<string, { clips: number; minutes: number; speakers: number; languages: string[] }> = {};
    const spkSets = new Map<string, Set<string>>();
    for (const r of rows) {
      const k = key(r);
      const e = (m[k] ??= { clips: 0, minutes: 0, speakers: 0, languages: [] });
      e.clips++;
      e.minutes += r.seconds / 60;
      if (!e.languages.includes(r.language)) e.languages.push(r.language);
      const ss = spkSets.get(k) ?? new Set<string>();
      ss.add(r.speaker);
      spkSets.set(k, ss);
    }
    for (const [k, e] of Object.entries(m)) {
      e.minutes = Math.round(e.minutes * 100) / 100;
      e.speakers = spkSets.get(k)!.size;
      e.languages.sort();
    }
    summary[dim] = m;
  }
  writeAtomic(path.join(OUT, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');

  table('per source', (r) => r.source, rows);
  table('per split', (r) => r.split, rows);
  console.log('\nheld-out speakers:');
  for (const sp of ['test', 'valid'] as const) {
    const list = [...spk.entries()].filter(([, a]) => a.split === sp).map(([s, a]) => `${s} (${(a.sec / 60).toFixed(1)} min)`);
    console.log(`  ${sp}: ${list.join(', ')}`);
  }
  console.log(
    `\n[speech] ${rows.length} clips in ${path.relative(process.cwd(), path.join(OUT, 'manifest.jsonl'))}; ` +
      `${dropped} dropped as < ${MIN_SECONDS}s; ${converted} converted this run; ${((Date.now() - t0) / 1000).toFixed(0)}s`,
  );
}

/** Removes clips (and drop markers, leftovers) under <out>/wav that the plan no longer has. */
function prune(keep: Set<string>): void {
  const root = path.join(OUT, 'wav');
  if (!fs.existsSync(root)) return;
  let removed = 0;
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        walk(full);
        if (fs.readdirSync(full).length === 0) fs.rmdirSync(full);
        continue;
      }
      const rel = path.relative(OUT, full).split(path.sep).join('/');
      const clip = rel.replace(/\.(short|part\.wav|dec\.wav)$/, '');
      if (/\.(part|dec)\.wav$/.test(rel) || !keep.has(clip)) {
        fs.rmSync(full);
        removed++;
      }
    }
  };
  walk(root);
  if (removed > 0) console.log(`[speech] removed ${removed} stale files under ${root}`);
}

function writeAtomic(file: string, text: string): void {
  const tmp = file + '.part';
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

main();
