import { formatTokenHeader, readTokenFile } from '../tokens/tokenFile.js';

/** vqcodec info file.vqt — needs no model and no backend. */
export async function infoCommand(input: string): Promise<void> {
  console.log(formatTokenHeader(await readTokenFile(input)));
}
