/**
 * The long fuzz loop, outside CI:
 *
 *   npm run fuzz -- [--cases N] [--seed S] [--only NAME] [--case I] [--limit-ms MS]
 *
 * Runs N mutated inputs spread round-robin over every reader of untrusted bytes (fuzz/targets.ts),
 * counts per reader how many were refused with a one-line VqcodecError, read as valid, or failed
 * (any other error, or slower than the limit, 2 s by default), prints the counts and exits
 * non-zero on any failure. Case I of seed S is the same input on every run: `--case I` replays
 * one and prints what it did; failing inputs are also saved under the system's temp folder
 * (vqcodec-fuzz-failures/). The cases run in a child process that the parent restarts past a
 * case that hangs (no answer in 30 s) or crashes the process, counting it as a failure.
 */
import { fork } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend.js';
import { Random } from '../src/train/random.js';
import { applyMutations, describeMutations, randomMutations } from './mutate.js';
import { makeTargets, runCase, TIME_LIMIT_MS, type FuzzTarget, type Outcome } from './targets.js';

const SCRIPT = fileURLToPath(import.meta.url);
const HANG_MS = 30_000;
/** Where failing inputs are saved. */
const FAILURES_DIR = path.join(os.tmpdir(), 'vqcodec-fuzz-failures');

interface CaseReport {
  type: 'case';
  index: number;
  target: string;
  outcome: Outcome;
  ms: number;
  retried?: boolean;
  input?: string;
  message?: string;
}

/** Case `index` of `seed`: which target, and the input (deterministic). */
function makeCase(targets: FuzzTarget[], seed: number, index: number): { target: FuzzTarget; bytes: Uint8Array; input: string } {
  const target = targets[index % targets.length]!;
  const random = new Random((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
  for (let i = 0; i < 3; i++) random.next();
  if (target.absurd.length > 0 && random.next() < 0.05) {
    const c = target.absurd[random.int(target.absurd.length)]!;
    const mutations = random.next() < 0.5 ? [] : randomMutations(random, c.bytes.length, target.json);
    const fixed = target.fix !== undefined && random.next() < 0.5;
    let bytes = applyMutations(c.bytes, mutations);
    if (fixed) bytes = target.fix!(bytes);
    return { target, bytes, input: `absurd "${c.what}"${mutations.length > 0 ? `, ${describeMutations(mutations)}` : ''}${fixed ? ', checksum fixed' : ''}` };
  }
  const s = random.int(target.seeds.length);
  const mutations = randomMutations(random, target.seeds[s]!.length, target.json);
  const fixed = target.fix !== undefined && random.next() < 0.5;
  let bytes = applyMutations(target.seeds[s]!, mutations);
  if (fixed) bytes = target.fix!(bytes);
  return { target, bytes, input: `seed ${s}, ${describeMutations(mutations)}${fixed ? ', checksum fixed' : ''}` };
}

async function child(seed: number, from: number, to: number, only: string | undefined, limitMs: number): Promise<void> {
  process.on('SIGINT', () => undefined); // the parent stops the child on Ctrl-C, after counting
  await initBackend('cpu');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-fuzz-'));
  try {
    const all = await makeTargets(dir);
    const targets = only === undefined ? all : all.filter((t) => t.name === only);
    if (targets.length === 0) throw new Error(`no target named ${only} (targets: ${all.map((t) => t.name).join(', ')})`);
    for (let i = from; i < to; i++) {
      const { target, bytes, input } = makeCase(targets, seed, i);
      const r = await runCase(target, bytes, limitMs);
      const report: CaseReport = { type: 'case', index: i, target: target.name, outcome: r.outcome, ms: r.ms, retried: r.retried };
      if (r.outcome === 'failed') {
        // The input itself, for a look with other tools (--case replays it too).
        const saved = path.join(FAILURES_DIR, `seed${seed}-case${i}.bin`);
        await fs.mkdir(FAILURES_DIR, { recursive: true });
        await fs.writeFile(saved, bytes);
        Object.assign(report, { input: `${input}; saved as ${saved}`, message: r.message });
      }
      process.send!(report);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function replay(seed: number, index: number, only: string | undefined, limitMs: number): Promise<void> {
  await initBackend('cpu');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-fuzz-'));
  try {
    const all = await makeTargets(dir);
    const targets = only === undefined ? all : all.filter((t) => t.name === only);
    const { target, bytes, input } = makeCase(targets, seed, index);
    const r = await runCase(target, bytes, limitMs);
    console.log(`case ${index} (seed ${seed}): ${target.name}, ${input}, ${bytes.length} bytes`);
    console.log(`${r.outcome} in ${r.ms.toFixed(1)} ms${r.retried ? ' (timed twice: the first run was over the limit)' : ''}${r.message !== undefined ? `: ${r.message}` : ''}`);
    process.exitCode = r.outcome === 'failed' ? 1 : 0;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

interface Counts {
  refused: number;
  ok: number;
  failed: number;
  ms: number;
  slowest: number;
  retried: number;
}

/** Runs cases [0, n) in child processes, restarting past a hang or crash. */
async function parent(n: number, seed: number, only: string | undefined, limitMs: number): Promise<void> {
  const counts = new Map<string, Counts>();
  const failures: CaseReport[] = [];
  const started = Date.now();
  let next = 0;
  let lastPrint = Date.now();
  const tally = (r: CaseReport) => {
    const c = counts.get(r.target) ?? { refused: 0, ok: 0, failed: 0, ms: 0, slowest: 0, retried: 0 };
    c[r.outcome]++;
    if (r.retried) c.retried++;
    c.ms += r.ms;
    c.slowest = Math.max(c.slowest, r.ms);
    counts.set(r.target, c);
    if (r.outcome === 'failed') {
      failures.push(r);
      if (failures.length <= 20) console.error(`FAILED case ${r.index} (${r.target}, ${r.input}): ${r.message}`);
    }
  };
  // Ctrl-C (or SIGTERM) stops early and still prints the counts of the cases that ran.
  let stopping = false;
  let current: ReturnType<typeof fork> | undefined;
  const stop = () => {
    stopping = true;
    current?.kill('SIGKILL');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  while (next < n && !stopping) {
    const from = next;
    const args = ['--child', '--seed', String(seed), '--from', String(from), '--to', String(n), '--limit-ms', String(limitMs), ...(only !== undefined ? ['--only', only] : [])];
    const proc = fork(SCRIPT, args, { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    current = proc;
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr = (stderr + String(d)).slice(-2000)));
    let lastAnswer = Date.now();
    proc.on('message', (r: CaseReport) => {
      lastAnswer = Date.now();
      next = r.index + 1;
      tally(r);
      if (Date.now() - lastPrint > 10_000) {
        lastPrint = Date.now();
        console.error(`${next}/${n} cases, ${((Date.now() - started) / 1000).toFixed(0)} s, ${failures.length} failed`);
      }
    });
    const watchdog = setInterval(() => {
      // Setting up the targets takes a few seconds; a case may then take HANG_MS at most.
      if (Date.now() - lastAnswer > HANG_MS + (next === from ? 30_000 : 0)) proc.kill('SIGKILL');
    }, 1000);
    const code = await new Promise<number | null>((resolve) => proc.on('exit', (c, signal) => resolve(signal !== null ? -1 : c)));
    clearInterval(watchdog);
    if (stopping) {
      console.error(`stopped after ${next} of ${n} cases`);
      break;
    }
    if (next >= n) {
      if (code !== 0) console.error(`the fuzz child exited with ${code} after its last case:\n${stderr}`);
      break;
    }
    if (next === from && code !== -1) throw new Error(`the fuzz child failed before its first case:\n${stderr}`);
    // The case after the last answer hung or crashed the process: count it and go on past it.
    tally({ type: 'case', index: next, target: `(case ${next})`, outcome: 'failed', ms: Date.now() - lastAnswer, input: `replay with --seed ${seed} --case ${next}`, message: code === -1 ? `no answer in ${HANG_MS / 1000} s (hang)` : `the process died (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}` });
    next++;
  }
  const seconds = (Date.now() - started) / 1000;
  const rows = [...counts].sort(([a], [b]) => a.localeCompare(b));
  const total = { refused: 0, ok: 0, failed: 0, retried: 0 };
  console.log(`${'reader'.padEnd(24)}${'cases'.padStart(9)}${'refused'.padStart(9)}${'read'.padStart(9)}${'failed'.padStart(8)}${'mean ms'.padStart(9)}${'max ms'.padStart(9)}${'retimed'.padStart(9)}`);
  for (const [name, c] of rows) {
    const cases = c.refused + c.ok + c.failed;
    total.refused += c.refused;
    total.ok += c.ok;
    total.failed += c.failed;
    total.retried += c.retried;
    console.log(`${name.padEnd(24)}${String(cases).padStart(9)}${String(c.refused).padStart(9)}${String(c.ok).padStart(9)}${String(c.failed).padStart(8)}${(c.ms / cases).toFixed(2).padStart(9)}${c.slowest.toFixed(0).padStart(9)}${String(c.retried).padStart(9)}`);
  }
  const cases = total.refused + total.ok + total.failed;
  console.log(`${'all'.padEnd(24)}${String(cases).padStart(9)}${String(total.refused).padStart(9)}${String(total.ok).padStart(9)}${String(total.failed).padStart(8)}${''.padStart(18)}${String(total.retried).padStart(9)}`);
  console.log('(refused: a one-line VqcodecError; read: valid output; retimed: over the time limit once, then under it)');
  console.log(`${cases} cases (seed ${seed}) in ${seconds.toFixed(0)} s: ${total.failed === 0 ? 'every one refused with a one-line VqcodecError or read as valid' : `${total.failed} FAILED`}`);
  process.exitCode = total.failed === 0 ? 0 : 1;
}

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    only: { type: 'string' },
    case: { type: 'string' },
    'limit-ms': { type: 'string', default: String(TIME_LIMIT_MS) },
    child: { type: 'boolean', default: false },
    from: { type: 'string' },
    to: { type: 'string' },
  },
});
const seed = Number(values.seed);
const limitMs = Number(values['limit-ms']);
if (values.child) await child(seed, Number(values.from), Number(values.to), values.only, limitMs);
else if (values.case !== undefined) await replay(seed, Number(values.case), values.only, limitMs);
else await parent(Number(values.cases), seed, values.only, limitMs);
