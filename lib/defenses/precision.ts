/**
 * Low-precision defenses (paper, "Defenses": half precision and Int-8 quantisation).
 *
 * fp16: every float32 entry is rounded to the nearest IEEE 754 binary16 value and back, bit-exactly
 * (round to nearest, ties to even; beyond the largest half 65504 the value rounds to +-Infinity
 * (from 65520 up); subnormal halves (multiples of 2^-24) are kept; signs and zeros are kept; NaN
 * stays NaN). The conversion works on the float32 bit pattern (Uint32), so no double rounding.
 *
 * int8: symmetric per-tensor quantisation: scale = max|g| / 127, q = round-half-to-even(g / scale)
 * clamped to [-127, 127], shared value q * scale. An all-zero tensor stays all zero.
 */
import { mapGradients } from './types';
import type { Defense } from './types';

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** Binary16 bit pattern (0..0xffff) of the float32 whose bit pattern is `x` (round to nearest even). */
export function float32BitsToFloat16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13); // Inf; NaN stays a (quiet) NaN
  const e = exp - 127 + 15; // biased half exponent
  if (e >= 0x1f) return sign | 0x7c00; // |x| >= 2^16: overflow
  if (e <= 0) {
    // Subnormal half (or zero): the value in units of 2^-24 is m * 2^(e - 14), m with its implicit bit.
    if (e < -10) return sign; // |x| < 2^-25: below half of the smallest subnormal, rounds to (signed) zero
    const m = mant | 0x800000; // float32 subnormals have exp 0 and land in the branch above
    const shift = 14 - e; // 14..24
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++; // may carry into the smallest normal: correct
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // a carry may reach 0x7c00 = Infinity: correct
  return sign | half;
}

/** The float32 bit pattern of the binary16 value with bit pattern `h`. */
export function float16BitsToFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // Inf or NaN (payload kept)
  if (exp === 0) {
    if (mant === 0) return sign >>> 0; // +-0
    // Subnormal half: normalise (shift the leading 1 into the implicit position).
    let e = -14;
    while ((mant & 0x400) === 0) {
      mant <<= 1;
      e--;
    }
    return (sign | ((e + 127) << 23) | ((mant & 0x3ff) << 13)) >>> 0;
  }
  return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
}

/** Binary16 bit pattern of `x`: x is first rounded to float32 (Math.fround), then to the nearest half. */
export function toFloat16Bits(x: number): number {
  F32[0] = x;
  return float32BitsToFloat16Bits(U32[0]);
}

/** The number with binary16 bit pattern `h`. */
export function fromFloat16Bits(h: number): number {
  U32[0] = float16BitsToFloat32Bits(h);
  return F32[0];
}

/** Round `x` (first to float32, then to binary16) and return the half value as a number. */
export function roundToFloat16(x: number): number {
  return fromFloat16Bits(toFloat16Bits(x));
}

/** A new array with every entry of `values` rounded to binary16 (read-only on `values`). */
export function roundArrayToFloat16(values: Float32Array): Float32Array {
  const inBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const outBits = new Uint32Array(values.length);
  for (let j = 0; j < values.length; j++) outBits[j] = float16BitsToFloat32Bits(float32BitsToFloat16Bits(inBits[j]));
  return new Float32Array(outBits.buffer);
}

/** Round half to even (banker's rounding), exact for |x| < 2^52. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Symmetric int8 quantise-dequantise of one tensor's values. q is computed as g * 127 / max|g|
 * (the same as g / scale, but exact on hand-checkable ties), the shared value as q * max|g| / 127.
 */
export function quantizeInt8(values: Float32Array): Float32Array {
  let maxAbs = 0;
  for (let j = 0; j < values.length; j++) {
    const a = Math.abs(values[j]);
    if (a > maxAbs) maxAbs = a;
  }
  const out = new Float32Array(values.length);
  if (maxAbs === 0) return out; // all zero: stays zero, no division by zero
  for (let j = 0; j < values.length; j++) {
    const q = Math.min(127, Math.max(-127, roundHalfEven((values[j] * 127) / maxAbs)));
    out[j] = (q * maxAbs) / 127;
  }
  return out;
}

/** Share the gradient in IEEE half precision (the paper: does not defend). */
export function fp16(): Defense {
  return (grads) => mapGradients(grads, roundArrayToFloat16);
}

/** Share the gradient int8-quantised with one symmetric scale per tensor. */
export function int8(): Defense {
  return (grads) => mapGradients(grads, quantizeInt8);
}
