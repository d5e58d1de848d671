/**
 * Entropy-coded files from the command line with the shipped models, as a fresh clone has them:
 * `encode` range-codes under models/default's context model by default and under models/prior on
 * request; `info` names the coding without a model; `decode` gives the same audio as from the
 * bit-packed file; a prior-coded file refuses to decode without its prior.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FIXTURES, PACKAGE_ROOT } from '../src/paths.js';

const BIN = path.join(PACKAGE_ROOT, 'bin', 'vqcodec.js');
const SPEECH = path.join(FIXTURES, 'speech.wav');
const PRIOR = path.join(PACKAGE_ROOT, 'models', 'prior');
let dir: string;

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '-q', ...args], { cwd: PACKAGE_ROOT, env: { ...process.env, VQCODEC_BACKEND: 'wasm' }, encoding: 'utf8', timeout: 180_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.slice(0, 2000) };
}

function ok(r: ReturnType<typeof cli>): ReturnType<typeof cli> {
  assert.equal(r.status, 0, r.stderr);
  return r;
}

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-entropy-cli-'));
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('encode range-codes by default, info names the coding, decode matches the bit-packed decode', async () => {
  const at = (name: string) => path.join(dir, name);
  ok(cli('encode', SPEECH, at('ctx.vqt'), '--codebooks', '2'));
  ok(cli('encode', SPEECH, at('plain.vqt'), '--codebooks', '2', '--entropy', 'none'));
  const [ctx, plain] = await Promise.all([fs.stat(at('ctx.vqt')), fs.stat(at('plain.vqt'))]);
  assert.ok(ctx.size < plain.size * 0.95, `${ctx.size} bytes range-coded against ${plain.size} bit-packed`);
  assert.match(ok(cli('info', at('ctx.vqt'))).stdout, /format:\s+version 2, range-coded \(context model\)/);
  assert.match(ok(cli('info', at('plain.vqt'))).stdout, /format:\s+version 2, bit-packed/);
  ok(cli('decode', at('ctx.vqt'), at('ctx.wav')));
  ok(cli('decode', at('plain.vqt'), at('plain.wav')));
  assert.deepEqual(await fs.readFile(at('ctx.wav')), await fs.readFile(at('plain.wav')));
});

test('a compressed input (speech.ogg) is range-coded by default too', async () => {
  const at = (name: string) => path.join(dir, name);
  ok(cli('encode', path.join(FIXTURES, 'speech.ogg'), at('ogg.vqt'), '--codebooks', '2'));
  assert.match(ok(cli('info', at('ogg.vqt'))).stdout, /format:\s+version 2, range-coded \(context model\)/);
});

test('--entropy prior codes under the shipped prior; decoding needs the same prior', async () => {
  const at = (name: string) => path.join(dir, name);
  ok(cli('encode', SPEECH, at('prior.vqt'), '--codebooks', '2', '--entropy', 'prior', '--prior', PRIOR));
  // The prior models both codebooks: the file names no context model.
  assert.match(ok(cli('info', at('prior.vqt'))).stdout, /range-coded \(prior alone\)/);
  const refused = cli('decode', at('prior.vqt'), at('no.wav'));
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /coded with prior [0-9a-f]{8}: pass it with --prior DIR/);
  await assert.rejects(fs.stat(at('no.wav')));
  ok(cli('decode', at('prior.vqt'), at('prior.wav'), '--prior', PRIOR));
  ok(cli('encode', SPEECH, at('plain2.vqt'), '--codebooks', '2', '--entropy', 'none'));
  ok(cli('decode', at('plain2.vqt'), at('plain2.wav')));
  assert.deepEqual(await fs.readFile(at('prior.wav')), await fs.readFile(at('plain2.wav')));
  const bad = cli('encode', SPEECH, at('x.vqt'), '--entropy', 'zip');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--entropy must be one of none, context, prior/);
});
