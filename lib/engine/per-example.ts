/**
 * Per-example parameter gradients of a conv-stack model (LeNet of the paper) on flat typed arrays:
 * what DP-SGD clips (lib/defenses/dp.ts), for a whole minibatch in one pass.
 *
 * Example b's gradient is that of its own loss L_b = sum_k -t_bk log p_bk (a batch of one), in the
 * notation of fused.ts:
 *   forward   a_0 = x;  a_l = s(conv(a_{l-1}, W_l) + b_l);  f = flatten_NCHW(a_L);  p = softmax(f Wd + bd)
 *   backward  e_b = p_b c_b - t_b  (c_b = sum_k t_bk);   Gd_b = f_b^T e_b,  gd_b = e_b
 *             da_L = unflatten(e Wd^T);  dz_l = da_l * s'(z_l);  da_{l-1} = bpInput(dz_l, W_l)
 *             G_l,b = bpFilter(a_{l-1,b}, dz_l,b);  g_l,b = sum over pixels of dz_l,b
 * The forward pass, dz and da are computed for the whole batch at once (examples do not mix in them);
 * only the filter gradients and the dense outer products are taken example by example.
 *
 * Why: the generic path (lib/models/per-example.ts, engine 'tfjs') runs one tfjs gradient per example,
 * ~3 ms each on the 8x8 LeNet (kernel-launch overhead), 18x the batched gradient; DP-SGD training
 * takes one per example per step. The numbers are the same to float32 rounding: the convolutions are
 * the routines tfjs runs (kernels.ts), the dense layer and softmax run in float64 (test/dp.test.ts
 * compares both paths).
 */
import { conv2dForward, conv2dBackpropFilter, conv2dBackpropInput } from './kernels';
import { convStackOf, activate, derivative, softmaxRow } from './fused';
import { convStackGeometry } from './fused-plan';
import type { Conv2DInfo } from './fused-plan';
import type { Model } from '../models/model';

/**
 * Per-example gradients for `batch` examples x (NHWC flat, batch*h*w*c) with targets (batch*classes,
 * one-hot or soft rows): one Float32Array per parameter, in the model's order, of batch * size
 * values (example b's gradient at offset b * size, the parameter's own layout). Null when the model
 * carries no conv-stack structure.
 */
export function perExampleGradientsFlat(model: Model, x: Float32Array, target: ArrayLike<number>, batch: number): Float32Array[] | null {
  if (convStackOf(model) === null) return null;
  const B = batch;
  const K = model.numClasses;
  const [h0, w0, c0] = model.inputShape;
  if (!Number.isInteger(B) || B < 0) throw new Error(`perExampleGradientsFlat: batch must be an integer >= 0, got ${B}`);
  if (x.length !== B * h0 * w0 * c0) throw new Error(`perExampleGradientsFlat: x holds ${x.length} values, expected ${B}x${h0}x${w0}x${c0}`);
  if (target.length !== B * K) throw new Error(`perExampleGradientsFlat: target holds ${target.length} values, expected ${B}x${K}`);
  // the layers for the whole batch, and for one example (the filter gradients are taken example by example)
  const { structure, F, OHW, CL, perm, ...geometry } = convStackGeometry(model, B, 'perExampleGradientsFlat')!;
  const single = convStackGeometry(model, 1, 'perExampleGradientsFlat')!.layers;
  const L = structure.convs.length;
  const sizes = model.params.map((p) => p.size);
  const out = sizes.map((n) => new Float32Array(B * n));
  if (B === 0) return out;
  const f32 = (i: number) => Float32Array.from(model.params[i].dataSync());

  interface Layer { info: Conv2DInfo; one: Conv2DInfo; inp: Float32Array; w: Float32Array; b: Float32Array; a: Float32Array; da: Float32Array; dz: Float32Array; channels: number }
  let inp = x;
  const layers = geometry.layers.map(({ info, channels }, l): Layer => {
    const n = B * info.outHeight * info.outWidth * channels;
    const a = new Float32Array(n);
    const ly = { info, one: single[l].info, inp, w: f32(2 * l), b: f32(2 * l + 1), a, da: new Float32Array(n), dz: new Float32Array(n), channels };
    inp = a;
    return ly;
  });
  const last = layers[L - 1];
  const Wd = f32(2 * L);
  const bd = f32(2 * L + 1);
  const act = structure.activation;
  const d1 = derivative(act);

  // forward
  for (const ly of layers) {
    conv2dForward(ly.inp, ly.w, ly.info, ly.a);
    activate(ly.a, ly.b, ly.channels, act);
  }
  const f = new Float64Array(F);
  const o = new Float64Array(K);
  const p = new Float64Array(K);
  const e = new Float64Array(K);
  const gWd = out[2 * L];
  const gbd = out[2 * L + 1];
  for (let b = 0; b < B; b++) {
    const ao = b * OHW * CL;
    for (let j = 0; j < F; j++) f[j] = last.a[ao + perm[j]];
    for (let k = 0; k < K; k++) o[k] = bd[k];
    for (let j = 0; j < F; j++) {
      const v = f[j], r = j * K;
      for (let k = 0; k < K; k++) o[k] += v * Wd[r + k];
    }
    softmaxRow(o, p, 0, K);
    let c = 0;
    for (let k = 0; k < K; k++) c += target[b * K + k];
    for (let k = 0; k < K; k++) e[k] = p[k] * c - target[b * K + k];
    // dense gradients of example b, and da_L = unflatten(e Wd^T)
    const go = b * F * K;
    for (let j = 0; j < F; j++) {
      const v = f[j], r = j * K;
      let s = 0;
      for (let k = 0; k < K; k++) {
        gWd[go + r + k] = v * e[k];
        s += e[k] * Wd[r + k];
      }
      last.da[ao + perm[j]] = s;
    }
    for (let k = 0; k < K; k++) gbd[b * K + k] = e[k];
  }
  // backward through the convolutions
  for (let l = L - 1; l >= 0; l--) {
    const ly = layers[l];
    const { a, da, dz, one } = ly;
    for (let i = 0; i < a.length; i++) dz[i] = da[i] * d1(a[i]);
    const C = ly.channels;
    const nIn = one.inHeight * one.inWidth * one.inChannels;
    const nOut = one.outHeight * one.outWidth * C;
    const nW = sizes[2 * l];
    const gW = out[2 * l];
    const gB = out[2 * l + 1];
    for (let b = 0; b < B; b++) {
      conv2dBackpropFilter(ly.inp.subarray(b * nIn, (b + 1) * nIn), dz.subarray(b * nOut, (b + 1) * nOut), one, gW.subarray(b * nW, (b + 1) * nW));
      for (let ch = 0; ch < C; ch++) {
        let s = 0;
        for (let q = b * nOut + ch; q < (b + 1) * nOut; q += C) s += dz[q];
        gB[b * C + ch] = s;
      }
    }
    if (l > 0) conv2dBackpropInput(dz, ly.w, ly.info, layers[l - 1].da);
  }
  return out;
}
