/**
 * The DLG objective of a conv-stack model (LeNet of the paper) and its gradient, in one call on
 * flat typed arrays: no tfjs ops, no tape, no per-call allocation.
 *
 * Why: on the pure-JS CPU backend one evaluation through tfjs autodiff is ~400 kernel launches at
 * 7-9 us of engine overhead each (lib/cli/profile-dlg.ts), more than the arithmetic itself. Here the
 * same numbers come from 19 convolutions (the routines of lib/engine/kernels.ts writing into preallocated
 * buffers) and a few flat loops. test/fused.test.ts checks the value and both gradients against the
 * tfjs autodiff path and the PyTorch golden values.
 *
 * Notation (one layer l = 1..L, NHWC activations, HWIO filters, batch B, classes K):
 *   forward   a_0 = x;  z_l = conv(a_{l-1}, W_l) + b_l;  a_l = s(z_l)        (s: the activation)
 *             f = flatten_NCHW(a_L);  o = f Wd + bd;  p = softmax(o)
 *             t = softmax(y') (joint label) or the given target (fixed label);  c_b = sum_k t_bk
 *   loss      L = (1/B) sum_b sum_k -t_bk log p_bk
 *   backward  e = dL/do = (p c - t) / B                       (c broadcast over k)
 *             G_d = f^T e,  g_d = sum_b e,  da_L = unflatten(e Wd^T)
 *             dz_l = da_l * s'(z_l);  G_l = bpFilter(a_{l-1}, dz_l);  g_l = sum_pixels dz_l;
 *             da_{l-1} = bpInput(dz_l, W_l)                  (l > 1)
 *   objective D = sum over the 2L+2 parameter tensors of ||G - S||^2 (S: the shared gradient)
 *
 * Gradient of D (reverse mode through the backward pass, then through the forward pass). Bars are
 * adjoints dD/d(.); every parameter-gradient tensor starts with  Gbar = 2 (G - S).
 * The three convolution routines are linear in each argument and adjoint to one another:
 *   <conv(a, W), u> = <a, bpInput(u, W)> = <W, bpFilter(a, u)>,
 * so for  G = bpFilter(a, dz):  abar += bpInput(dz, Gbar),  dzbar += conv(a, Gbar);
 * and for da' = bpInput(dz, W):  dzbar += conv(da'bar, W)  (W is a constant of the attack).
 *   layers l = 1..L (reverse of the backward loop):
 *     dzbar_l  = conv(a_{l-1}, Gbar_l) + gbar_l + [l > 1] conv(dabar_{l-1}, W_l)
 *     abar_{l-1} += bpInput(dz_l, Gbar_l)                      (l = 1: part of xbar)
 *     dabar_l  = dzbar_l * s'(z_l);   zbar_l = dzbar_l * da_l * s''(z_l)
 *   dense and loss (dfbar = flatten_NCHW(dabar_L)):
 *     ebar  = gbar_d + dfbar Wd + f Gbar_d               fbar = e Gbar_d^T
 *     pbar  = ebar c / B;   cbar_b = sum_k ebar_bk p_bk / B;   tbar = -ebar / B + cbar
 *     obar  = p * (pbar - sum_k pbar p)                  (softmax vector-Jacobian product)
 *     y'bar = t * (tbar - sum_k tbar t)                  (joint label: the label half of the gradient)
 *     fbar += obar Wd^T
 *   forward pass reversed, l = L..1 (abar_L = unflatten(fbar)):
 *     zbar_l += abar_l * s'(z_l);   abar_{l-1} += bpInput(zbar_l, W_l);   xbar = abar_0
 * Activation derivatives from the stored output a = s(z):
 *   sigmoid s' = a (1 - a), s'' = s' (1 - 2a);  tanh s' = 1 - a^2, s'' = -2 a s';  relu s' = [a > 0], s'' = 0
 * (relu: the same a.e. derivative, step(z) with step(0) = 0, as tfjs).
 *
 * Precision: convolutions read and write float32 (as tfjs does, accumulating in float64); the dense
 * layer, softmax and the sums of D run in float64. On the golden cases (test/fused.test.ts) D and its
 * gradients agree with the tfjs path to <= 1.6e-6 relative and with PyTorch's float64 values to
 * <= 5.4e-7. Float64 buffers throughout were measured no faster (3.82 vs 3.96 ms CPU per
 * evaluation, within noise), so the convolution routines stay float32 and monomorphic.
 *
 * Cost per evaluation (LeNet 32x32x3): 19 convolutions of ~230k multiply-adds each (3 forward,
 * 3 filter + 2 input backprops, 11 in the adjoint), ~0.1 ms each, plus four passes over the dense
 * weight [768 x 100]. Merging convolution pairs into one of twice the channels was measured: no gain
 * (the routines are compute bound, ~2.4 G multiply-adds per second).
 */
import { tf } from '.';
import { conv2dForward, conv2dBackpropFilter, conv2dBackpropInput } from './kernels';
import type { ActivationName, ConvStackStructure, Model } from '../models/model';
import type { Tensor } from '@tensorflow/tfjs';

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

export interface FusedObjectiveOptions {
  /** Number of samples behind the shared gradient. */
  batchSize: number;
  /** 'joint': x = [images, label logits] (DLG); 'fixed': x = images, the target is given (iDLG). */
  label: 'joint' | 'fixed';
  /** The fixed target, [batchSize, classes] flat (one-hot or soft rows); required with label 'fixed'. */
  target?: ArrayLike<number>;
}

export interface FusedObjective {
  /** Length of x and grad: batch*h*w*c image values (NHWC), then batch*classes label logits if joint. */
  readonly size: number;
  /** D(x) = sum_i ||dL/dW_i - g_i||^2; writes dD/dx into grad (overwritten). Reuses its buffers. */
  evaluate(x: Float64Array, grad: Float64Array): number;
}

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

/**
 * The fused DLG objective for `model` and the shared gradient, or null when the model carries no
 * conv-stack structure (see structure.ts): then use the tfjs autodiff path.
 */
export function fusedObjective(model: Model, shared: Tensor[], options: FusedObjectiveOptions): FusedObjective | null {
  const structure = convStackOf(model);
  if (structure === null) return null;
  const { batchSize: B, label } = options;
  if (!Number.isInteger(B) || B < 1) throw new Error(`fusedObjective: batchSize must be a positive integer, got ${B}`);
  if (label !== 'joint' && label !== 'fixed') throw new Error(`fusedObjective: label must be 'joint' or 'fixed', got '${label}'`);
  const L = structure.convs.length;
  const nParams = 2 * L + 2;
  if (model.params.length !== nParams) throw new Error(`fusedObjective: ${model.name} has ${model.params.length} parameters, its structure ${nParams}`);
  if (shared.length !== nParams) throw new Error(`fusedObjective: shared gradient has ${shared.length} tensors, expected ${nParams}`);
  shared.forEach((g, i) => {
    if (g.shape.join() !== model.params[i].shape.join()) {
      throw new Error(`fusedObjective: shared gradient ${model.paramNames[i]} has shape ${JSON.stringify(g.shape)}, expected ${JSON.stringify(model.params[i].shape)}`);
    }
  });
  const K = model.numClasses;
  const [h0, w0, c0] = model.inputShape;
  const nImage = B * h0 * w0 * c0;
  const size = nImage + (label === 'joint' ? B * K : 0);
  const f32 = (t: Tensor) => Float32Array.from(t.dataSync());

  let target: Float64Array | null = null;
  if (label === 'fixed') {
    if (options.target === undefined || options.target.length !== B * K) {
      throw new Error(`fusedObjective: label 'fixed' needs a target of ${B}x${K} = ${B * K} values, got ${options.target === undefined ? 'none' : options.target.length}`);
    }
    target = Float64Array.from(options.target);
  }

  const x32 = new Float32Array(nImage);
  const layers: Layer[] = [];
  let inShape: [number, number, number, number] = [B, h0, w0, c0];
  let inp = x32;
  structure.convs.forEach((conv, l) => {
    const filterShape: [number, number, number, number] = [conv.kernel, conv.kernel, conv.inChannels, conv.outChannels];
    if (model.params[2 * l].shape.join() !== filterShape.join() || model.params[2 * l + 1].shape.join() !== String(conv.outChannels) || inShape[3] !== conv.inChannels) {
      throw new Error(`fusedObjective: ${model.name}: parameters of conv ${l + 1} do not match its structure`);
    }
    const p = conv.pad;
    const info = tf.backend_util.computeConv2DInfo(inShape, filterShape, conv.stride, 1, [[0, 0], [p, p], [p, p], [0, 0]], undefined, false, 'channelsLast');
    const nOut = B * info.outHeight * info.outWidth * conv.outChannels;
    const nIn = inShape.reduce((a, v) => a * v, 1);
    const nW = filterShape.reduce((a, v) => a * v, 1);
    const a = new Float32Array(nOut);
    layers.push({
      info,
      inp,
      w: f32(model.params[2 * l]),
      b: f32(model.params[2 * l + 1]),
      shared: { w: f32(shared[2 * l]), b: f32(shared[2 * l + 1]) },
      a,
      da: new Float32Array(nOut),
      dz: new Float32Array(nOut),
      gW: new Float32Array(nW),
      gbarW: new Float32Array(nW),
      gbarB: new Float64Array(conv.outChannels),
      adjDz: new Float32Array(nOut),
      adjDa: new Float32Array(nOut),
      adjZ: new Float32Array(nOut),
      adjInFromG: new Float32Array(nIn),
      tmpOut: new Float32Array(nOut),
      tmpIn: new Float32Array(nIn),
      pixels: B * info.outHeight * info.outWidth,
      channels: conv.outChannels,
    });
    inShape = [B, info.outHeight, info.outWidth, conv.outChannels];
    inp = a;
  });
  const last = layers[L - 1];
  const OHW = last.info.outHeight * last.info.outWidth;
  const CL = last.channels;
  const F = CL * OHW;
  if (model.params[2 * L].shape.join() !== `${F},${K}` || model.params[2 * L + 1].shape.join() !== String(K)) {
    throw new Error(`fusedObjective: ${model.name}: dense layer is ${JSON.stringify(model.params[2 * L].shape)}, its structure gives [${F}, ${K}]`);
  }
  const Wd = f32(model.params[2 * L]);
  const bd = f32(model.params[2 * L + 1]);
  const sWd = f32(shared[2 * L]);
  const sbd = f32(shared[2 * L + 1]);
  // NCHW feature j of one sample <-> NHWC offset perm[j] in a_L
  const perm = new Int32Array(F);
  for (let c = 0; c < CL; c++) for (let hw = 0; hw < OHW; hw++) perm[c * OHW + hw] = hw * CL + c;
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
  const act = structure.activation;
  const d1 = derivative(act);

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
  return { size, evaluate };
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

/** The model's conv-stack structure, or null when it has none (or its forward is not the one described). */
export function convStackOf(model: Model): ConvStackStructure | null {
  const s = model.structure;
  if (s === undefined || s === null || s.kind !== 'conv-stack' || s.forward !== model.forward) return null;
  return s;
}
