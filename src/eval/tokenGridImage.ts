/**
 * A picture of a clip's tokens: one row per codebook (the first at the top), one column per
 * frame (or per few frames, for long clips), each cell coloured by its code, with codebook
 * numbers on the left and a time axis in seconds underneath. Codes are names, not quantities,
 * so neighbouring codes get unrelated colours (the code index is scattered by the golden ratio
 * before the colour map). Rows past `activeCodebooks` are drawn faded: the codebooks a decode
 * at fewer codebooks leaves out.
 */
import { check } from '../errors.js';
import type { Tokens } from '../types.js';
import { drawText, GLYPH_HEIGHT, textWidth } from './bitmapFont.js';
import { inferno } from './colourMap.js';
import { BLACK, RgbImage, type Rgb } from './rgbImage.js';
import { drawTimeAxis, frame, TICK, TIME_AXIS_HEIGHT } from './spectrogramImage.js';

export interface TokenGridOptions {
  /** Codebooks drawn at full colour (default all); later rows are faded. */
  activeCodebooks?: number;
  /** Widest picture in pixels (default 1200): longer clips share a column among frames. */
  maxWidth?: number;
}

/** Pixel height of a codebook's row, and the widest cell. */
const ROW_HEIGHT = 10;
const MAX_CELL_WIDTH = 3;
const GOLDEN = 0.6180339887498949;

export function tokenGridImage(tokens: Pick<Tokens, 'codes' | 'frames' | 'numCodebooks' | 'hop' | 'sampleRate'>, options: TokenGridOptions = {}): RgbImage {
  const { codes, frames, numCodebooks: q, hop, sampleRate } = tokens;
  check(codes.length === frames * q, `token grid: ${codes.length} codes is not ${frames} frames × ${q} codebooks`);
  const active = options.activeCodebooks ?? q;
  const maxWidth = options.maxWidth ?? 1200;
  const left = textWidth(String(q)) + 4 + TICK;
  const title = 'codebook';
  const top = GLYPH_HEIGHT + 4;
  const cellWidth = Math.max(1, Math.min(MAX_CELL_WIDTH, Math.floor(maxWidth / Math.max(1, frames))));
  const columns = Math.max(1, Math.min(frames * cellWidth, maxWidth));
  const gridHeight = q * ROW_HEIGHT;
  const width = left + 1 + columns + 1 + 8;
  const height = top + 1 + gridHeight + 1 + TIME_AXIS_HEIGHT;
  const image = new RgbImage(width, Math.max(height, 1));
  const x0 = left + 1;
  const y0 = top + 1;
  drawText(image, 2, 2, `${title} (rows) x frame (columns)`, BLACK);
  frame(image, x0 - 1, y0 - 1, columns + 2, gridHeight + 2);
  for (let x = 0; x < columns; x++) {
    const f = Math.min(frames - 1, Math.floor((x / columns) * frames));
    for (let c = 0; c < q; c++) {
      const code = codes[f * q + c]!;
      const colour = inferno(0.1 + 0.9 * ((code * GOLDEN) % 1));
      image.fillRect(x0 + x, y0 + c * ROW_HEIGHT, 1, ROW_HEIGHT, c < active ? colour : fade(colour));
    }
  }
  for (let c = 0; c < q; c++) {
    const label = String(c + 1);
    const y = y0 + c * ROW_HEIGHT + Math.floor((ROW_HEIGHT - GLYPH_HEIGHT) / 2) + 1;
    drawText(image, x0 - 2 - TICK - textWidth(label), y, label, c < active ? BLACK : [160, 160, 160]);
  }
  // Frame f starts at f·hop samples.
  drawTimeAxis(image, x0, y0 + gridHeight + 1, columns, (columns / Math.max(1, frames)) * (sampleRate / hop));
  return image;
}

/** A colour three quarters of the way to white. */
function fade(c: Rgb): Rgb {
  return [0, 1, 2].map((i) => Math.round(c[i]! + 0.75 * (255 - c[i]!))) as unknown as Rgb;
}
