/**
 * Training survives SIGKILL: `vqcodec train` (the compiled CLI, as a user runs it) on a tiny run is
 * killed at random moments — after a random time, a random number of steps into a run, and in the
 * middle of writing its checkpoint, its model's weights and its log (VQCODEC_TEST_WRITE_DELAY_MS
 * stretches each atomic write so the kill lands inside it) — and resumed each time with --resume.
 * After every kill the run folder holds a whole checkpoint (or none yet) and a log whose lines all
 * parse but perhaps a cut last one; the finished run's model/weights.bin, checkpoint arrays and
 * logged losses equal those of an uninterrupted run byte for byte, and no temp file is left.
 * Build first: `npx tsc -p .`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readBundle } from '../src/io/bundleFs.js';
import type { NamedArrays } from '../src/model/params.js';
import { FIXTURES, PACKAGE_ROOT } from '../src/paths.js';

const BIN = path.join(PACKAGE_ROOT, 'bin', 'vqcodec.js');
const STEPS = 24;
/** Milliseconds each atomic write pauses half-way in the runs meant to be killed mid-write. */
const WRITE_DELAY_MS = 400;

let root: string;
let data: string;
/** The children this test spawned (only these are ever killed). */
const children = new Set<ChildProcess>();

function args(run: string, resume: boolean): string[] {
  return [
    // A resumed run is not told its steps: it keeps the run's own total (not the default 20,000).
    BIN, 'train', '-d', data, '-o', run, '-p', 'tiny', ...(resume ? [] : ['--steps', String(STEPS)]), '--batch', '2', '--crop', '0.2', '--stft', '64,128,256',
    '--log-every', '1', '--checkpoint-every', '2', '--validate-every', '1000', '--workers', '1', '--seed', '5',
    ...(resume ? ['--resume'] : []),
  ];
}

interface Child {
  process: ChildProcess;
  stderr: () => string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(run: string, resume: boolean, writeDelay = 0): Child {
  const child = spawn(process.execPath, args(run, resume), {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, VQCODEC_BACKEND: 'wasm', VQCODEC_DEBUG: '', VQCODEC_TEST_WRITE_DELAY_MS: writeDelay > 0 ? String(writeDelay) : '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { process: child, stderr: () => stderr, exited };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `ready()` holds or the child exits; true when it held first. */
async function until(child: Child, ready: () => Promise<boolean>): Promise<boolean> {
  let done = false;
  void child.exited.then(() => (done = true));
  while (!done) {
    if (await ready()) return true;
    await sleep(4);
  }
  return false;
}

/** The log's lines: every one must parse, except perhaps a last one cut by the kill. */
async function logLines(run: string): Promise<{ entries: { type: string; step: number; [k: string]: unknown }[]; cut: boolean }> {
  const text = await fs.readFile(path.join(run, 'log.jsonl'), 'utf8').catch(() => '');
  const lines = text.split('\n');
  const last = lines.pop()!;
  const entries = lines.map((l, i) => {
    try {
      return JSON.parse(l);
    } catch {
      assert.fail(`log.jsonl line ${i + 1} is not JSON (only a cut last line may be): ${l.slice(0, 120)}`);
    }
  });
  // A last line without its newline was cut by the kill (or is a whole line whose newline was not written yet).
  return { entries, cut: last !== '' };
}

async function lastLoggedStep(run: string): Promise<number> {
  const { entries } = await logLines(run).catch(() => ({ entries: [] as { step: number }[] }));
  return entries.reduce((m, e) => Math.max(m, e.step), 0);
}

async function tempFiles(dir: string): Promise<string[]> {
  return (await fs.readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.tmp'));
}

/** The checkpoint's step, or 0 when there is none yet; it must always be a whole, readable bundle. */
async function checkpointStep(run: string): Promise<number> {
  const file = path.join(run, 'checkpoint.bin');
  if (!existsSync(file)) return 0;
  const bundle = await readBundle(file);
  assert.equal(bundle.meta.format, 'vqcodec-checkpoint');
  return bundle.meta.step as number;
}

function assertSameArrays(a: NamedArrays, b: NamedArrays, what: string): void {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${what}: same names`);
  for (const name of Object.keys(a)) {
    const x = Buffer.from(a[name].data.buffer, a[name].data.byteOffset, a[name].data.byteLength);
    const y = Buffer.from(b[name].data.buffer, b[name].data.byteOffset, b[name].data.byteLength);
    assert.ok(x.equals(y), `${what}: ${name} differs`);
  }
}

/** Every logged figure but the timings. */
function figures(entries: { [k: string]: unknown }[]): unknown[] {
  return entries.map((e) => ({ ...e, elapsedSeconds: 0, audioSecondsPerSecond: 0 }));
}

before(async () => {
  assert.ok(existsSync(path.join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js')), 'dist/src/cli/main.js is missing: build with `npx tsc -p .` first');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-kill-'));
  data = path.join(root, 'data');
  await fs.mkdir(data);
  await fs.copyFile(path.join(FIXTURES, 'speech.wav'), path.join(data, 'speech.wav'));
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  if (root) await fs.rm(root, { recursive: true, force: true });
});

/** How a kill is timed. */
type Trigger =
  | { kind: 'time'; ms: number }
  | { kind: 'steps'; ahead: number; ms: number }
  | { kind: 'write'; file: string };

test('SIGKILL at random moments (mid-checkpoint, mid-model, mid-log too), resumed each time, ends with the uninterrupted run’s weights', async (t) => {
  const straightRun = path.join(root, 'straight');
  const killedRun = path.join(root, 'killed');
  const started = Date.now();
  // The uninterrupted run, alongside the first kills.
  const straight = start(straightRun, false);

  const random = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
  const triggers: Trigger[] = [
    { kind: 'time', ms: random(300, 1200) },
    { kind: 'steps', ahead: random(1, 3), ms: random(0, 250) },
    { kind: 'write', file: 'checkpoint.bin' },
    { kind: 'steps', ahead: random(1, 2), ms: random(0, 250) },
    { kind: 'write', file: path.join('model', 'weights.bin') },
    // A resume rewrites the log first (dropping lines after its checkpoint): killed in the middle of that.
    { kind: 'write', file: 'log.jsonl' },
    { kind: 'write', file: 'checkpoint.bin' },
    { kind: 'steps', ahead: random(0, 2), ms: random(0, 250) },
  ];
  let kills = 0;
  let midWrite = 0;
  let cutLines = 0;
  const moments: string[] = [];
  for (const trigger of triggers) {
    const before = await checkpointStep(killedRun);
    const resume = before > 0;
    const child = start(killedRun, resume, trigger.kind === 'write' ? WRITE_DELAY_MS : 0);
    const spawned = Date.now();
    let fire: boolean;
    if (trigger.kind === 'time') {
      fire = await until(child, async () => Date.now() - spawned >= trigger.ms);
    } else if (trigger.kind === 'steps') {
      const target = Math.min(STEPS - 1, before + trigger.ahead);
      fire = await until(child, async () => (await lastLoggedStep(killedRun)) >= target && (await sleep(trigger.ms), true));
    } else {
      const dir = path.join(killedRun, path.dirname(trigger.file));
      const prefix = `.${path.basename(trigger.file)}.`;
      fire = await until(child, async () => (await tempFiles(dir)).some((f) => f.startsWith(prefix)));
    }
    if (!fire) {
      // The run finished (or failed) before the moment came: nothing to kill this time.
      const { code } = await child.exited;
      assert.equal(code, 0, `an unkilled run exits cleanly: ${child.stderr().slice(-600)}`);
      moments.push(`${trigger.kind}: finished first`);
      break;
    }
    child.process.kill('SIGKILL');
    const { signal } = await child.exited;
    if (signal !== 'SIGKILL') {
      moments.push(`${trigger.kind}: exited before the signal`);
      continue;
    }
    kills++;
    // What the kill left: a whole checkpoint no older than before, a log that parses but for a cut last line.
    const after = await checkpointStep(killedRun);
    assert.ok(after >= before, `checkpoint step ${after} ≥ ${before}`);
    const log = await logLines(killedRun);
    if (log.cut) cutLines++;
    if (trigger.kind === 'write') {
      const dir = path.join(killedRun, path.dirname(trigger.file));
      const left = await tempFiles(dir);
      if (left.some((f) => f.startsWith(`.${path.basename(trigger.file)}.`))) midWrite++;
    }
    moments.push(`${trigger.kind}${trigger.kind === 'write' ? ` ${trigger.file}` : ''}: checkpoint ${before} → ${after}, ${log.entries.length} log lines${log.cut ? ' + a cut one' : ''}`);
  }
  // A log line cut mid-write, as a kill inside an append leaves it: the resume must cope.
  await fs.appendFile(path.join(killedRun, 'log.jsonl'), '{"type":"train","step":99,"to');

  const final = start(killedRun, (await checkpointStep(killedRun)) > 0);
  const [done, straightDone] = await Promise.all([final.exited, straight.exited]);
  assert.equal(straightDone.code, 0, `the uninterrupted run: ${straight.stderr().slice(-600)}`);
  assert.equal(done.code, 0, `the last resume: ${final.stderr().slice(-600)}`);
  t.diagnostic(`${kills} kills survived (${midWrite} in the middle of a write, ${cutLines} leaving a cut log line), ${((Date.now() - started) / 1000).toFixed(1)} s: ${moments.join('; ')}`);
  assert.ok(kills >= 5, `at least 5 kills landed (${kills})`);
  assert.ok(midWrite >= 2, `at least 2 kills landed mid-write (${midWrite})`);

  const weights = await Promise.all([straightRun, killedRun].map((r) => fs.readFile(path.join(r, 'model', 'weights.bin'))));
  assert.ok(weights[0].equals(weights[1]), 'model/weights.bin is byte for byte the uninterrupted run’s');
  const [a, b] = await Promise.all([straightRun, killedRun].map((r) => readBundle(path.join(r, 'checkpoint.bin'))));
  assertSameArrays(a.arrays, b.arrays, 'final checkpoint');
  for (const key of ['step', 'adamStep', 'random', 'lrFactor', 'skipsInARow']) assert.deepEqual(b.meta[key], a.meta[key], `checkpoint ${key}`);
  for (const dir of [killedRun, path.join(killedRun, 'model')]) assert.deepEqual(await tempFiles(dir), [], `no temp files in ${dir}`);

  const [logA, logB] = await Promise.all([straightRun, killedRun].map(logLines));
  assert.equal(logB.cut, false, 'the finished log has no cut line');
  assert.deepEqual(logB.entries.filter((e) => e.type === 'train').map((e) => e.step), Array.from({ length: STEPS }, (_, i) => i + 1), 'each step logged once');
  assert.deepEqual(figures(logB.entries), figures(logA.entries), 'the same losses, step for step');
});
