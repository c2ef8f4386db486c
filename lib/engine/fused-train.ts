/**
 * The first-order pass of a conv-stack model (LeNet of the paper) on the wasm SIMD kernels, for
 * training: the mean cross-entropy of a batch and its parameter gradient, or the logits alone
 * (predictions). It is the first half of the fused DLG objective (fused.ts has the formulas, fused-wasm.ts
 * the layout): forward a_l = s(conv(a_{l-1}, W_l) + b_l), o = f Wd + bd, p = softmax(o),
 * e = (p c - t) / B; backward G_d = f^T e, g_d = sum_b e, dz_l = da_l * s'(a_l),
 * G_l = bpFilter(a_{l-1}, dz_l), g_l = sum over pixels of dz_l, da_{l-1} = bpInput(dz_l, W_l).
 * The parameters are given with every call (training changes them every step), not fixed at build.
 *
 * Why: tfjs autodiff of a LeNet step on the 8x8 digits is mostly kernel launches and JS convolution
 * loops; this pass runs the same products as float32 SIMD matrix products (test/bench/train.ts times
 * whole training runs both ways). Precision as the fused objective's wasm kernels: float32 products
 * (blocks of 64, then summed); softmax, cross-entropy, e and the bias sums in float64. So the gradient
 * equals tfjs's to float32 rounding (test/fused-train.test.ts: <= 1e-5 relative, and whole training runs).
 *
 *   const pass = convStackPass(model, 32);              // null: no conv-stack structure or no wasm
 *   const loss = pass!.gradient(params, x, target, grads);   // params, grads: model.params order
 *   pass!.logits(params, x, out);                        // [32, classes]
 *   pass!.loss(params, x, target);                       // the loss alone
 */
import { convStackOf, convStackGeometry } from './fused-plan';
import { wasmRuntime, GEOMETRY_LENGTH, geometryRecord } from './wasm';
import type { WasmRuntime } from './wasm';
import { ACT_CODE, LOSS_FIELDS, allocator } from './fused-wasm';
import type { Model } from '../models/model';

export interface ConvStackPass {
  /** The batch size this pass is laid out for. */
  readonly batch: number;
  /**
   * L = (1/B) sum_b sum_k -t_bk log softmax(o_b)_k for x (B images, NHWC, float32) and the target
   * (B x classes, one-hot or soft rows); writes dL/dparam into grads (model.params order and layouts).
   */
  gradient(params: Float32Array[], x: Float32Array, target: ArrayLike<number>, grads: Float32Array[]): number;
  /**
   * Per-example gradients (DP-SGD's rows): example b's gradient of its own loss -t_b . log p_b (a batch
   * of one) into rows[i] at b * size_i, in the layout of lib/engine/per-example.ts; returns the batch's
   * mean loss. The forward pass, dz and da run for the whole batch (examples do not mix in them); the
   * filter gradients and the dense outer products are taken example by example.
   */
  perExample(params: Float32Array[], x: Float32Array, target: ArrayLike<number>, rows: Float32Array[]): number;
  /** The loss alone (the forward pass). */
  loss(params: Float32Array[], x: Float32Array, target: ArrayLike<number>): number;
  /** The logits o = f Wd + bd [B, classes] (float32) of x into out. */
  logits(params: Float32Array[], x: Float32Array, out: Float32Array): void;
}

/**
 * The first-order pass of `model` for batches of `batch`, or null when the model has no conv-stack
 * structure or the wasm kernels did not load (then train on tfjs autodiff).
 */
export function convStackPass(model: Model, batch: number, rt: WasmRuntime | null = wasmRuntime()): ConvStackPass | null {
  if (convStackOf(model) === null || rt === null) return null;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`convStackPass: batch must be a positive integer, got ${batch}`);
  const B = batch;
  const K = model.numClasses;
  const { structure, F, perm, ...geometry } = convStackGeometry(model, B, 'convStackPass')!;
  const L = structure.convs.length;
  const act = ACT_CODE[structure.activation];
  const [h0, w0, c0] = model.inputShape;
  const nImage = B * h0 * w0 * c0;
  const sizes = model.params.map((p) => p.size);
  const mem = allocator();
  const x32 = mem.f32(nImage);
  let inp = x32;
  const layers = geometry.layers.map(({ info, channels: CO, rows: KK }) => {
    const P = B * info.outHeight * info.outWidth;
    const ly = {
      info, P, CO, KK, inp,
      geom: mem.i32(GEOMETRY_LENGTH),
      w: mem.f32(KK * CO), wT: mem.f32(KK * CO), b: mem.f32(CO), sb: mem.f32(CO),
      col: mem.f32(P * KK), a: mem.f32(P * CO), da: mem.f32(P * CO), dz: mem.f32(P * CO),
      gW: mem.f32(KK * CO), gB: mem.f64(CO),
    };
    inp = ly.a;
    return ly;
  });
  const dcol = mem.f32(Math.max(...layers.map((ly) => ly.P * ly.KK)));
  const last = layers[L - 1];
  const dense = { Wd: mem.f32(F * K), G: mem.f32(F * K) };
  const rec: Record<(typeof LOSS_FIELDS)[number], number> = {
    B, K, joint: 0,
    logits: mem.f32(B * K), bd: mem.f32(K), sbd: mem.f32(K), gbd: mem.f64(K), labelIn: mem.f64(B * K), labelGrad: mem.f64(B * K),
    p: mem.f64(B * K), t: mem.f64(B * K), cSum: mem.f64(B), e: mem.f64(B * K), e32: mem.f32(B * K), ebar32: mem.f32(B * K), obar32: mem.f32(B * K),
  };
  const recAt = mem.i32(LOSS_FIELDS.length);
  const bytes = mem.size();
  const ex = rt.exports;
  if (Number(ex.LOSS_RECORD_LENGTH.value) !== LOSS_FIELDS.length) throw new Error('wasm kernels: loss record layout mismatch (stale kernels.wasm: run `npm run build`)');
  const owner = {};

  const check = (params: Float32Array[], x: Float32Array) => {
    if (params.length !== sizes.length || params.some((p, i) => p.length !== sizes[i])) {
      throw new Error(`convStackPass: params must be ${sizes.length} arrays of ${sizes.join(', ')} values`);
    }
    if (x.length !== nImage) throw new Error(`convStackPass: x holds ${x.length} values, expected ${B}x${h0}x${w0}x${c0} = ${nImage}`);
  };
  /** Claim the workspace, lay out the geometry, the parameters and x, and run the forward pass up to the logits without bias. */
  const forward = (params: Float32Array[], x: Float32Array): number => {
    const { base, intact } = rt.claim(owner, bytes);
    const f32 = rt.f32(), i32 = rt.i32();
    const at = (offset: number) => base + offset;
    if (!intact) {
      for (const ly of layers) i32.set(geometryRecord(ly.info), at(ly.geom) / 4);
      i32.set(LOSS_FIELDS.map((k, i) => (i < 3 ? rec[k] : at(rec[k]))), at(recAt) / 4);
      f32.fill(0, at(rec.sbd) / 4, at(rec.sbd) / 4 + K);
      for (const ly of layers) f32.fill(0, at(ly.sb) / 4, at(ly.sb) / 4 + ly.CO);
    }
    layers.forEach((ly, l) => {
      f32.set(params[2 * l], at(ly.w) / 4);
      f32.set(params[2 * l + 1], at(ly.b) / 4);
    });
    const Wd = params[2 * L];
    for (let j = 0; j < F; j++) f32.set(Wd.subarray(j * K, (j + 1) * K), at(dense.Wd) / 4 + perm[j] * K);
    f32.set(params[2 * L + 1], at(rec.bd) / 4);
    f32.set(x, at(x32) / 4);
    for (const ly of layers) {
      ex.im2col(at(ly.inp), at(ly.geom), at(ly.col));
      ex.gemm(at(ly.col), ly.KK, 1, at(ly.w), ly.CO, at(ly.a), ly.CO, ly.P, ly.CO, ly.KK, 0);
      ex.biasActivate(at(ly.a), at(ly.b), ly.P, ly.CO, act);
    }
    ex.gemm(at(last.a), F, 1, at(dense.Wd), K, at(rec.logits), K, B, K, F, 0);
    return base;
  };

  /** The mean cross-entropy -(1/B) sum t . log softmax(o) from the logits in the workspace at `base`, float64. */
  const lossOf = (base: number, params: Float32Array[], target: ArrayLike<number>): number => {
    const f32 = rt.f32(), lo = (base + rec.logits) / 4, bd = params[2 * L + 1];
    let loss = 0;
    for (let b = 0; b < B; b++) {
      let m = -Infinity;
      for (let k = 0; k < K; k++) m = Math.max(m, f32[lo + b * K + k] + bd[k]);
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.exp(f32[lo + b * K + k] + bd[k] - m);
      const lse = m + Math.log(s);
      for (let k = 0; k < K; k++) if (target[b * K + k] !== 0) loss -= target[b * K + k] * (f32[lo + b * K + k] + bd[k] - lse);
    }
    return loss / B;
  };
  /** Write the target into the workspace, run lossForward (p, t, c, e = (p c - t) / B and g_d) and return the loss. */
  const lossForward = (base: number, params: Float32Array[], target: ArrayLike<number>): number => {
    const f64 = rt.f64();
    for (let i = 0; i < B * K; i++) f64[(base + rec.labelIn) / 8 + i] = target[i];
    ex.lossForward(base + recAt);
    return lossOf(base, params, target);
  };
  /** Layer l's dz and, below the first layer, the da it sends back: bpInput(dz_l, W_l) = col2im(dz_l W_l^T). */
  const backpropInput = (base: number, l: number): void => {
    if (l === 0) return;
    const ly = layers[l], at = (offset: number) => base + offset;
    ex.transpose(at(ly.w), ly.KK, ly.CO, at(ly.wT));
    ex.gemm(at(ly.dz), ly.CO, 1, at(ly.wT), ly.KK, at(dcol), ly.KK, ly.P, ly.KK, ly.CO, 0);
    ex.col2im(at(dcol), at(ly.geom), at(layers[l - 1].da));
  };
  const checkTarget = (target: ArrayLike<number>) => {
    if (target.length !== B * K) throw new Error(`convStackPass: target holds ${target.length} values, expected ${B}x${K}`);
  };

  return {
    batch: B,
    loss(params, x, target) {
      check(params, x);
      checkTarget(target);
      return lossOf(forward(params, x), params, target);
    },
    logits(params, x, out) {
      check(params, x);
      if (out.length !== B * K) throw new Error(`convStackPass: out must hold ${B}x${K} values, got ${out.length}`);
      const base = forward(params, x);
      const f32 = rt.f32(), o = (base + rec.logits) / 4, bd = params[2 * L + 1];
      for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) out[b * K + k] = f32[o + b * K + k] + bd[k];
    },
    perExample(params, x, target, rows) {
      check(params, x);
      checkTarget(target);
      if (rows.length !== sizes.length || rows.some((r, i) => r.length !== B * sizes[i])) throw new Error(`convStackPass: rows must be ${sizes.length} arrays of ${B} x (${sizes.join(', ')}) values`);
      const base = forward(params, x);
      const at = (offset: number) => base + offset;
      const loss = lossForward(base, params, target); // p, t, c
      const f32 = rt.f32(), f64 = rt.f64(); // views stay valid: the memory only grows when claimed
      // e_b = p_b c_b - t_b for each example's own loss (lossForward's e is the batch mean's, / B)
      const gbd = rows[2 * L + 1];
      for (let b = 0; b < B; b++) {
        const c = f64[at(rec.cSum) / 8 + b];
        for (let k = 0; k < K; k++) {
          const i = b * K + k;
          f32[at(rec.e32) / 4 + i] = f64[at(rec.p) / 8 + i] * c - f64[at(rec.t) / 8 + i];
          gbd[i] = f32[at(rec.e32) / 4 + i];
        }
      }
      // dense: G_d,b = f_b^T e_b (rows in NHWC order), then da_L = e Wd^T for the whole batch
      const gWd = rows[2 * L];
      for (let b = 0; b < B; b++) {
        ex.gemm(at(last.a) + 4 * b * F, 1, F, at(rec.e32) + 4 * b * K, K, at(dense.G), K, F, K, 1, 0);
        const G = at(dense.G) / 4;
        for (let j = 0; j < F; j++) gWd.set(f32.subarray(G + perm[j] * K, G + (perm[j] + 1) * K), (b * F + j) * K);
      }
      ex.gemmNT(at(rec.e32), K, at(dense.Wd), K, at(last.da), F, B, F, K, 0);
      for (let l = L - 1; l >= 0; l--) {
        const ly = layers[l];
        const OP = ly.P / B, nW = ly.KK * ly.CO;
        ex.activationGrad(at(ly.dz), at(ly.da), at(ly.a), ly.P * ly.CO, act);
        for (let b = 0; b < B; b++) {
          ex.gemm(at(ly.col) + 4 * b * OP * ly.KK, 1, ly.KK, at(ly.dz) + 4 * b * OP * ly.CO, ly.CO, at(ly.gW), ly.CO, ly.KK, ly.CO, OP, 0);
          ex.biasDistance(at(ly.dz) + 4 * b * OP * ly.CO, OP, ly.CO, at(ly.sb), at(ly.gB)); // gB = 2 g (shared bias 0)
          rows[2 * l].set(f32.subarray(at(ly.gW) / 4, at(ly.gW) / 4 + nW), b * nW);
          for (let c = 0; c < ly.CO; c++) rows[2 * l + 1][b * ly.CO + c] = f64[at(ly.gB) / 8 + c] / 2;
        }
        backpropInput(base, l);
      }
      return loss;
    },
    gradient(params, x, target, grads) {
      check(params, x);
      checkTarget(target);
      if (grads.length !== sizes.length || grads.some((g, i) => g.length !== sizes[i])) throw new Error(`convStackPass: grads must be ${sizes.length} arrays of ${sizes.join(', ')} values`);
      const base = forward(params, x);
      const at = (offset: number) => base + offset;
      const loss = lossForward(base, params, target); // p, t, e = (p c - t) / B, and g_d (= gbd / 2: the bias's shared gradient is 0)
      // dense: G_d = a_L^T e (rows in NHWC order), da_L = e Wd^T
      ex.gemm(at(last.a), 1, F, at(rec.e32), K, at(dense.G), K, F, K, B, 0);
      ex.gemmNT(at(rec.e32), K, at(dense.Wd), K, at(last.da), F, B, F, K, 0);
      for (let l = L - 1; l >= 0; l--) {
        const ly = layers[l];
        ex.activationGrad(at(ly.dz), at(ly.da), at(ly.a), ly.P * ly.CO, act);
        ex.gemm(at(ly.col), 1, ly.KK, at(ly.dz), ly.CO, at(ly.gW), ly.CO, ly.KK, ly.CO, ly.P, 0);
        ex.biasDistance(at(ly.dz), ly.P, ly.CO, at(ly.sb), at(ly.gB)); // gB = 2 g (shared bias 0)
        backpropInput(base, l);
      }
      const f32b = rt.f32(), f64b = rt.f64();
      layers.forEach((ly, l) => {
        grads[2 * l].set(f32b.subarray(at(ly.gW) / 4, at(ly.gW) / 4 + ly.KK * ly.CO));
        for (let c = 0; c < ly.CO; c++) grads[2 * l + 1][c] = f64b[at(ly.gB) / 8 + c] / 2;
      });
      const G = at(dense.G) / 4, gWd = grads[2 * L];
      for (let j = 0; j < F; j++) gWd.set(f32b.subarray(G + perm[j] * K, G + (perm[j] + 1) * K), j * K);
      for (let k = 0; k < K; k++) grads[2 * L + 1][k] = f64b[at(rec.gbd) / 8 + k] / 2;
      return loss;
    },
  };
}
