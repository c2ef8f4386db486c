/**
 * The fused DLG objective on the wasm SIMD kernels (lib/engine/wasm.ts): every buffer of the
 * evaluation lives in the thread's wasm memory, laid out once per objective; the only copies per
 * evaluation are x in and grad out. Formulas and notation: fused.ts.
 *
 * Each convolution is a matrix product with the im2col matrix of its input (lib/engine/assembly/):
 *   conv(a, W)       = gemm(col(a), W)                           [P x KK] [KK x CO]
 *   bpFilter(a, u)   = gemm(col(a)^T, u)                         [KK x P] [P x CO]
 *   bpInput(u, W)    = col2im(gemm(u, W^T))                      [P x CO] [CO x KK]
 * (P output pixels, KK = kernel^2 * in-channels, CO out-channels.) col(a_{l-1}) is built once per
 * evaluation and serves the forward convolution, the filter gradient and the adjoint convolution
 * conv(a_{l-1}, Gbar_l); the two input backprops of the last pass, bpInput(zbar_l, W_l) and
 * bpInput(dz_l, Gbar_l), share one col2im.
 *
 * The dense layer's weight rows are permuted once into the NHWC order of the last activation, so that
 * a_L [B, F] multiplies it as it lies (no flatten): logits = a_L Wd, G_d = a_L^T e, da_L = e Wd^T,
 * ebar = dabar_L Wd + a_L Gbar_d, abar_L = e Gbar_d^T + obar Wd^T, all float32 products (gemm,
 * gemmNT); softmax, cross-entropy and their adjoints run in float64 (assembly/loss.ts).
 *
 * The wasm memory is shared by everything that uses the kernels in this thread: evaluate() claims it
 * and copies the objective's constants (weights, shared gradient, geometry) back in when another
 * objective (or a tfjs kernel) used it in between.
 */
import type { FusedObjective } from './fused-types';
import type { FusedPlan } from './fused-plan';
import { GEOMETRY_LENGTH, geometryRecord } from './wasm';
import type { WasmRuntime } from './wasm';
import { cosineAdjoint } from './fused-cosine';
import type { CosinePart } from './fused-cosine';

/** The kernels' activation codes (lib/engine/assembly/pointwise.ts). */
export const ACT_CODE = { sigmoid: 0, tanh: 1, relu: 2 } as const;
/** Fields of the loss record (lib/engine/assembly/loss.ts), in order; the first three are not offsets. */
export const LOSS_FIELDS = ['B', 'K', 'joint', 'logits', 'bd', 'sbd', 'gbd', 'labelIn', 'labelGrad', 'p', 't', 'cSum', 'e', 'e32', 'ebar32', 'obar32'] as const;

/** Byte offsets of consecutive 64-byte-aligned buffers, from 0 (relative to the workspace base). */
export function allocator() {
  let top = 0;
  const take = (bytes: number) => {
    const at = top;
    top += Math.ceil(bytes / 64) * 64;
    return at;
  };
  return { f32: (n: number) => take(4 * n), f64: (n: number) => take(8 * n), i32: (n: number) => take(4 * n), size: () => top };
}

/** The objective of `plan` on the wasm kernels of `rt`. */
export function wasmObjective(plan: FusedPlan, rt: WasmRuntime): FusedObjective {
  const { B, K, nImage, size, F } = plan;
  const L = plan.layers.length;
  const act = ACT_CODE[plan.act];
  const mem = allocator();
  // ---- layout (offsets relative to the workspace base)
  const xin = mem.f64(size);
  const gout = mem.f64(size);
  const x32 = mem.f32(nImage);
  let inp = x32;
  let maxCol = 0;
  const layers = plan.layers.map((pl) => {
    const { info } = pl;
    const P = pl.pixels, CO = pl.channels;
    const KK = info.filterHeight * info.filterWidth * info.inChannels;
    const nIn = info.batchSize * info.inHeight * info.inWidth * info.inChannels;
    maxCol = Math.max(maxCol, P * KK);
    const ly = {
      pl, P, CO, KK, nIn, inp,
      geom: mem.i32(GEOMETRY_LENGTH),
      w: mem.f32(KK * CO), wT: mem.f32(KK * CO), b: mem.f32(CO), sw: mem.f32(KK * CO), sb: mem.f32(CO),
      col: mem.f32(P * KK),
      a: mem.f32(P * CO), da: mem.f32(P * CO), dz: mem.f32(P * CO),
      adjDz: mem.f32(P * CO), adjDa: mem.f32(P * CO), adjZ: mem.f32(P * CO),
      gW: mem.f32(KK * CO), gbarW: mem.f32(KK * CO), gbarWT: mem.f32(KK * CO), gbarB: mem.f64(CO),
      /** abar of this layer's input (the next one down's activation, or x). */
      abarIn: mem.f32(nIn),
    };
    inp = ly.a;
    return ly;
  });
  const dcol = mem.f32(maxCol);
  const colAdj = mem.f32(maxCol);
  const last = layers[L - 1];
  // dense layer: weights with their rows in the NHWC order of the last activation (perm), so that a_L
  // [B, F] multiplies them as it is; its gradient G_d and Gbar_d in the same order
  const dense = { Wd: mem.f32(F * K), sWd: mem.f32(F * K), G: mem.f32(F * K), gbar: mem.f32(F * K) };
  const rec: Record<(typeof LOSS_FIELDS)[number], number> = {
    B, K, joint: plan.target === null ? 1 : 0,
    logits: mem.f32(B * K), bd: mem.f32(K), sbd: mem.f32(K), gbd: mem.f64(K),
    labelIn: plan.target === null ? xin + 8 * nImage : mem.f64(B * K), labelGrad: gout + 8 * nImage,
    p: mem.f64(B * K), t: mem.f64(B * K), cSum: mem.f64(B), e: mem.f64(B * K), e32: mem.f32(B * K), ebar32: mem.f32(B * K), obar32: mem.f32(B * K),
  };
  const abarL = mem.f32(B * F);
  const recAt = mem.i32(LOSS_FIELDS.length);
  const bytes = mem.size();
  const ex = rt.exports;
  if (Number(ex.LOSS_RECORD_LENGTH.value) !== LOSS_FIELDS.length) throw new Error('wasm kernels: loss record layout mismatch (stale kernels.wasm: run `npm run build`)');

  const owner = {};
  /** Copy the objective's constants into the workspace at `base`. */
  const load = (base: number) => {
    const f32 = rt.f32(), i32 = rt.i32(), f64 = rt.f64();
    for (const ly of layers) {
      i32.set(geometryRecord(ly.pl.info), (base + ly.geom) / 4);
      f32.set(ly.pl.w, (base + ly.w) / 4);
      ex.transpose(base + ly.w, ly.KK, ly.CO, base + ly.wT);
      f32.set(ly.pl.b, (base + ly.b) / 4);
      f32.set(ly.pl.sw, (base + ly.sw) / 4);
      f32.set(ly.pl.sb, (base + ly.sb) / 4);
    }
    for (let j = 0; j < F; j++) {
      const to = (base + dense.Wd) / 4 + plan.perm[j] * K, sto = (base + dense.sWd) / 4 + plan.perm[j] * K;
      f32.set(plan.Wd.subarray(j * K, (j + 1) * K), to);
      f32.set(plan.sWd.subarray(j * K, (j + 1) * K), sto);
    }
    f32.set(plan.bd, (base + rec.bd) / 4);
    f32.set(plan.sbd, (base + rec.sbd) / 4);
    if (plan.target !== null) f64.set(plan.target, (base + rec.labelIn) / 8);
    // pointers in the record are absolute; sizes and flags are not offsets
    i32.set(LOSS_FIELDS.map((k, i) => (i < 3 ? rec[k] : base + rec[k])), (base + recAt) / 4);
  };

  /** The parameter tensors' shared gradient and gbar buffers, in model.params order, as views of the memory now. */
  const cosineParts = (base: number): CosinePart[] => {
    const f32 = rt.f32(), f64 = rt.f64();
    const v32 = (at: number, n: number) => f32.subarray((base + at) / 4, (base + at) / 4 + n);
    const v64 = (at: number, n: number) => f64.subarray((base + at) / 8, (base + at) / 8 + n);
    return [
      ...layers.flatMap((ly) => [{ s: v32(ly.sw, ly.KK * ly.CO), gbar: v32(ly.gbarW, ly.KK * ly.CO) }, { s: v32(ly.sb, ly.CO), gbar: v64(ly.gbarB, ly.CO) }]),
      { s: v32(dense.sWd, F * K), gbar: v32(dense.gbar, F * K) },
      { s: v32(rec.sbd, K), gbar: v64(rec.gbd, K) },
    ];
  };

  const evaluate = (x: Float64Array, grad: Float64Array): number => {
    if (x.length !== size || grad.length !== size) {
      throw new Error(`fusedObjective: x and grad must hold ${size} values, got ${x.length} and ${grad.length}`);
    }
    const { base, intact } = rt.claim(owner, bytes);
    if (!intact) load(base);
    const at = (offset: number) => base + offset;
    rt.f64().set(x, at(xin) / 8);
    ex.toFloat32(at(xin), nImage, at(x32));
    // ---- forward: a_l = s(conv(a_{l-1}, W_l) + b_l)
    for (const ly of layers) {
      ex.im2col(at(ly.inp), at(ly.geom), at(ly.col));
      ex.gemm(at(ly.col), ly.KK, 1, at(ly.w), ly.CO, at(ly.a), ly.CO, ly.P, ly.CO, ly.KK, 0);
      ex.biasActivate(at(ly.a), at(ly.b), ly.P, ly.CO, act);
    }
    ex.gemm(at(last.a), F, 1, at(dense.Wd), K, at(rec.logits), K, B, K, F, 0);
    let D = ex.lossForward(at(recAt)); // and the dense bias's part of D
    // ---- backward (parameter gradients) and D; dense: G_d = a_L^T e, da_L = e Wd^T
    ex.gemm(at(last.a), 1, F, at(rec.e32), K, at(dense.G), K, F, K, B, 0);
    D += ex.squaredDistance(at(dense.G), at(dense.sWd), at(dense.gbar), F * K);
    ex.gemmNT(at(rec.e32), K, at(dense.Wd), K, at(last.da), F, B, F, K, 0);
    for (let l = L - 1; l >= 0; l--) {
      const ly = layers[l];
      ex.activationGrad(at(ly.dz), at(ly.da), at(ly.a), ly.P * ly.CO, act);
      ex.gemm(at(ly.col), 1, ly.KK, at(ly.dz), ly.CO, at(ly.gW), ly.CO, ly.KK, ly.CO, ly.P, 0);
      D += ex.squaredDistance(at(ly.gW), at(ly.sw), at(ly.gbarW), ly.KK * ly.CO);
      D += ex.biasDistance(at(ly.dz), ly.P, ly.CO, at(ly.sb), at(ly.gbarB));
      if (l > 0) {
        ex.gemm(at(ly.dz), ly.CO, 1, at(ly.wT), ly.KK, at(dcol), ly.KK, ly.P, ly.KK, ly.CO, 0);
        ex.col2im(at(dcol), at(ly.geom), at(layers[l - 1].da));
      }
    }
    // the cosine distance instead: its adjoint over the gbar buffers (fused-cosine.ts)
    if (plan.cosine !== null) D = cosineAdjoint(cosineParts(base), plan.cosine.weights, plan.cosine.sn);
    for (const ly of layers) ex.transpose(at(ly.gbarW), ly.KK, ly.CO, at(ly.gbarWT));
    // ---- adjoint of the backward pass, layers 1..L
    for (let l = 0; l < L; l++) {
      const ly = layers[l];
      ex.gemm(at(ly.col), ly.KK, 1, at(ly.gbarW), ly.CO, at(ly.adjDz), ly.CO, ly.P, ly.CO, ly.KK, 0);
      if (l > 0) {
        ex.im2col(at(layers[l - 1].adjDa), at(ly.geom), at(colAdj));
        ex.gemm(at(colAdj), ly.KK, 1, at(ly.w), ly.CO, at(ly.adjDz), ly.CO, ly.P, ly.CO, ly.KK, 1);
      }
      ex.secondOrder(act, at(ly.a), at(ly.da), at(ly.adjDz), at(ly.gbarB), ly.P, ly.CO, at(ly.adjDa), at(ly.adjZ));
    }
    // ---- adjoint of the dense layer and the loss: ebar = gbar_d + dabar_L Wd + a_L Gbar_d, then
    // obar and dD/dy' (lossAdjoint), abar_L = e Gbar_d^T + obar Wd^T
    ex.gemm(at(last.adjDa), F, 1, at(dense.Wd), K, at(rec.ebar32), K, B, K, F, 0);
    ex.gemm(at(last.a), F, 1, at(dense.gbar), K, at(rec.ebar32), K, B, K, F, 1);
    ex.lossAdjoint(at(recAt));
    ex.gemmNT(at(rec.e32), K, at(dense.gbar), K, at(abarL), F, B, F, K, 0);
    ex.gemmNT(at(rec.obar32), K, at(dense.Wd), K, at(abarL), F, B, F, K, 1);
    // ---- adjoint of the forward pass, layers L..1: abar_{l-1} = bpInput(zbar_l, W_l) + bpInput(dz_l, Gbar_l)
    let abar = abarL;
    for (let l = L - 1; l >= 0; l--) {
      const ly = layers[l];
      ex.addActivationGrad(at(ly.adjZ), at(abar), at(ly.a), ly.P * ly.CO, act);
      ex.gemm(at(ly.adjZ), ly.CO, 1, at(ly.wT), ly.KK, at(dcol), ly.KK, ly.P, ly.KK, ly.CO, 0);
      ex.gemm(at(ly.dz), ly.CO, 1, at(ly.gbarWT), ly.KK, at(dcol), ly.KK, ly.P, ly.KK, ly.CO, 1);
      ex.col2im(at(dcol), at(ly.geom), at(ly.abarIn));
      abar = ly.abarIn;
    }
    ex.toFloat64(at(abar), nImage, at(gout));
    grad.set(rt.f64().subarray(at(gout) / 8, at(gout) / 8 + size));
    return D;
  };
  return { size, kernels: 'wasm', evaluate };
}
