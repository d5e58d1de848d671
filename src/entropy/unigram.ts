/** The no-context reference of token costs: a histogram's plug-in entropy and that estimate's bias. */

/** The plug-in entropy in bits of a histogram of code counts. */
export function histogramEntropy(counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  let h = 0;
  for (let i = 0; i < counts.length; i++) if (counts[i]! > 0) h -= (counts[i]! / total) * Math.log2(counts[i]! / total);
  return h;
}

/** The plug-in entropy of N codes over K symbols is low by about (K − 1) / (2 N ln 2) bits (Miller–Madow). */
export function pluginEntropyBias(K: number, N: number): number {
  return (K - 1) / (2 * Math.max(1, N) * Math.LN2);
}
