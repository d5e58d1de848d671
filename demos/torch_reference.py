#!/usr/bin/env python3
"""PyTorch reference implementation of vqcodec's network, for speed comparison only.

This script is NOT part of vqcodec and never a dependency of it: the benchmark runs it
only when `python3 -c 'import torch'` works (e.g. Debian's python3-torch).

It rebuilds, layer for layer, the VQ-VAE that src/model/*.ts builds from a CodecConfig
(same convolutions, channel widths, paddings, fold/unfold resampling, residual VQ,
L1 + multi-resolution STFT loss, Adam with global-norm clipping), in PyTorch's natural
[batch, channels, time] layout, and measures on this machine's CPU:

  - trainable parameter count (must equal vqcodec's ParamStore.trainableCount());
  - forward GFLOP per audio-second (2 x multiply-adds of the convs, counted analytically
    as Encoder/Decoder.macsPerSample() do);
  - training throughput: median step time over --steps steps (after 2 warm-up steps) of
    batch x seconds random crops of noise-like audio -> audio-seconds per wall-second;
  - encode and decode real-time factors at batch 1 for a --codec-seconds signal
    (torch.inference_mode; by default in 500-frame chunks with context overlap, as vqcodec's
    Codec.encode/decode do; --chunk-frames 0 codes the whole signal in one pass).

A short table goes to stderr, one JSON line to stdout.

Setup (Debian): apt-get install --no-install-recommends python3-torch libopenblas0. Without
libopenblas0 (a Recommends of libtorch1.13, skipped by --no-install-recommends) torch's
matmuls run on netlib's reference BLAS, ~20x slower; the JSON's "blas" field names the
library that was loaded.

Usage:
  /usr/bin/python3 demos/torch_reference.py [--preset default|small|tiny | --config model/config.json]
      [--threads N] [--steps 10] [--batch 8] [--seconds 1] [--codec-seconds 60]
      [--chunk-frames 500] [--stft fft|matmul] [--seed 1]
"""

import argparse
import json
import math
import os
import statistics
import sys
import time


def _threads_from_argv(argv):
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


# Debian's torch calls BLAS through libblas.so.3 (BLAS_INFO=generic), so torch.set_num_threads
# does not reach OpenBLAS's own thread pool: size it before torch loads it.
if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads_from_argv(sys.argv[1:]))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# ---------------------------------------------------------------------------------------
# Config: mirrors src/model/config.ts (DEFAULT_CONFIG, PRESETS, stageChannels, hopLength).

DEFAULT_CONFIG = {
    "sampleRate": 16000,
    "channels": 16,
    "maxChannels": 256,
    "strides": [2, 4, 5, 8],
    "dilations": [1, 3, 9],
    "kernelSize": 7,
    "padding": "same",
    "quantizer": {
        "codebookSize": 1024,
        "dim": 64,
        "numCodebooks": 8,
        "commitmentWeight": 0.25,
        "ema": True,
        "emaDecay": 0.99,
        "emaEpsilon": 1e-5,
        "kmeansInit": True,
        "kmeansIterations": 10,
        "deadCodeThreshold": 0.02,
        "quantizerDropout": 0.5,
    },
}

PRESETS = {
    "default": {},
    "small": {"channels": 8, "maxChannels": 128},
    "tiny": {
        "channels": 4,
        "maxChannels": 32,
        "dilations": [1, 3],
        "kernelSize": 5,
        "quantizer": {"codebookSize": 64, "dim": 16, "numCodebooks": 4},
    },
}

# Training options of src/train/trainer.ts's defaults.
LEARNING_RATE = 1e-3
CLIP_NORM = 1.0
LOSS_WEIGHTS = {"waveform": 1.0, "stft": 1.0, "vq": 1.0}
STFT_WINDOWS = [512, 1024, 2048]


def make_config(overrides):
    """makeConfig(): defaults with overrides applied, quantizer fields merged."""
    config = {**DEFAULT_CONFIG, **{k: v for k, v in overrides.items() if k != "quantizer"}}
    config["strides"] = list(config["strides"])
    config["dilations"] = list(config["dilations"])
    config["quantizer"] = {**DEFAULT_CONFIG["quantizer"], **overrides.get("quantizer", {})}
    if config["padding"] not in ("same", "causal"):
        raise SystemExit(f"invalid config: padding must be 'same' or 'causal' (got {config['padding']})")
    if config["kernelSize"] % 2 == 0:
        raise SystemExit(f"invalid config: kernelSize must be odd (got {config['kernelSize']})")
    return config


def stage_channels(config, stage):
    return min(config["channels"] * 2**stage, config["maxChannels"])


def hop_length(config):
    return math.prod(config["strides"])


def context_frames(config):
    """Frames either side of a frame that can influence it ('same' padding): vqcodec's former hand formula.

    At least the receptive field vqcodec now derives from its layers (VqVae.encoderContext and
    decoderContext: 9 and 11 frames for the default preset, against 13 here), so chunks here do
    somewhat more work than vqcodec's.
    """
    half = (config["kernelSize"] - 1) / 2
    units_span = sum(half * d for d in config["dilations"])
    spacing = 1
    samples = half
    for stride in config["strides"]:
        samples += units_span * spacing
        spacing *= stride
        samples += 2 * spacing
    samples += spacing
    hop = spacing
    decoder_samples = samples + (half - 1) * hop
    return math.ceil(max(samples, decoder_samples) / hop) + 1


# ---------------------------------------------------------------------------------------
# Layers: mirror src/model/layers.ts, in [batch, channels, time] layout.


class Conv1d(nn.Module):
    """Stride-1 conv with 'same' (floor/ceil split) or 'causal' zero padding of (taps-1)*dilation.

    Init as ParamStore.uniform: weights U(+-gain*sqrt(3/fanIn)), fanIn = taps*inChannels; bias 0.
    """

    def __init__(self, in_ch, out_ch, taps, dilation, padding, gain=1.0):
        super().__init__()
        self.in_ch, self.out_ch, self.taps = in_ch, out_ch, taps
        span = (taps - 1) * dilation
        left = span if padding == "causal" else span // 2
        self.pad = (left, span - left)
        symmetric = left == span - left
        # Symmetric padding is done inside the conv (no copy); otherwise explicitly with F.pad.
        self.conv = nn.Conv1d(in_ch, out_ch, taps, dilation=dilation, padding=left if symmetric else 0)
        self.explicit_pad = not symmetric and span > 0
        limit = gain * math.sqrt(3 / (taps * in_ch))
        with torch.no_grad():
            self.conv.weight.uniform_(-limit, limit)
            self.conv.bias.zero_()

    def forward(self, x):
        if self.explicit_pad:
            x = F.pad(x, self.pad)
        return self.conv(x)

    def macs_per_step(self):
        return self.taps * self.in_ch * self.out_ch


class ResidualUnit(nn.Module):
    """x + pointwise(elu(dilated(elu(x)))); the pointwise conv starts small (gain 0.1)."""

    def __init__(self, channels, taps, dilation, padding):
        super().__init__()
        self.dilated = Conv1d(channels, channels, taps, dilation, padding)
        self.pointwise = Conv1d(channels, channels, 1, 1, padding, gain=0.1)

    def forward(self, x):
        return x + self.pointwise(F.elu(self.dilated(F.elu(x))))

    def macs_per_step(self):
        return self.dilated.macs_per_step() + self.pointwise.macs_per_step()


class Downsample(nn.Module):
    """Fold `factor` time steps into channels, then a 3-tap conv.

    tfjs reshapes [B, T, C] -> [B, T/f, f*C]: time g*f + j, channel c lands in channel j*C + c
    of frame g. Here [B, C, T] -> [B, C, T/f, f] -> [B, f, C, T/f] -> [B, f*C, T/f] does the same.
    """

    def __init__(self, in_ch, out_ch, factor, padding):
        super().__init__()
        self.factor = factor
        self.conv = Conv1d(in_ch * factor, out_ch, 3, 1, padding)

    def forward(self, x):
        b, c, t = x.shape
        f = self.factor
        x = x.reshape(b, c, t // f, f).permute(0, 3, 1, 2).reshape(b, f * c, t // f)
        return self.conv(x)

    def macs_per_step(self):
        return self.conv.macs_per_step()


class Upsample(nn.Module):
    """A 3-tap conv to factor*outChannels, then unfold channels into time (sub-pixel).

    tfjs reshapes [B, T, f*C] -> [B, T*f, C]: channel j*C + c of frame t becomes time t*f + j.
    Here [B, f*C, T] -> [B, f, C, T] -> [B, C, T, f] -> [B, C, T*f] does the same.
    """

    def __init__(self, in_ch, out_ch, factor, padding):
        super().__init__()
        self.factor, self.out_ch = factor, out_ch
        self.conv = Conv1d(in_ch, out_ch * factor, 3, 1, padding)

    def forward(self, x):
        y = self.conv(x)
        b, _, t = y.shape
        f = self.factor
        return y.reshape(b, f, self.out_ch, t).permute(0, 2, 3, 1).reshape(b, self.out_ch, t * f)

    def macs_per_step(self):
        return self.conv.macs_per_step()


class Encoder(nn.Module):
    """Waveform [B, T] -> latents [B, dim, T/hop] (src/model/encoder.ts)."""

    def __init__(self, config):
        super().__init__()
        k, padding = config["kernelSize"], config["padding"]
        self.strides = config["strides"]
        self.input = Conv1d(1, stage_channels(config, 0), k, 1, padding)
        self.units = nn.ModuleList()
        self.downs = nn.ModuleList()
        for i, stride in enumerate(config["strides"]):
            c = stage_channels(config, i)
            self.units.append(nn.ModuleList([ResidualUnit(c, k, d, padding) for d in config["dilations"]]))
            self.downs.append(Downsample(c, stage_channels(config, i + 1), stride, padding))
        top = stage_channels(config, len(config["strides"]))
        self.output = Conv1d(top, config["quantizer"]["dim"], 3, 1, padding)

    def forward(self, audio):
        x = self.input(audio.unsqueeze(1))
        for units, down in zip(self.units, self.downs):
            for unit in units:
                x = unit(x)
            x = down(F.elu(x))
        return self.output(F.elu(x))

    def macs_per_sample(self):
        rate = 1.0
        macs = self.input.macs_per_step()
        for units, down, stride in zip(self.units, self.downs, self.strides):
            macs += sum(u.macs_per_step() for u in units) * rate
            rate /= stride
            macs += down.macs_per_step() * rate
        return macs + self.output.macs_per_step() * rate


class Decoder(nn.Module):
    """Latents [B, dim, F] -> waveform [B, F*hop] (src/model/decoder.ts), the encoder's mirror."""

    def __init__(self, config):
        super().__init__()
        k, padding = config["kernelSize"], config["padding"]
        depth = len(config["strides"])
        self.hop = hop_length(config)
        self.input = Conv1d(config["quantizer"]["dim"], stage_channels(config, depth), k, 1, padding)
        self.ups = nn.ModuleList()
        self.units = nn.ModuleList()
        for i in reversed(range(depth)):
            c = stage_channels(config, i)
            self.ups.append(Upsample(stage_channels(config, i + 1), c, config["strides"][i], padding))
            self.units.append(nn.ModuleList([ResidualUnit(c, k, d, padding) for d in config["dilations"]]))
        self.output = Conv1d(stage_channels(config, 0), 1, k, 1, padding)

    def forward(self, latents):
        x = self.input(latents)
        for up, units in zip(self.ups, self.units):
            x = up(F.elu(x))
            for unit in units:
                x = unit(x)
        return self.output(F.elu(x)).squeeze(1)

    def macs_per_sample(self):
        rate = 1.0 / self.hop
        macs = self.input.macs_per_step() * rate
        for up, units in zip(self.ups, self.units):
            macs += up.macs_per_step() * rate
            rate *= up.factor
            macs += sum(u.macs_per_step() for u in units) * rate
        return macs + self.output.macs_per_step()


# ---------------------------------------------------------------------------------------
# Residual VQ: mirrors src/model/quantizer.ts.


class ResidualVectorQuantizer(nn.Module):
    """N codebooks of K x D. With EMA (the default) the codebooks are buffers, not trainable
    parameters: vqcodec registers them with trainable = !ema, so they are not counted."""

    def __init__(self, qc):
        super().__init__()
        self.qc = qc
        K, D, N = qc["codebookSize"], qc["dim"], qc["numCodebooks"]
        limit = math.sqrt(3 / D)
        books = [torch.empty(K, D).uniform_(-limit, limit) for _ in range(N)]
        if qc["ema"]:
            self.books = [None] * N
            for q, b in enumerate(books):
                self.register_buffer(f"codebook{q}", b)
                self.register_buffer(f"clusterSize{q}", torch.ones(K))
                self.register_buffer(f"embedSum{q}", b.clone())
        else:
            self.codebooks = nn.ParameterList([nn.Parameter(b) for b in books])

    def book(self, q):
        return getattr(self, f"codebook{q}") if self.qc["ema"] else self.codebooks[q]

    @staticmethod
    def nearest(z, book):
        """argmin_k ||e_k||^2 - 2 z.e_k (||z||^2 is the same for every k)."""
        return torch.argmin((book * book).sum(1) - 2 * (z @ book.t()), dim=1)

    def quantize(self, z, num_active):
        """z [N, D] -> (straight-through quantized, codes [N, n], codebook loss, commitment loss, residuals)."""
        residual = z
        total = torch.zeros_like(z)
        codebook_loss = z.new_zeros(())
        commitment = z.new_zeros(())
        codes, residuals = [], []
        for q in range(num_active):
            book = self.book(q)
            held = residual.detach()
            residuals.append(held)
            with torch.no_grad():
                idx = self.nearest(held, book)
            codes.append(idx)
            chosen = F.embedding(idx, book)  # gradient (when trainable) only to the chosen rows
            if not self.qc["ema"]:
                codebook_loss = codebook_loss + ((held - chosen) ** 2).mean()
            chosen_held = chosen.detach()
            commitment = commitment + ((residual - chosen_held) ** 2).mean()
            total = total + chosen
            residual = residual - chosen_held
        quantized = z + (total - z).detach()
        return quantized, torch.stack(codes, 1), codebook_loss, commitment * self.qc["commitmentWeight"], residuals

    @torch.no_grad()
    def update(self, residuals, codes):
        """batchStatistics (one-hot matmul per codebook) + the EMA codebook update with Laplace smoothing."""
        K = self.qc["codebookSize"]
        decay, eps = self.qc["emaDecay"], self.qc["emaEpsilon"]
        for q, r in enumerate(residuals):
            onehot = F.one_hot(codes[:, q], K).to(r.dtype)
            counts = onehot.sum(0)
            sums = onehot.t() @ r
            if not self.qc["ema"]:
                continue
            size = getattr(self, f"clusterSize{q}")
            embed = getattr(self, f"embedSum{q}")
            size.mul_(decay).add_(counts, alpha=1 - decay)
            embed.mul_(decay).add_(sums, alpha=1 - decay)
            n = size.sum()
            smoothed = (size + eps) / (n + K * eps) * n
            self.book(q).copy_(embed / smoothed.unsqueeze(1))

    def encode(self, z, num_active):
        residual = z
        codes = []
        for q in range(num_active):
            book = self.book(q)
            idx = self.nearest(residual, book)
            codes.append(idx)
            residual = residual - book[idx]
        return torch.stack(codes, 1)

    def decode(self, codes):
        out = None
        for q in range(codes.shape[1]):
            e = self.book(q)[codes[:, q]]
            out = e if out is None else out + e
        return out


class VqVae(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.dim = config["quantizer"]["dim"]
        self.encoder = Encoder(config)
        self.quantizer = ResidualVectorQuantizer(config["quantizer"])
        self.decoder = Decoder(config)

    def latents(self, audio):
        z = self.encoder(audio)  # [B, D, F]
        b, d, f = z.shape
        return z.permute(0, 2, 1).reshape(b * f, d), b, f

    def forward(self, audio, num_active):
        z, b, f = self.latents(audio)
        quantized, codes, cb_loss, commit, residuals = self.quantizer.quantize(z, num_active)
        recon = self.decoder(quantized.reshape(b, f, self.dim).permute(0, 2, 1))
        return recon, codes, cb_loss, commit, residuals

    def encode(self, audio, num_active):
        z, b, f = self.latents(audio)
        return self.quantizer.encode(z, num_active).reshape(b, f, num_active)

    def decode(self, codes):
        b, f, n = codes.shape
        e = self.quantizer.decode(codes.reshape(b * f, n))
        return self.decoder(e.reshape(b, f, self.dim).permute(0, 2, 1))

    def macs_per_sample(self):
        return self.encoder.macs_per_sample() + self.decoder.macs_per_sample()


# ---------------------------------------------------------------------------------------
# Losses: mirror src/train/losses.ts.

_bases = {}


def dft_basis(window):
    """[window, 2*bins]: Hann-windowed cos | -sin (the same basis vqcodec multiplies by)."""
    if window not in _bases:
        bins = window // 2 + 1
        n = torch.arange(window, dtype=torch.float64).unsqueeze(1)
        k = torch.arange(bins, dtype=torch.float64).unsqueeze(0)
        hann = 0.5 - 0.5 * torch.cos(2 * math.pi * n / window)
        phase = 2 * math.pi * n * k / window
        _bases[window] = torch.cat([hann * torch.cos(phase), -hann * torch.sin(phase)], 1).float().contiguous()
    return _bases[window]


_windows = {}


def stft_magnitude(audio, window, method):
    """|STFT| [B*frames, bins] (up to layout), Hann window, hop window/4, no centring, +1e-7 inside the sqrt."""
    hop = window // 4
    if method == "fft":
        if window not in _windows:
            _windows[window] = torch.hann_window(window, periodic=True)
        spec = torch.stft(audio, window, hop, window, _windows[window], center=False, return_complex=True)
        return torch.sqrt(spec.real.square() + spec.imag.square() + 1e-7)
    bins = window // 2 + 1
    frames = audio.unfold(-1, window, hop)  # [B, frames, window], a strided view
    spec = frames @ dft_basis(window)
    re, im = spec[..., :bins], spec[..., bins:]
    return torch.sqrt(re.square() + im.square() + 1e-7)


def multi_resolution_stft_loss(target, estimate, windows, method):
    total = target.new_zeros(())
    for w in windows:
        s = stft_magnitude(target, w, method)
        e = stft_magnitude(estimate, w, method)
        convergence = torch.linalg.norm((s - e).flatten()) / (torch.linalg.norm(s.flatten()) + 1e-7)
        log_mag = (torch.log(s) - torch.log(e)).abs().mean()
        total = total + convergence + log_mag
    return total / len(windows)


# ---------------------------------------------------------------------------------------
# Training step: mirrors src/train/step.ts (trainStep) and adam.ts.


def train_step(model, optimizer, batch, num_active, stft_method):
    recon, codes, cb_loss, commit, residuals = model(batch, num_active)
    waveform = (batch - recon).abs().mean()
    stft = multi_resolution_stft_loss(batch, recon, STFT_WINDOWS, stft_method)
    total = LOSS_WEIGHTS["waveform"] * waveform + LOSS_WEIGHTS["stft"] * stft + LOSS_WEIGHTS["vq"] * (cb_loss + commit)
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
    optimizer.step()
    model.quantizer.update(residuals, codes)
    return float(total), float(grad_norm)


def noise_like_audio(samples, sample_rate, generator):
    """Speech-ish noise: lowpassed white noise, amplitude-modulated at syllable rates."""
    white = torch.randn(samples, generator=generator)
    kernel = torch.hann_window(9, periodic=False)
    noise = F.conv1d(white.view(1, 1, -1), (kernel / kernel.sum()).view(1, 1, -1), padding=4).view(-1)
    t = torch.arange(samples) / sample_rate
    envelope = 0.55 + 0.45 * torch.sin(2 * math.pi * 4.0 * t) * torch.sin(2 * math.pi * 0.7 * t + 1.0)
    audio = noise * envelope
    return (0.3 * audio / audio.abs().max()).contiguous()


def chunks(frames, chunk_frames, context):
    """Codec.forEachChunk: frames [lo, hi) are computed, [keep_from, keep_to) kept; 0 = one pass."""
    if chunk_frames <= 0:
        yield 0, frames, 0, frames
        return
    for start in range(0, frames, chunk_frames):
        end = min(frames, start + chunk_frames)
        yield max(0, start - context), min(frames, end + context), start, end


def encode_chunked(model, signal, num_codebooks, hop, chunk_frames, context):
    frames = signal.shape[1] // hop
    out = []
    for lo, hi, keep_from, keep_to in chunks(frames, chunk_frames, context):
        codes = model.encode(signal[:, lo * hop : hi * hop], num_codebooks)
        out.append(codes[:, keep_from - lo : keep_to - lo])
    return torch.cat(out, 1)


def decode_chunked(model, codes, hop, chunk_frames, context):
    frames = codes.shape[1]
    out = []
    for lo, hi, keep_from, keep_to in chunks(frames, chunk_frames, context):
        audio = model.decode(codes[:, lo:hi])
        out.append(audio[:, (keep_from - lo) * hop : (keep_to - lo) * hop])
    return torch.cat(out, 1)


def random_batch(pool, batch, length, generator):
    starts = torch.randint(0, pool.numel() - length + 1, (batch,), generator=generator)
    return torch.stack([pool[s : s + length] for s in starts.tolist()])


# ---------------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--config", help="a vqcodec model config.json (CodecConfig with a quantizer object)")
    which.add_argument("--preset", choices=sorted(PRESETS), help="a named vqcodec preset (default: default)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--steps", type=int, default=10, help="timed training steps after 2 warm-up steps (default 10)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seconds", type=float, default=1.0, help="training crop length in seconds (default 1)")
    p.add_argument("--codec-seconds", type=float, default=60.0, help="signal length for encode/decode RTF (default 60)")
    p.add_argument("--chunk-frames", type=int, default=500,
                   help="code in chunks of this many frames with vqcodec's context overlap, as Codec.encode/decode do "
                   "(default 500 = vqcodec's default, 10 s at 50 frames/s); 0 = the whole signal in one pass")
    p.add_argument("--stft", choices=["fft", "matmul"], default="fft",
                   help="STFT of the loss: torch.stft (FFT, default: faster on CPU) or a framed matmul with a cached DFT basis as vqcodec does")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    for name in ("threads", "steps", "batch"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if not (args.seconds > 0 and args.codec_seconds > 0):
        p.error("--seconds and --codec-seconds must be positive")
    return args


def load_config(args):
    if args.config:
        with open(args.config, encoding="utf8") as f:
            raw = json.load(f)
        if not isinstance(raw, dict):
            raise SystemExit(f"{args.config}: not a JSON object")
        return make_config(raw), args.config
    name = args.preset or "default"
    return make_config(PRESETS[name]), f"preset {name}"


def blas_library():
    """Which libblas.so.3 this process loaded (Debian's torch uses whatever the alternative points to)."""
    try:
        with open("/proc/self/maps", encoding="utf8") as f:
            for line in f:
                path = line.split()[-1]
                if "libblas.so" in path or "libopenblas" in path or "libmkl" in path or "libblis" in path:
                    return os.path.realpath(path)
    except OSError:
        pass
    return "unknown"


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(argv=None):
    args = parse_args(argv)
    config, source = load_config(args)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    sr, hop = config["sampleRate"], hop_length(config)
    num_codebooks = config["quantizer"]["numCodebooks"]

    model = VqVae(config)
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    gflop = 2 * model.macs_per_sample() * sr / 1e9

    # Training: all codebooks active every step (the trainer's quantizer dropout sometimes uses fewer).
    crop = max(1, round(args.seconds * sr / hop)) * hop
    if crop < max(STFT_WINDOWS):
        raise SystemExit(f"crops of {crop} samples are shorter than the largest STFT window ({max(STFT_WINDOWS)})")
    pool = noise_like_audio(max(20 * sr, 4 * crop), sr, gen)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.999), eps=1e-8)
    model.train()
    times = []
    for i in range(2 + args.steps):
        batch = random_batch(pool, args.batch, crop, gen)
        (loss, gnorm), dt = timed(lambda: train_step(model, optimizer, batch, num_codebooks, args.stft))
        if not math.isfinite(loss):
            raise SystemExit(f"step {i}: loss is {loss}")
        if i >= 2:
            times.append(dt)
    step_time = statistics.median(times)
    audio_per_step = args.batch * crop / sr
    train_rate = audio_per_step / step_time

    # Coding at batch 1, whole signal in one pass.
    model.eval()
    codec_len = max(1, round(args.codec_seconds * sr / hop)) * hop
    signal = noise_like_audio(codec_len, sr, gen).unsqueeze(0)
    seconds = codec_len / sr
    context = context_frames(config)
    with torch.inference_mode():
        model.decode(model.encode(signal[:, : 50 * hop], num_codebooks))  # warm-up
        codes, t_enc = timed(lambda: encode_chunked(model, signal, num_codebooks, hop, args.chunk_frames, context))
        audio, t_dec = timed(lambda: decode_chunked(model, codes, hop, args.chunk_frames, context))
    assert codes.shape == (1, codec_len // hop, num_codebooks) and audio.shape == signal.shape

    result = {
        "impl": "pytorch",
        "torch": torch.__version__,
        "threads": args.threads,
        "parameters": parameters,
        "forwardGflopPerAudioSec": round(gflop, 4),
        "trainAudioSecPerSec": round(train_rate, 3),
        "encodeRTF": round(seconds / t_enc, 2),
        "decodeRTF": round(seconds / t_dec, 2),
        "trainStepMs": round(step_time * 1000, 1),
        "stft": args.stft,
        "codecChunkFrames": args.chunk_frames,
        "config": source,
        "blas": blas_library(),
    }
    enc_gflop = 2 * model.encoder.macs_per_sample() * sr / 1e9
    dec_gflop = 2 * model.decoder.macs_per_sample() * sr / 1e9
    rows = [
        ("implementation", f"PyTorch {torch.__version__}, {args.threads} thread(s), {source}"),
        ("BLAS", result["blas"]),
        ("trainable parameters", f"{parameters:,}"),
        ("forward GFLOP / audio-s", f"{gflop:.3f} (encoder {enc_gflop:.3f}, decoder {dec_gflop:.3f})"),
        ("train step (median)", f"{step_time * 1000:.0f} ms, batch {args.batch} x {crop / sr:g} s, {len(times)} steps, STFT {args.stft}"),
        ("train throughput", f"{train_rate:.2f} audio-s/s (~{3 * gflop * train_rate:.1f} GFLOP/s at 3x forward)"),
        ("coding", f"batch 1, {seconds:g} s, " + (f"chunks of {args.chunk_frames} frames + {context} context frames each side" if args.chunk_frames > 0 else "one pass")),
        ("encode", f"{seconds / t_enc:.1f}x real time ({seconds:g} s in {t_enc:.2f} s, {enc_gflop * seconds / t_enc:.1f} GFLOP/s)"),
        ("decode", f"{seconds / t_dec:.1f}x real time ({seconds:g} s in {t_dec:.2f} s, {dec_gflop * seconds / t_dec:.1f} GFLOP/s)"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
