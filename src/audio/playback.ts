/**
 * Playing audio through the sound card (node-web-audio-api's AudioContext).
 *
 * Playback runs in a child process (./player.ts): the native audio stack prints its own
 * diagnostics on stderr (ALSA, PulseAudio) when there is no device, and a child's stderr can
 * be captured, so the user sees one clear line instead. VQCODEC_AUDIO_SINK=none plays into a
 * null sink in real time (machines without a sound card, and the tests).
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VqcodecError } from '../errors.js';

export interface Clip {
  /** Said before the clip plays: "original", "2 codebooks (1.1 kbps)". */
  label: string;
  samples: Float32Array;
  sampleRate: number;
}

/** What the player process sends back. */
export type PlayerMessage = { type: 'started'; index: number } | { type: 'ended'; index: number } | { type: 'error'; noDevice: boolean; message: string };

const PLAYER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'player.js');

/** Plays `clips` one after another; `onStart` is told as each begins. Rejects with a one-line VqcodecError when there is no audio device. */
export async function playClips(clips: Clip[], onStart: (clip: Clip, index: number) => void = () => undefined): Promise<void> {
  const child = fork(PLAYER, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  await new Promise<void>((resolve, reject) => {
    let failed: VqcodecError | undefined;
    child.on('message', (m: PlayerMessage) => {
      if (m.type === 'started') onStart(clips[m.index]!, m.index);
      else if (m.type === 'error') failed = new VqcodecError(m.noDevice ? `no audio output device (${m.message})` : `audio playback failed: ${m.message}`);
    });
    child.on('exit', (code) => {
      if (failed) reject(failed);
      else if (code !== 0) reject(new VqcodecError(`audio playback failed (player exited with ${code})${process.env.VQCODEC_DEBUG ? `: ${stderr}` : ''}`));
      else resolve();
    });
    child.send({ clips, sink: process.env.VQCODEC_AUDIO_SINK === 'none' ? 'none' : 'default' });
  });
}
