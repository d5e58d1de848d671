/**
 * The "inferno" colour map (van der Walt & Smith's perceptually uniform maps for matplotlib):
 * lightness rises steadily from black to pale yellow, so equal dB steps look like equal steps
 * and the picture still reads in grey scale.
 */
import type { Rgb } from './rgbImage.js';

/** inferno at 0, 1/9, …, 1 (the published ten-colour sampling); linear in between. */
const INFERNO: Rgb[] = [
  [0x00, 0x00, 0x04],
  [0x1b, 0x0c, 0x42],
  [0x4b, 0x0c, 0x6b],
  [0x78, 0x1c, 0x6d],
  [0xa5, 0x2c, 0x60],
  [0xcf, 0x44, 0x46],
  [0xed, 0x69, 0x25],
  [0xfb, 0x9a, 0x06],
  [0xf7, 0xd0, 0x3c],
  [0xfc, 0xff, 0xa4],
];

/** The colour of t in [0, 1] (values outside are clamped; NaN is the bottom colour). */
export function inferno(t: number): Rgb {
  const x = (Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, t))) * (INFERNO.length - 1);
  const i = Math.min(INFERNO.length - 2, Math.floor(x));
  const f = x - i;
  const a = INFERNO[i]!;
  const b = INFERNO[i + 1]!;
  return [0, 1, 2].map((c) => Math.round(a[c]! + f * (b[c]! - a[c]!))) as unknown as Rgb;
}
