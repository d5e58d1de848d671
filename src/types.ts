/** Samples per second of a waveform. */
export type SampleRate = number;

/** A mono waveform: float samples in [-1, 1] at a known rate. */
export interface Audio {
  samples: Float32Array;
  sampleRate: SampleRate;
}

/**
 * The discrete codes of one clip, as written to a `.vqt` file.
 * `codes` is frame-major: codes[f * numCodebooks + q] is codebook q's index at frame f,
 * so a stream can be cut at any frame boundary.
 */
export interface Tokens {
  codes: Int32Array;
  frames: number;
  numCodebooks: number;
  codebookSize: number;
  /** Samples per frame at `sampleRate`. */
  hop: number;
  sampleRate: SampleRate;
  /** Length in samples of the audio that was encoded (before padding to whole frames). */
  originalLength: number;
  /** 16 hex digits identifying the model (config + weights) that made the codes. */
  modelFingerprint: string;
  /**
   * Multi-rate codes only (absent: every codebook at the frame rate): codebook q has one code
   * per codeStrides[q] frames, repeated in `codes` over the frames of its window
   * (tokens/codeStrides.ts).
   */
  codeStrides?: number[];
}
