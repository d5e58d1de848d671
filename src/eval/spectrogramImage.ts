/**
 * Spectrograms of an original and its reconstructions, stacked in one labelled picture: a time axis
 * in seconds under the last panel, a linear frequency axis in kHz beside each, and a colour bar
 * with dB ticks. All panels share one dB scale (the first panel's peak at the top), so what a
 * codec loses shows as a darker region. The raster only (the browser page draws it into a
 * canvas); ./spectrogramFigure.ts writes it as a PNG.
 */
import { check } from '../errors.js';
import { drawText, GLYPH_HEIGHT, textWidth } from './bitmapFont.js';
import { inferno } from './colourMap.js';
import { BLACK, RgbImage, type Rgb } from './rgbImage.js';
import { spectrogramDb } from './spectrogram.js';

export interface FigurePanel {
  /** Caption above the panel, e.g. `original` or `2 codebooks, 1.1 kbps`. */
  label: string;
  samples: Float32Array;
}

/** Pixel rows of a panel, 0 Hz to sampleRate/2. */
const PANEL_HEIGHT = 256;
/** One column per hop of 8 ms (125 px/s) … */
const HOP_SECONDS = 0.008;
/** … unless that would make the picture wider than this; then the hop grows. */
const MAX_COLUMNS = 2400;
/** Colour range below the top of the scale, and the colour bar's tick step. */
const RANGE_DB = 80;
const DB_TICK = 20;
/** Time ticks at least this many pixels apart, at the first of these steps (s) that allows it. */
const MIN_TICK_SPACING = 60;
const TIME_STEPS = [0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600];

export const TICK = 3;
const LEFT = 30;
const TOP = 4;
const STRIP = GLYPH_HEIGHT + 5;
const PANEL_GAP = 6;
const BAR_GAP = 12;
const BAR_WIDTH = 12;
const RIGHT = BAR_GAP + BAR_WIDTH + TICK + 2 + textWidth('-100') + 6;
const BOTTOM = 1 + TICK + 2 + GLYPH_HEIGHT + 4 + GLYPH_HEIGHT + 4; // the frame and TIME_AXIS_HEIGHT
const FRAME_COLOUR: Rgb = [96, 96, 96];

interface Layout {
  width: number;
  height: number;
  hop: number;
  columns: number;
  /** Top pixel row of each panel's data (inside its 1-pixel frame). */
  panelTops: number[];
  /** Left pixel column of the data. */
  x0: number;
}

function layout(sampleCount: number, sampleRate: number, panelCount: number): Layout {
  check(panelCount > 0, 'spectrogram figure: no signals');
  check(sampleRate > 0, `spectrogram figure: bad sample rate ${sampleRate}`);
  const hop = Math.max(Math.round(HOP_SECONDS * sampleRate), Math.ceil(sampleCount / (MAX_COLUMNS - 1)));
  const columns = Math.floor(sampleCount / hop) + 1;
  const x0 = LEFT + 1;
  const panelTops = Array.from({ length: panelCount }, (_, i) => TOP + STRIP + 1 + i * (STRIP + PANEL_HEIGHT + 2 + PANEL_GAP));
  const height = panelTops[panelCount - 1]! + PANEL_HEIGHT + 1 + BOTTOM;
  return { width: x0 + columns + 1 + RIGHT, height, hop, columns, panelTops, x0 };
}

/** The pixel size of the picture `spectrogramImage` draws for signals of `sampleCount` samples. */
export function spectrogramFigureSize(sampleCount: number, sampleRate: number, panelCount: number): { width: number; height: number } {
  const { width, height } = layout(sampleCount, sampleRate, panelCount);
  return { width, height };
}

/** Tick labels: at most two decimals, no trailing zeros (0.25, 1.5, 2). */
function tickLabel(v: number): string {
  return String(Number(v.toFixed(2)));
}

/** The picture of `panels` top to bottom (each over the longest signal's duration). */
export function spectrogramImage(panels: FigurePanel[], sampleRate: number): RgbImage {
  const sampleCount = Math.max(0, ...panels.map((p) => p.samples.length));
  const L = layout(sampleCount, sampleRate, panels.length);
  const image = new RgbImage(L.width, L.height);
  const specs = panels.map((p) => spectrogramDb(p.samples, sampleRate, L.hop));
  let peak = -Infinity;
  for (const frame of specs[0]!.db) for (const v of frame) if (v > peak) peak = v;
  const topDb = Math.ceil(peak / 10) * 10;
  const colourOf = (db: number) => inferno(1 - (topDb - db) / RANGE_DB);
  const nyquist = sampleRate / 2;
  const kHzStep = nyquist <= 8000 ? 1 : nyquist <= 16000 ? 2 : 4;
  /** Pixel row, within a panel, of frequency f (0 Hz at the bottom row). */
  const rowOf = (hz: number) => PANEL_HEIGHT - 1 - Math.round((hz / nyquist) * (PANEL_HEIGHT - 1));

  panels.forEach((panel, p) => {
    const top = L.panelTops[p]!;
    const spec = specs[p]!;
    drawText(image, L.x0, top - 1 - STRIP + 3, panel.label, BLACK);
    drawText(image, 2, top - 1 - STRIP + 3, 'kHz', BLACK);
    frame(image, L.x0 - 1, top - 1, L.columns + 2, PANEL_HEIGHT + 2);
    for (let x = 0; x < L.columns; x++) {
      const column = spec.db[x];
      for (let y = 0; y < PANEL_HEIGHT; y++) {
        const hz = ((PANEL_HEIGHT - 1 - y) / (PANEL_HEIGHT - 1)) * nyquist;
        const db = column === undefined ? -Infinity : column[Math.min(column.length - 1, Math.round(hz / spec.binHz))]!;
        image.set(L.x0 + x, top + y, colourOf(db));
      }
    }
    for (let k = 0; k * 1000 <= nyquist + 1e-9; k += kHzStep) {
      const y = top + rowOf(k * 1000);
      image.fillRect(L.x0 - 1 - TICK, y, TICK, 1, BLACK);
      const label = String(k);
      drawText(image, L.x0 - 2 - TICK - textWidth(label), y - 3, label, BLACK);
    }
  });

  // Time axis under the last panel.
  drawTimeAxis(image, L.x0, L.panelTops[panels.length - 1]! + PANEL_HEIGHT + 1, L.columns, sampleRate / L.hop);

  // Colour bar beside the first panel: the top of the scale at the top.
  const barX = L.x0 + L.columns + 1 + BAR_GAP;
  const barTop = L.panelTops[0]!;
  drawText(image, barX, barTop - 1 - STRIP + 3, 'dB', BLACK);
  frame(image, barX - 1, barTop - 1, BAR_WIDTH + 2, PANEL_HEIGHT + 2);
  for (let y = 0; y < PANEL_HEIGHT; y++) image.fillRect(barX, barTop + y, BAR_WIDTH, 1, colourOf(topDb - (y / (PANEL_HEIGHT - 1)) * RANGE_DB));
  for (let db = topDb; db >= topDb - RANGE_DB; db -= DB_TICK) {
    const y = barTop + Math.round(((topDb - db) / RANGE_DB) * (PANEL_HEIGHT - 1));
    image.fillRect(barX + BAR_WIDTH + 1, y, TICK, 1, BLACK);
    drawText(image, barX + BAR_WIDTH + 1 + TICK + 2, y - 3, String(db), BLACK);
  }
  return image;
}

/**
 * Ticks every round number of seconds (at least MIN_TICK_SPACING pixels apart) and the title
 * 'time (s)' under a picture whose data starts at column x0, `columns` wide, from row axisY down.
 */
export function drawTimeAxis(image: RgbImage, x0: number, axisY: number, columns: number, pxPerSecond: number): void {
  const step = TIME_STEPS.find((s) => s * pxPerSecond >= MIN_TICK_SPACING) ?? TIME_STEPS[TIME_STEPS.length - 1]!;
  for (let k = 0; k * step * pxPerSecond <= columns - 1; k++) {
    const x = x0 + Math.round(k * step * pxPerSecond);
    image.fillRect(x, axisY, 1, TICK, BLACK);
    const label = tickLabel(k * step);
    drawText(image, x - Math.floor(textWidth(label) / 2), axisY + TICK + 2, label, BLACK);
  }
  const title = 'time (s)';
  drawText(image, x0 + Math.floor((columns - textWidth(title)) / 2), axisY + TICK + 2 + GLYPH_HEIGHT + 4, title, BLACK);
}

/** Rows drawTimeAxis uses. */
export const TIME_AXIS_HEIGHT = TICK + 2 + GLYPH_HEIGHT + 4 + GLYPH_HEIGHT + 4;

/** A 1-pixel rectangle outline whose outer corner is (x, y). */
export function frame(image: RgbImage, x: number, y: number, w: number, h: number): void {
  image.fillRect(x, y, w, 1, FRAME_COLOUR);
  image.fillRect(x, y + h - 1, w, 1, FRAME_COLOUR);
  image.fillRect(x, y, 1, h, FRAME_COLOUR);
  image.fillRect(x + w - 1, y, 1, h, FRAME_COLOUR);
}
