/**
 * The player process of ./playback.ts: receives the clips over IPC, plays each through one
 * AudioContext and reports when each starts and ends. Exits 0 when all have played, 1 after
 * sending an error.
 */
import type { Clip, PlayerMessage } from './playback.js';

function send(m: PlayerMessage): Promise<void> {
  return new Promise((resolve) => process.send!(m, () => resolve()));
}

async function play(clips: Clip[], sink: 'none' | 'default'): Promise<void> {
  const { AudioContext } = await import('node-web-audio-api');
  let context: InstanceType<typeof AudioContext>;
  try {
    context = new AudioContext({ latencyHint: 'playback', ...(sink === 'none' ? { sinkId: { type: 'none' } } : {}) } as ConstructorParameters<typeof AudioContext>[0]);
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    await send({ type: 'error', noDevice: /DeviceNotAvailable|device/i.test(message), message: message.split('\n')[0]! });
    process.exit(1);
  }
  for (let i = 0; i < clips.length; i++) {
    const { samples, sampleRate } = clips[i]!;
    const buffer = context.createBuffer(1, Math.max(1, samples.length), sampleRate);
    buffer.copyToChannel(new Float32Array(samples), 0);
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    const ended = new Promise<void>((resolve) => (source.onended = () => resolve()));
    await send({ type: 'started', index: i });
    source.start();
    await ended;
    await send({ type: 'ended', index: i });
  }
  await context.close();
}

process.once('message', (m: { clips: Clip[]; sink: 'none' | 'default' }) => {
  play(m.clips, m.sink).then(
    () => process.exit(0),
    async (err) => {
      await send({ type: 'error', noDevice: false, message: String((err as Error).message ?? err).split('\n')[0]! });
      process.exit(1);
    },
  );
});
