/**
 * exp, expm1, tanh, sin and cos built from +, −, ×, ÷ and Math.round alone, so that every JS
 * engine computes the same bits: ECMAScript leaves Math.exp, Math.tanh, Math.sin and the like
 * implementation-approximated, but requires the basic operations to be correctly rounded IEEE-754
 * doubles (and forbids fusing them). Each function reduces its argument into a small interval
 * with a constant split in two or three parts (Cody & Waite) and evaluates a Taylor polynomial by
 * Horner's rule; the results are within a few ulp of the true values (not correctly rounded, but
 * the same everywhere).
 *
 * Constants are written with at most 17 significant digits: ECMAScript parses such literals
 * exactly to the nearest double (longer ones may be rounded differently by different engines).
 */

/** ln 2 in two parts (fdlibm): the high part has trailing zero bits, so k · LN2_HI is exact for |k| < 2¹¹. */
const LN2_HI = 0.6931471803691238;
const LN2_LO = 1.9082149292705877e-10;
const INV_LN2 = 1.4426950408889634;
/** π/2 in three parts (fdlibm): the first two have 33 bits, so n · part is exact for |n| < 2²⁰. */
const PIO2_1 = 1.5707963267341256;
const PIO2_2 = 6.077100506303966e-11;
const PIO2_3 = 2.0222662487959506e-21;
const TWO_OVER_PI = 0.6366197723675814;
/** sin and cos reduce exactly enough for |x| below this (n · PIO2_k stays exact). */
const TRIG_LIMIT = 1e6;

/** 1/k! for k = 0..n, each by one correctly rounded division from the last. */
function inverseFactorials(n: number): Float64Array {
  const c = new Float64Array(n + 1);
  c[0] = 1;
  for (let k = 1; k <= n; k++) c[k] = c[k - 1] / k;
  return c;
}
const INV_FACT = inverseFactorials(20);

/** 2^k for k = −1074..1023, by repeated exact doubling and halving (powers of two are exact). */
const POW2_MIN = -1074;
const POW2 = (() => {
  const table = new Float64Array(1023 - POW2_MIN + 1);
  table[-POW2_MIN] = 1;
  for (let k = 1; k <= 1023; k++) table[k - POW2_MIN] = table[k - 1 - POW2_MIN] * 2;
  for (let k = -1; k >= POW2_MIN; k--) table[k - POW2_MIN] = table[k + 1 - POW2_MIN] / 2;
  return table;
})();

/** e^r − 1 for |r| ≤ ln2/2 by Taylor to degree 15 (the next term is below 1e-19 relative). */
function expm1Reduced(r: number): number {
  let p = INV_FACT[15];
  for (let k = 14; k >= 1; k--) p = p * r + INV_FACT[k];
  return p * r;
}

/**
 * r·2^k for r near 1 without overflowing at k = 1024 (where r < 1), and with one rounding where
 * the result is subnormal: r·2^(k+64) is exact, the last × 2^−64 rounds once.
 */
function scale(r: number, k: number): number {
  if (k > 1023) return r * 2 * POW2[1023 - POW2_MIN];
  if (k < -1022) return r * POW2[k + 64 - POW2_MIN] * POW2[-64 - POW2_MIN];
  return r * POW2[k - POW2_MIN];
}

/** x = k·ln2 + r with |r| ≤ ln2/2 (about); returns [k, r]. */
function reduceLn2(x: number): [number, number] {
  const k = Math.round(x * INV_LN2);
  return [k, x - k * LN2_HI - k * LN2_LO];
}

/** e^x. Large negative x gives 0 (never NaN); −Infinity gives 0, NaN gives NaN. */
export function exp(x: number): number {
  if (x !== x) return NaN;
  if (x > 709.782712893384) return Infinity;
  if (x < -745.2) return 0;
  const [k, r] = reduceLn2(x);
  return scale(1 + expm1Reduced(r), k);
}

/** e^x − 1, accurate near 0 where exp(x) − 1 would cancel. */
export function expm1(x: number): number {
  if (x !== x) return NaN;
  if (x > -0.34657359027997264 && x < 0.34657359027997264) return expm1Reduced(x);
  if (x < -40) return -1;
  return exp(x) - 1;
}

/** tanh x = expm1(2x) / (expm1(2x) + 2), odd by construction; ±1 beyond |x| = 20 (1 − tanh 20 < 1e-17). */
export function tanh(x: number): number {
  if (x !== x) return NaN;
  const a = x < 0 ? -x : x;
  let t: number;
  if (a > 20) t = 1;
  else {
    const e = expm1(2 * a);
    t = e / (e + 2);
  }
  return x < 0 ? -t : t;
}

/** sin r for |r| ≤ π/4 (odd Taylor terms to r¹⁹). */
function sinReduced(r: number): number {
  const r2 = r * r;
  let p = INV_FACT[19];
  for (let k = 17; k >= 1; k -= 2) p = INV_FACT[k] - r2 * p;
  return p * r;
}

/** cos r for |r| ≤ π/4 (even Taylor terms to r²⁰). */
function cosReduced(r: number): number {
  const r2 = r * r;
  let p = INV_FACT[20];
  for (let k = 18; k >= 0; k -= 2) p = INV_FACT[k] - r2 * p;
  return p;
}

/** x = n·π/2 + r with |r| ≤ π/4 (about); returns [n, r]. */
function reducePio2(x: number): [number, number] {
  if (!(x > -TRIG_LIMIT && x < TRIG_LIMIT)) throw new RangeError(`exact sin/cos take |x| < ${TRIG_LIMIT} (got ${x})`);
  const n = Math.round(x * TWO_OVER_PI);
  return [n, x - n * PIO2_1 - n * PIO2_2 - n * PIO2_3];
}

/** sin(n·π/2 + r) from sin r and cos r, by n mod 4. */
function sinQuadrant(n: number, r: number): number {
  switch (((n % 4) + 4) % 4) {
    case 0:
      return sinReduced(r);
    case 1:
      return cosReduced(r);
    case 2:
      return -sinReduced(r);
    default:
      return -cosReduced(r);
  }
}

/** sin x for |x| < 1e6. */
export function sin(x: number): number {
  const [n, r] = reducePio2(x);
  return sinQuadrant(n, r);
}

/** cos x = sin(x + π/2) for |x| < 1e6. */
export function cos(x: number): number {
  const [n, r] = reducePio2(x);
  return sinQuadrant(n + 1, r);
}
