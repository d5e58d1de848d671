import { formatTokenHeader, readTokenFileInfo } from '../tokens/tokenFile.js';

/** vqcodec info file.vqt — needs no model and no backend (entropy-coded files too: the header says it all). */
export async function infoCommand(input: string): Promise<void> {
  console.log(formatTokenHeader(await readTokenFileInfo(input)));
}
