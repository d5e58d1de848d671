import { formatTokenHeader } from '../tokens/tokenFile.js';
import { readTokenFileInfo } from '../tokens/tokenFileFs.js';

/** vqcodec info file.vqt — needs no model and no backend (entropy-coded files too: the header says it all). */
export async function infoCommand(input: string): Promise<void> {
  console.log(formatTokenHeader(await readTokenFileInfo(input)));
}
