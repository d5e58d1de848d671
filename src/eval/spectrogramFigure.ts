/** Spectrogram pictures (./spectrogramImage.ts) as PNG files' bytes. */
import { encodePng } from '../io/png.js';
import { spectrogramImage, type FigurePanel } from './spectrogramImage.js';

export { spectrogramFigureSize, type FigurePanel } from './spectrogramImage.js';

/** The PNG of `panels` top to bottom (each over the longest signal's duration): see spectrogramImage. */
export function spectrogramFigure(panels: FigurePanel[], sampleRate: number): Uint8Array {
  const image = spectrogramImage(panels, sampleRate);
  return encodePng(image.width, image.height, image.pixels);
}
