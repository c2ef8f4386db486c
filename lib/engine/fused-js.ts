/**
 * The fused DLG objective evaluated with the JS convolution routines of lib/engine/kernels.ts on
 * Float32Array buffers (float64 accumulation): the implementation before the wasm kernels, kept as
 * the fallback where they do not load and as the A/B reference of test/bench/fused.ts. Formulas and
 * notation: fused.ts.
 */
import { conv2dForward, conv2dBackpropFilter, conv2dBackpropInput } from './kernels';
import type { ActivationName } from '../models/model';
import type { FusedObjective } from './fused-types';
import type { Conv2DInfo, FusedPlan } from './fused-plan';
import { cosineAdjoint } from './fused-cosine';
import type { CosinePart } from './fused-cosine';

interface Layer {
  info: Conv2DInfo;
  /** Layer input: x (layer 0) or the previous layer's activation; not owned. */
  inp: Float32Array;
  w: Float32Array;
  b: Float32Array;
  shared: { w: Float32Array; b: Float32Array };
  /** Activation output a_l, then the backward pass: da_l, dz_l, G_l, and Gbar_l, gbar_l. */
  a: Float32Array;
  da: Float32Array;
  dz: Float32Array;
  gW: Float32Array;
  gbarW: Float32Array;
  gbarB: Float64Array;
  /** Adjoints: dzbar_l, dabar_l, zbar_l; bpInput(dz_l, Gbar_l) (abar of the input, from G_l). */
  adjDz: Float32Array;
  adjDa: Float32Array;
  adjZ: Float32Array;
  adjInFromG: Float32Array;
  /** Scratch: one output-sized and one input-sized buffer. */
  tmpOut: Float32Array;
  tmpIn: Float32Array;
  pixels: number;
  channels: number;
}

/** The objective of `plan` on JS kernels. */
export function jsObjective(plan: FusedPlan): FusedObjective {
  const { B, K, target, nImage, size, F, OHW, CL, perm, Wd, bd, sWd, sbd } = plan;
  const L = plan.layers.length;
  const x32 = new Float32Array(nImage);
  const layers: Layer[] = [];
  let inp = x32;
  for (const pl of plan.layers) {
    const { info } = pl;
    const nOut = pl.pixels * pl.channels;
    const nIn = info.batchSize * info.inHeight * info.inWidth * info.inChannels;
    const nW = pl.w.length;
    const a = new Float32Array(nOut);
    layers.push({
      info,
      inp,
      w: pl.w,
      b: pl.b,
      shared: { w: pl.sw, b: pl.sb },
      a,
      da: new Float32Array(nOut),
      dz: new Float32Array(nOut),
      gW: new Float32Array(nW),
      gbarW: new Float32Array(nW),
      gbarB: new Float64Array(pl.channels),
      adjDz: new Float32Array(nOut),
      adjDa: new Float32Array(nOut),
      adjZ: new Float32Array(nOut),
      adjInFromG: new Float32Array(nIn),
      tmpOut: new Float32Array(nOut),
      tmpIn: new Float32Array(nIn),
      pixels: pl.pixels,
      channels: pl.channels,
    });
    inp = a;
  }
  const last = layers[L - 1];
  /** Flatten NHWC maps of the last conv (src) into NCHW-ordered features [B, F] (dst), as torch's view(). */
  const toFeatures = (src: Float32Array, dst: Float64Array): void => {
    for (let b = 0; b < B; b++) {
      const fo = b * F, ao = b * OHW * CL;
      for (let j = 0; j < F; j++) dst[fo + j] = src[ao + perm[j]];
    }
  };

  const f = new Float64Array(B * F);
  const fbar = new Float64Array(B * F);
  const dfbar = new Float64Array(B * F);
  const gbarWd = new Float32Array(F * K); // float32 like every other parameter-sized buffer (and tfjs)
  const row = new Float64Array(K);
  const gbarBd = new Float64Array(K);
  const o = new Float64Array(B * K);
  const p = new Float64Array(B * K);
  const t = new Float64Array(B * K);
  const cSum = new Float64Array(B);
  const e = new Float64Array(B * K);
  const ebar = new Float64Array(B * K);
  const obar = new Float64Array(B * K);
  const tbar = new Float64Array(B * K);
  const act = plan.act;
  const d1 = derivative(act);
  const cosine = plan.cosine;
  /** The parameter tensors' shared gradient and gbar buffers, in model.params order. */
  const cosineParts: CosinePart[] = [...layers.flatMap((ly) => [{ s: ly.shared.w, gbar: ly.gbarW }, { s: ly.shared.b, gbar: ly.gbarB }]), { s: sWd, gbar: gbarWd }, { s: sbd, gbar: gbarBd }];

  const evaluate = (x: Float64Array, grad: Float64Array): number => {
    if (x.length !== size || grad.length !== size) {
      throw new Error(`fusedObjective: x and grad must hold ${size} values, got ${x.length} and ${grad.length}`);
    }
    for (let i = 0; i < nImage; i++) x32[i] = x[i];
    // ---- forward
    for (const ly of layers) {
      conv2dForward(ly.inp, ly.w, ly.info, ly.a);
      activate(ly.a, ly.b, ly.channels, act);
    }
    toFeatures(last.a, f);
    for (let b = 0; b < B; b++) {
      const oo = b * K, fo = b * F;
      for (let k = 0; k < K; k++) o[oo + k] = bd[k];
      let j = 0;
      for (; j + 4 <= F; j += 4) { // four rows per pass: one load/store of o per 4 multiply-adds
        const v0 = f[fo + j], v1 = f[fo + j + 1], v2 = f[fo + j + 2], v3 = f[fo + j + 3];
        const r0 = j * K, r1 = r0 + K, r2 = r1 + K, r3 = r2 + K;
        for (let k = 0; k < K; k++) o[oo + k] += v0 * Wd[r0 + k] + v1 * Wd[r1 + k] + v2 * Wd[r2 + k] + v3 * Wd[r3 + k];
      }
      for (; j < F; j++) {
        const v = f[fo + j], r = j * K;
        for (let k = 0; k < K; k++) o[oo + k] += v * Wd[r + k];
      }
      softmaxRow(o, p, oo, K);
      if (target === null) softmaxRow(x, t, nImage + oo, K, oo);
      else for (let k = 0; k < K; k++) t[oo + k] = target[oo + k];
      let c = 0;
      for (let k = 0; k < K; k++) c += t[oo + k];
      cSum[b] = c;
      for (let k = 0; k < K; k++) e[oo + k] = (p[oo + k] * c - t[oo + k]) / B;
    }
    // ---- backward (parameter gradients) and D; dense: G_d = f^T e, da_L = unflatten(e Wd^T)
    let D = 0;
    const daL = last.da;
    for (let j = 0; j < F; j++) {
      const r = j * K;
      for (let k = 0; k < K; k++) row[k] = -sWd[r + k];
      for (let b = 0; b < B; b++) {
        const eo = b * K, v = f[b * F + j];
        let s = 0;
        for (let k = 0; k < K; k++) {
          const ek = e[eo + k];
          row[k] += v * ek;
          s += ek * Wd[r + k];
        }
        daL[b * OHW * CL + perm[j]] = s;
      }
      for (let k = 0; k < K; k++) {
        const d = row[k];
        D += d * d;
        gbarWd[r + k] = 2 * d;
      }
    }
    for (let k = 0; k < K; k++) {
      let g = 0;
      for (let b = 0; b < B; b++) g += e[b * K + k];
      const d = g - sbd[k];
      D += d * d;
      gbarBd[k] = 2 * d;
    }
    for (let l = L - 1; l >= 0; l--) {
      const ly = layers[l];
      const { a, da, dz, gW, gbarW, gbarB } = ly;
      for (let i = 0; i < a.length; i++) dz[i] = da[i] * d1(a[i]);
      conv2dBackpropFilter(ly.inp, dz, ly.info, gW);
      const sw = ly.shared.w;
      for (let i = 0; i < gW.length; i++) {
        const d = gW[i] - sw[i];
        D += d * d;
        gbarW[i] = 2 * d;
      }
      const C = ly.channels;
      for (let c = 0; c < C; c++) {
        let g = 0;
        for (let q = c; q < dz.length; q += C) g += dz[q];
        const d = g - ly.shared.b[c];
        D += d * d;
        gbarB[c] = 2 * d;
      }
      if (l > 0) conv2dBackpropInput(dz, ly.w, ly.info, layers[l - 1].da);
    }
    // the cosine distance instead: its adjoint over the gbar buffers (fused-cosine.ts)
    if (cosine !== null) D = cosineAdjoint(cosineParts, cosine.weights, cosine.sn);
    // ---- adjoint of the backward pass, layers 1..L
    for (let l = 0; l < L; l++) {
      const ly = layers[l];
      const { a, da, adjDz, adjDa, adjZ, gbarB } = ly;
      conv2dForward(ly.inp, ly.gbarW, ly.info, adjDz);
      if (l > 0) {
        conv2dForward(layers[l - 1].adjDa, ly.w, ly.info, ly.tmpOut);
        const tmp = ly.tmpOut;
        for (let i = 0; i < adjDz.length; i++) adjDz[i] += tmp[i];
      }
      const C = ly.channels;
      for (let q = 0; q < adjDz.length; q += C) for (let c = 0; c < C; c++) adjDz[q + c] += gbarB[c];
      conv2dBackpropInput(ly.dz, ly.gbarW, ly.info, ly.adjInFromG);
      secondOrder(act, a, da, adjDz, adjDa, adjZ);
    }
    // ---- adjoint of the dense layer and the loss
    toFeatures(last.adjDa, dfbar);
    for (let b = 0; b < B; b++) {
      const oo = b * K, fo = b * F;
      for (let k = 0; k < K; k++) ebar[oo + k] = gbarBd[k];
      let jb = 0;
      for (; jb + 2 <= F; jb += 2) {
        const u0 = dfbar[fo + jb], v0 = f[fo + jb], u1 = dfbar[fo + jb + 1], v1 = f[fo + jb + 1];
        const r0 = jb * K, r1 = r0 + K;
        for (let k = 0; k < K; k++) ebar[oo + k] += u0 * Wd[r0 + k] + v0 * gbarWd[r0 + k] + u1 * Wd[r1 + k] + v1 * gbarWd[r1 + k];
      }
      for (; jb < F; jb++) {
        const u = dfbar[fo + jb], v = f[fo + jb], r = jb * K;
        for (let k = 0; k < K; k++) ebar[oo + k] += u * Wd[r + k] + v * gbarWd[r + k];
      }
      let cbar = 0;
      for (let k = 0; k < K; k++) cbar += ebar[oo + k] * p[oo + k];
      cbar /= B;
      const scale = cSum[b] / B;
      let dot = 0;
      for (let k = 0; k < K; k++) dot += ebar[oo + k] * scale * p[oo + k];
      for (let k = 0; k < K; k++) {
        obar[oo + k] = p[oo + k] * (ebar[oo + k] * scale - dot);
        tbar[oo + k] = -ebar[oo + k] / B + cbar;
      }
      if (target === null) {
        let dt = 0;
        for (let k = 0; k < K; k++) dt += tbar[oo + k] * t[oo + k];
        for (let k = 0; k < K; k++) grad[nImage + oo + k] = t[oo + k] * (tbar[oo + k] - dt);
      }
      let jf = 0;
      for (; jf + 2 <= F; jf += 2) { // two rows: independent sums share the loads of e and obar
        const r0 = jf * K, r1 = r0 + K;
        let s0 = 0, s1 = 0;
        for (let k = 0; k < K; k++) {
          const ek = e[oo + k], ok = obar[oo + k];
          s0 += ek * gbarWd[r0 + k] + ok * Wd[r0 + k];
          s1 += ek * gbarWd[r1 + k] + ok * Wd[r1 + k];
        }
        fbar[fo + jf] = s0;
        fbar[fo + jf + 1] = s1;
      }
      for (; jf < F; jf++) {
        const r = jf * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += e[oo + k] * gbarWd[r + k] + obar[oo + k] * Wd[r + k];
        fbar[fo + jf] = s;
      }
    }
    // ---- adjoint of the forward pass, layers L..1
    let adjA = last.tmpOut; // abar_L = unflatten(fbar), then abar_{l-1} for the next layer down
    for (let b = 0; b < B; b++) {
      const fo = b * F, ao = b * OHW * CL;
      for (let j = 0; j < F; j++) adjA[ao + perm[j]] = fbar[fo + j];
    }
    for (let l = L - 1; l >= 0; l--) {
      const ly = layers[l];
      const { a, adjZ } = ly;
      for (let i = 0; i < a.length; i++) adjZ[i] += adjA[i] * d1(a[i]);
      conv2dBackpropInput(adjZ, ly.w, ly.info, ly.tmpIn);
      const tmp = ly.tmpIn, fromG = ly.adjInFromG;
      for (let i = 0; i < tmp.length; i++) tmp[i] += fromG[i];
      adjA = tmp;
    }
    for (let i = 0; i < nImage; i++) grad[i] = adjA[i];
    return D;
  };
  return { size, kernels: 'js', evaluate };
}

/** a <- s(a + bias) in place, bias broadcast over the innermost (channel) axis. */
export function activate(a: Float32Array, bias: Float32Array, C: number, act: ActivationName): void {
  if (act === 'sigmoid') {
    for (let q = 0; q < a.length; q += C) for (let c = 0; c < C; c++) a[q + c] = 1 / (1 + Math.exp(-(a[q + c] + bias[c])));
  } else if (act === 'tanh') {
    for (let q = 0; q < a.length; q += C) for (let c = 0; c < C; c++) a[q + c] = Math.tanh(a[q + c] + bias[c]);
  } else {
    for (let q = 0; q < a.length; q += C) {
      for (let c = 0; c < C; c++) {
        const v = a[q + c] + bias[c];
        a[q + c] = v < 0 ? 0 : v;
      }
    }
  }
}

/** s'(z) from a = s(z). */
export function derivative(act: ActivationName): (a: number) => number {
  if (act === 'sigmoid') return (a) => a * (1 - a);
  if (act === 'tanh') return (a) => 1 - a * a;
  return (a) => (a > 0 ? 1 : 0);
}

/** dabar = dzbar s'(z);  zbar = dzbar da s''(z)  (from a = s(z)). */
function secondOrder(act: ActivationName, a: Float32Array, da: Float32Array, adjDz: Float32Array, adjDa: Float32Array, adjZ: Float32Array): void {
  if (act === 'sigmoid') {
    for (let i = 0; i < a.length; i++) {
      const s = a[i], d = s * (1 - s);
      adjDa[i] = adjDz[i] * d;
      adjZ[i] = adjDz[i] * da[i] * d * (1 - 2 * s);
    }
  } else if (act === 'tanh') {
    for (let i = 0; i < a.length; i++) {
      const s = a[i], d = 1 - s * s;
      adjDa[i] = adjDz[i] * d;
      adjZ[i] = adjDz[i] * da[i] * -2 * s * d;
    }
  } else {
    for (let i = 0; i < a.length; i++) {
      adjDa[i] = a[i] > 0 ? adjDz[i] : 0;
      adjZ[i] = 0;
    }
  }
}

/** out[oo..oo+K) = softmax(v[vo..vo+K)) in float64. */
export function softmaxRow(v: ArrayLike<number>, out: Float64Array, vo: number, K: number, oo = vo): void {
  let m = -Infinity;
  for (let k = 0; k < K; k++) if (v[vo + k] > m) m = v[vo + k];
  let s = 0;
  for (let k = 0; k < K; k++) {
    const ex = Math.exp(v[vo + k] - m);
    out[oo + k] = ex;
    s += ex;
  }
  for (let k = 0; k < K; k++) out[oo + k] /= s;
}

