/**
 * NumPy's .npy format (version 1.0), so token arrays load with numpy.load and nothing else:
 * the magic "\x93NUMPY", version 1.0, a little-endian u16 header length, an ASCII Python dict
 * {'descr', 'fortran_order', 'shape'} padded with spaces to a 64-byte boundary and ending in
 * '\n', then the data in C order.
 */
import { VqcodecError } from '../errors.js';

export type NpyDtype = 'int16' | 'int32' | 'float32';

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: Int16Array | Int32Array | Float32Array;
}

const DESCR: Record<NpyDtype, string> = { int16: '<i2', int32: '<i4', float32: '<f4' };
const BYTES: Record<NpyDtype, number> = { int16: 2, int32: 4, float32: 4 };
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function encodeNpy(array: NpyArray): Uint8Array {
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) throw new VqcodecError(`npy: shape ${array.shape.join('×')} needs ${count} values, not ${array.data.length}`);
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  let header = `{'descr': '${DESCR[array.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  header = header.padEnd(Math.ceil((10 + header.length + 1) / 64) * 64 - 10 - 1) + '\n';
  const out = new Uint8Array(10 + header.length + count * BYTES[array.dtype]);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const at = 10 + header.length;
  array.data.forEach((v, i) => {
    if (array.dtype === 'int16') view.setInt16(at + 2 * i, v, true);
    else if (array.dtype === 'int32') view.setInt32(at + 4 * i, v, true);
    else view.setFloat32(at + 4 * i, v, true);
  });
  return out;
}

/** Parses a version 1.0 .npy of int16, int32 or float32 in C order; anything else is a one-line error. */
export function decodeNpy(bytes: Uint8Array, name = 'npy'): NpyArray {
  const fail = (why: string): never => {
    throw new VqcodecError(`${name}: ${why}`);
  };
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b)) fail('not a .npy file (bad magic)');
  if (bytes[6] !== 1) fail(`npy version ${bytes[6]}.${bytes[7]} is not supported (only 1.0)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint16(8, true);
  if (10 + headerLength > bytes.length) fail('truncated header');
  // Not String.fromCharCode(...bytes): 65535 arguments can overflow a smaller stack.
  const header = new TextDecoder('latin1').decode(bytes.subarray(10, 10 + headerLength));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const dtype = (Object.keys(DESCR) as NpyDtype[]).find((d) => DESCR[d] === descr) ?? fail(`unsupported dtype '${descr}' (int16, int32 or float32 little-endian)`);
  if (!/'fortran_order'\s*:\s*False/.test(header)) fail('Fortran-order arrays are not supported');
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1] ?? fail('no shape in header');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (!shape.every((n) => Number.isInteger(n) && n >= 0)) fail(`bad shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const at = 10 + headerLength;
  if (bytes.length !== at + count * BYTES[dtype]) fail(`data holds ${bytes.length - at} bytes; shape (${shape.join(', ')}) of ${dtype} needs ${count * BYTES[dtype]}`);
  const data = dtype === 'int16' ? new Int16Array(count) : dtype === 'int32' ? new Int32Array(count) : new Float32Array(count);
  for (let i = 0; i < count; i++) {
    data[i] = dtype === 'int16' ? view.getInt16(at + 2 * i, true) : dtype === 'int32' ? view.getInt32(at + 4 * i, true) : view.getFloat32(at + 4 * i, true);
  }
  return { dtype, shape, data };
}
