/**
 * Flat-array building blocks of the fused BERT-MLM objective (bert-fused.ts): row-major float64
 * matrices, matrix products, LayerNorm and GELU with the derivatives a second-order (gradient of a
 * gradient) pass needs, row softmax. No tfjs, no allocation inside the loops.
 *
 * LayerNorm of a row s (length d):  n = (s - mean s) r,  r = (var s + eps)^(-1/2),  y = n * gamma + beta.
 *   lnBack(w) = r (w - mean(w) - n mean(w * n))      the vector-Jacobian product of n(s), for any w
 * (it includes the path through r). Its own derivatives, for the adjoint of a backward pass that
 * computed sbar = lnBack(w) with n and r from the forward pass, given sigma = dD/dsbar:
 *   dD/dw += lnBack(sigma)                              (lnBack is symmetric in w)
 *   dD/dn += -(r / d) (sigma (w . n) + w (sigma . n))
 *   dD/dr += (sigma . sbar) / r
 * and back through the forward pass, from dD/dn and dD/dr to the row's input s:
 *   dD/ds = lnBack(dD/dn) - dD/dr r^2 n / d            (dr/ds = -r^2 n / d)
 *
 * GELU (erf form, as BERT and lib/models/bert.ts): g(u) = u Phi(u), Phi(u) = (1 + erf(u / sqrt 2)) / 2,
 *   g'(u) = Phi(u) + u phi(u),   g''(u) = phi(u) (2 - u^2),   phi the standard normal density.
 * erf is tfjs's own approximation (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7), so this computes the
 * same function as the model's tfjs graph; the derivatives use the exact erf' = 2/sqrt(pi) exp(-x^2),
 * as tfjs's gradient of erf does.
 *
 * The matrix products run on the wasm kernel (assembly/dense.ts) when it loads, else in JS: the
 * same numbers either way (every entry one sum along k in the same order).
 */

import { wasmRuntime } from './wasm';

let scratchA = new Float64Array(0);
let scratchB = new Float64Array(0);

/** Transpose a[rows, cols] into a scratch array (grown as needed). */
function transposeInto(a: Float64Array, rows: number, cols: number, which: 'a' | 'b'): Float64Array {
  let out = which === 'a' ? scratchA : scratchB;
  if (out.length < rows * cols) {
    out = new Float64Array(rows * cols);
    if (which === 'a') scratchA = out;
    else scratchB = out;
  }
  transposeTo(a, rows, cols, out);
  return out;
}

/** Write a[rows, cols] (row-major) transposed into out, from index `at`. */
export function transposeTo(a: ArrayLike<number>, rows: number, cols: number, out: Float64Array, at = 0): void {
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[at + j * rows + i] = a[i * cols + j];
}

/** The products' workspace in this thread's wasm memory (nothing is kept there between calls). */
const WORKSPACE = {};

/**
 * c[n,p] (+)= a b^T on the wasm kernel, `fill` writing a [n,k] and b [p,k] into the workspace at the
 * float64 indices it is given. False (nothing done) without the wasm kernels.
 */
function onWasm(n: number, k: number, p: number, c: Float64Array, accumulate: boolean, fill: (mem: Float64Array, aAt: number, bAt: number) => void): boolean {
  const w = wasmRuntime();
  if (w === null) return false;
  const { base } = w.claim(WORKSPACE, 8 * (2 * n * k + p * k + n * p));
  const mem = w.f64();
  const A = base / 8, B = A + n * k, C = B + p * k, P = C + n * p;
  fill(mem, A, B);
  if (accumulate) mem.set(c.subarray(0, n * p), C);
  w.exports.matMulTB64(8 * A, 8 * B, 8 * C, n, k, p, accumulate ? 1 : 0, 8 * P);
  c.set(mem.subarray(C, C + n * p));
  return true;
}

/** c[n,p] (+)= a b^T for a[n,k], b[p,k]. */
export function matMulTB(a: Float64Array, b: Float64Array, c: Float64Array, n: number, k: number, p: number, accumulate = false): void {
  const fill = (mem: Float64Array, A: number, B: number) => {
    mem.set(a.subarray(0, n * k), A);
    mem.set(b.subarray(0, p * k), B);
  };
  if (!onWasm(n, k, p, c, accumulate, fill)) matMulTBJs(a, b, c, n, k, p, accumulate);
}

/**
 * matMulTB in JS: dot products of rows, in blocks of 2 rows of a by 4 rows of b held in registers
 * (~4x the speed of the plain triple loop on V8).
 */
export function matMulTBJs(a: Float64Array, b: Float64Array, c: Float64Array, n: number, k: number, p: number, accumulate = false): void {
  const n2 = n - (n % 2);
  const p4 = p - (p % 4);
  for (let i = 0; i < n2; i += 2) {
    const ai = i * k;
    const aj = ai + k;
    for (let j = 0; j < p4; j += 4) {
      const b0 = j * k;
      const b1 = b0 + k;
      const b2 = b1 + k;
      const b3 = b2 + k;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, t0 = 0, t1 = 0, t2 = 0, t3 = 0;
      for (let l = 0; l < k; l++) {
        const x = a[ai + l];
        const y = a[aj + l];
        const w0 = b[b0 + l];
        const w1 = b[b1 + l];
        const w2 = b[b2 + l];
        const w3 = b[b3 + l];
        s0 += x * w0;
        s1 += x * w1;
        s2 += x * w2;
        s3 += x * w3;
        t0 += y * w0;
        t1 += y * w1;
        t2 += y * w2;
        t3 += y * w3;
      }
      const o = i * p + j;
      if (accumulate) {
        c[o] += s0; c[o + 1] += s1; c[o + 2] += s2; c[o + 3] += s3;
        c[o + p] += t0; c[o + p + 1] += t1; c[o + p + 2] += t2; c[o + p + 3] += t3;
      } else {
        c[o] = s0; c[o + 1] = s1; c[o + 2] = s2; c[o + 3] = s3;
        c[o + p] = t0; c[o + p + 1] = t1; c[o + p + 2] = t2; c[o + p + 3] = t3;
      }
    }
  }
  // remainders: the last row of an odd n, the last p % 4 columns
  for (let i = 0; i < n; i++) {
    for (let j = i < n2 ? p4 : 0; j < p; j++) {
      let s = 0;
      for (let l = 0; l < k; l++) s += a[i * k + l] * b[j * k + l];
      if (accumulate) c[i * p + j] += s;
      else c[i * p + j] = s;
    }
  }
}

/** c[n,p] (+)= a[n,k] b[k,p]. */
export function matMul(a: Float64Array, b: Float64Array, c: Float64Array, n: number, k: number, p: number, accumulate = false): void {
  const fill = (mem: Float64Array, A: number, B: number) => {
    mem.set(a.subarray(0, n * k), A);
    transposeTo(b, k, p, mem, B);
  };
  if (!onWasm(n, k, p, c, accumulate, fill)) matMulTBJs(a, transposeInto(b, k, p, 'b'), c, n, k, p, accumulate);
}

/** c[n,p] (+)= a^T b for a[k,n], b[k,p]. */
export function matMulTA(a: Float64Array, b: Float64Array, c: Float64Array, k: number, n: number, p: number, accumulate = false): void {
  const fill = (mem: Float64Array, A: number, B: number) => {
    transposeTo(a, k, n, mem, A);
    transposeTo(b, k, p, mem, B);
  };
  if (!onWasm(n, k, p, c, accumulate, fill)) matMulTBJs(transposeInto(a, k, n, 'a'), transposeInto(b, k, p, 'b'), c, n, k, p, accumulate);
}

/** x[i,:] += b for each of the n rows of x[n,p]. */
export function addRows(x: Float64Array, b: Float64Array, n: number, p: number): void {
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) x[i * p + j] += b[j];
}

/** out[p] (+)= sum over the n rows of x[n,p]. */
export function sumRows(x: Float64Array, n: number, p: number, out: Float64Array, accumulate = false): void {
  if (!accumulate) out.fill(0, 0, p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) out[j] += x[i * p + j];
}

/** out[p] (+)= sum over rows of x * y (elementwise), both [n,p]. */
export function sumRowsProduct(x: Float64Array, y: Float64Array, n: number, p: number, out: Float64Array, accumulate = false): void {
  if (!accumulate) out.fill(0, 0, p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) out[j] += x[i * p + j] * y[i * p + j];
}

/** LayerNorm over rows of s[n,d]: writes the normalised rows `nhat`, the inverse deviations `rstd` [n] and y = nhat * gamma + beta. */
export function layerNorm(s: Float64Array, n: number, d: number, gamma: Float64Array, beta: Float64Array, eps: number, nhat: Float64Array, rstd: Float64Array, y: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const o = i * d;
    let mean = 0;
    for (let j = 0; j < d; j++) mean += s[o + j];
    mean /= d;
    let v = 0;
    for (let j = 0; j < d; j++) {
      const c = s[o + j] - mean;
      v += c * c;
    }
    const r = 1 / Math.sqrt(v / d + eps);
    rstd[i] = r;
    for (let j = 0; j < d; j++) {
      const nv = (s[o + j] - mean) * r;
      nhat[o + j] = nv;
      y[o + j] = nv * gamma[j] + beta[j];
    }
  }
}

/** out (+)= lnBack(w) = r (w - mean(w) - nhat mean(w * nhat)), row by row. */
export function lnBack(w: Float64Array, nhat: Float64Array, rstd: Float64Array, n: number, d: number, out: Float64Array, accumulate = false): void {
  for (let i = 0; i < n; i++) {
    const o = i * d;
    let mw = 0;
    let mwn = 0;
    for (let j = 0; j < d; j++) {
      mw += w[o + j];
      mwn += w[o + j] * nhat[o + j];
    }
    mw /= d;
    mwn /= d;
    const r = rstd[i];
    for (let j = 0; j < d; j++) {
      const v = r * (w[o + j] - mw - nhat[o + j] * mwn);
      if (accumulate) out[o + j] += v;
      else out[o + j] = v;
    }
  }
}

/**
 * Adjoint of sbar = lnBack(w) (see the header): given sigma = dD/dsbar, accumulates dD/dnhat and
 * dD/drstd and writes dD/dw into wHat.
 */
export function lnBackAdjoint(sigma: Float64Array, w: Float64Array, sbar: Float64Array, nhat: Float64Array, rstd: Float64Array, n: number, d: number, wHat: Float64Array, nhatHat: Float64Array, rstdHat: Float64Array): void {
  lnBack(sigma, nhat, rstd, n, d, wHat);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    let wn = 0;
    let sn = 0;
    let ss = 0;
    for (let j = 0; j < d; j++) {
      wn += w[o + j] * nhat[o + j];
      sn += sigma[o + j] * nhat[o + j];
      ss += sigma[o + j] * sbar[o + j];
    }
    const r = rstd[i];
    const f = -r / d;
    for (let j = 0; j < d; j++) nhatHat[o + j] += f * (sigma[o + j] * wn + w[o + j] * sn);
    rstdHat[i] += ss / r;
  }
}

/** dD/ds (+)= lnBack(dD/dnhat) - dD/drstd r^2 nhat / d: the LayerNorm forward pass reversed. */
export function lnForwardAdjoint(nhatHat: Float64Array, rstdHat: Float64Array, nhat: Float64Array, rstd: Float64Array, n: number, d: number, sHat: Float64Array, accumulate = false): void {
  lnBack(nhatHat, nhat, rstd, n, d, sHat, accumulate);
  for (let i = 0; i < n; i++) {
    const f = (rstdHat[i] * rstd[i] * rstd[i]) / d;
    if (f === 0) continue;
    for (let j = 0; j < d; j++) sHat[i * d + j] -= f * nhat[i * d + j];
  }
}

const ERF_P = 0.3275911;
const ERF_A = [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429];
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** erf as tfjs's cpu kernel computes it (Abramowitz & Stegun 7.1.26). */
export function erf(x: number): number {
  const v = Math.abs(x);
  const t = 1 / (1 + ERF_P * v);
  const y = 1 - ((((ERF_A[4] * t + ERF_A[3]) * t + ERF_A[2]) * t + ERF_A[1]) * t + ERF_A[0]) * t * Math.exp(-v * v);
  return x < 0 ? -y : y;
}

/** GELU of every u: writes g, g' and g'' (see the header). */
export function gelu(u: Float64Array, size: number, g: Float64Array, g1: Float64Array, g2: Float64Array): void {
  for (let i = 0; i < size; i++) {
    const x = u[i];
    const cdf = 0.5 * (1 + erf(x * Math.SQRT1_2));
    const pdf = INV_SQRT_2PI * Math.exp(-0.5 * x * x);
    g[i] = x * cdf;
    g1[i] = cdf + x * pdf;
    g2[i] = pdf * (2 - x * x);
  }
}

/** Softmax of each row of z[n,p] into out (z and out may be the same array). */
export function softmaxRows(z: ArrayLike<number>, out: Float64Array, n: number, p: number): void {
  for (let i = 0; i < n; i++) {
    const o = i * p;
    let mx = -Infinity;
    for (let j = 0; j < p; j++) if (z[o + j] > mx) mx = z[o + j];
    let s = 0;
    for (let j = 0; j < p; j++) {
      const e = Math.exp(z[o + j] - mx);
      out[o + j] = e;
      s += e;
    }
    for (let j = 0; j < p; j++) out[o + j] /= s;
  }
}

/** out (+)= y * (v - sum_j v_j y_j), row by row: the vector-Jacobian product of softmax rows y[n,p]. */
export function softmaxBack(y: Float64Array, v: Float64Array, n: number, p: number, out: Float64Array, accumulate = false): void {
  for (let i = 0; i < n; i++) {
    const o = i * p;
    let s = 0;
    for (let j = 0; j < p; j++) s += v[o + j] * y[o + j];
    for (let j = 0; j < p; j++) {
      const val = y[o + j] * (v[o + j] - s);
      if (accumulate) out[o + j] += val;
      else out[o + j] = val;
    }
  }
}
