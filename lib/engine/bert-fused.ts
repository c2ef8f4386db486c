/**
 * The DLG-on-text objective of the BERT masked LM (lib/models/bert.ts) and its gradient, in one call
 * on flat float64 arrays: no tfjs ops, no tape, no allocation per call (after the first).
 *
 *   D(E', Y') = distance( dL_MLM(E', softmax(Y'))/dW , S )     over every parameter W of the model
 *
 * Why: through tfjs autodiff one evaluation is ~2,800 kernel launches (the second-order backward
 * of a 2-layer transformer) plus ~15 full passes over the [64 x 30,522] decoder and its gradient.
 * Here: the forward pass, the backward pass (the parameter gradients G), the distance, then the
 * adjoint of the backward pass (hats: dD/d(every backward quantity)) and of the forward pass, written
 * out by hand with the rules of dense-ops.ts; the decoder's weight gradient is never formed
 * (mlm-decoder.ts). test/bert-fused.test.ts checks value and gradients against the tfjs autodiff
 * path (lib/attacks/text.ts, textObjective with engine 'autodiff') and finite differences.
 *
 * Notation, per encoder layer (x its input [n, d], n tokens, d hidden, H heads of e = d/H, f FFN):
 *   q,k,v = x Wq,k,v + b;  S_h = q_h k_h^T / sqrt(e);  A_h = softmax(S_h);  c_h = A_h v_h
 *   s1 = x + c Wo + bo;  x1 = LN(s1);  u = x1 Wi + bi;  g = GELU(u);  s2 = x1 + g Wout + bout;  x2 = LN(s2)
 * embeddings: s0 = E' + P[0..n);  x0 = LN(s0).   MLM head at the m masked rows r = h[positions]:
 *   ut = r Wt + bt;  gt = GELU(ut);  t = LN(gt);  z = t Wd + bd;  p = softmax(z)
 *   q' = softmax(Y') (joint labels) or the given target;  Delta = dL/dz = (p c - q') / m,  c_r = sum_j q'_rj
 * A bar is dL/d(.) (the backward pass), a hat dD/d(.) (the adjoint). Distances (of all parameter
 * gradients concatenated): 'l2' sum ||G - S||^2; 'cosine' 1 - <G,S>/(|G||S|); 'l1l2' (TAG, Deng et al.
 * 2021) sum ||G - S||^2 + alpha sum |G - S|. For l2 and cosine every Ghat is a S + b G.
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { Bert } from '../models/bert';
import {
  matMul, matMulTA, matMulTB, addRows, sumRows, sumRowsProduct, layerNorm, lnBack, lnBackAdjoint, lnForwardAdjoint, gelu, softmaxRows, softmaxBack,
} from './dense-ops';
import { decoderTables, decoderLogits, decoderBackward, decoderDeltaAdjoint, decoderLogitsAdjoint, denseResidual, denseAdjoint } from './mlm-decoder';

export type TextDistance = 'l2' | 'cosine' | 'l1l2';

export interface BertFusedOptions {
  /** Tokens in the sequence ([CLS] and [SEP] included). */
  seqLength: number;
  /** Masked positions (the rows the MLM loss is computed at), distinct, in the sequence. */
  positions: readonly number[];
  /** 'joint': x = [E', Y'] (dummy label logits, DLG); 'fixed': x = E', the target rows are given. */
  label: 'joint' | 'fixed';
  /** With label 'fixed': the target [m, vocab] flat (one-hot or soft rows); can be replaced with setTarget. */
  target?: ArrayLike<number>;
  /**
   * With label 'joint': the tokens the dummy labels range over (e.g. those read off the decoder-bias
   * gradient); x then holds m * support.length label logits and q'_r = softmax over the support (0
   * elsewhere). Default: the whole vocabulary (DLG).
   */
  labelSupport?: readonly number[];
  /** Gradient distance (default 'l2'). */
  distance?: TextDistance;
  /** Weight of the L1 term of 'l1l2' (default DEFAULT_L1_WEIGHT). */
  l1Weight?: number;
  /**
   * Factor the shared decoder-weight gradient S = U B when its rank is low (an honest client's: the
   * number of masked positions), which shortens two of the six passes over the vocabulary. Exact up
   * to the float32 rounding of S (relative differences ~1e-7; the dropped energy is in
   * decoderRank()). Default true; false keeps S dense (exact in float64).
   */
  lowRank?: boolean;
}

/** TAG's L1 weight for 'l1l2' when none is given. */
export const DEFAULT_L1_WEIGHT = 0.01;

export interface BertFusedObjective {
  /** Length of x: seq*hidden embeddings, then masked*(vocab or support) label logits with label 'joint'. */
  readonly size: number;
  /** D(x); with grad, writes dD/dx into it. Reuses its buffers: not re-entrant. */
  evaluate(x: Float64Array, grad?: Float64Array): number;
  /** Replace the fixed target [m, vocab] (label 'fixed'). */
  setTarget(target: ArrayLike<number>): void;
  /** Rank of the shared decoder gradient as used (hidden when dense) and the relative energy left out. */
  decoderRank(): { rank: number; droppedEnergy: number };
  /** The dummy parameter gradients of the last evaluation, in model.params order (the decoder weight's omitted: null). */
  gradients(): (Float64Array | null)[];
}

const f64 = (t: Tensor) => Float64Array.from(t.dataSync());

interface Layer {
  w: Float64Array[]; // Wq bq Wk bk Wv bv Wo bo g1 b1 Wi bi Wout bout g2 b2
  q: Float64Array; k: Float64Array; v: Float64Array; A: Float64Array; c: Float64Array;
  s1: Float64Array; n1: Float64Array; r1: Float64Array; x1: Float64Array;
  u: Float64Array; g: Float64Array; g1: Float64Array; g2: Float64Array;
  s2: Float64Array; n2: Float64Array; r2: Float64Array;
  // backward pass
  w2: Float64Array; sb2: Float64Array; gb: Float64Array; ub: Float64Array; xb1: Float64Array; w1: Float64Array; sb1: Float64Array;
  cb: Float64Array; Ab: Float64Array; Sb: Float64Array; rho: Float64Array; qb: Float64Array; kb: Float64Array; vb: Float64Array;
  // hats of backward quantities
  hsb1: Float64Array; hqb: Float64Array; hkb: Float64Array; hvb: Float64Array; hSb: Float64Array; hAb: Float64Array; hcb: Float64Array;
  hw1: Float64Array; hxb1: Float64Array; hsb2: Float64Array; hub: Float64Array; hgb: Float64Array; hw2: Float64Array;
  // hats of forward quantities
  hq: Float64Array; hk: Float64Array; hv: Float64Array; hA: Float64Array; hc: Float64Array; hx1: Float64Array; hu: Float64Array; hg: Float64Array;
  hn1: Float64Array; hr1: Float64Array; hn2: Float64Array; hr2: Float64Array; hs1: Float64Array; hs2: Float64Array; tau: Float64Array;
}

/** The fused objective for `model`, the shared gradient and the attack's shape. */
export function bertFusedObjective(model: Bert, shared: Tensor[], options: BertFusedOptions): BertFusedObjective {
  const cfg = model.config;
  const { hidden: d, heads: H, intermediate: F, vocabSize: V, layers: L, layerNormEps: eps } = cfg;
  const n = options.seqLength;
  const positions = [...options.positions];
  const m = positions.length;
  const e = d / H;
  const scale = 1 / Math.sqrt(e);
  const distance = options.distance ?? 'l2';
  const alpha = options.l1Weight ?? DEFAULT_L1_WEIGHT;
  const joint = options.label === 'joint';
  if (!Number.isInteger(n) || n < 1 || n > cfg.maxPositions) throw new Error(`bertFusedObjective: seqLength must be an integer in [1, ${cfg.maxPositions}], got ${n}`);
  if (m < 1 || positions.some((q) => !Number.isInteger(q) || q < 0 || q >= n) || new Set(positions).size !== m) {
    throw new Error(`bertFusedObjective: masked positions must be distinct integers in [0, ${n - 1}], got ${JSON.stringify(positions)}`);
  }
  if (distance !== 'l2' && distance !== 'cosine' && distance !== 'l1l2') throw new Error(`bertFusedObjective: distance must be 'l2', 'cosine' or 'l1l2', got '${distance}'`);
  if (!(alpha >= 0)) throw new Error(`bertFusedObjective: l1Weight must be >= 0, got ${alpha}`);
  const nParams = 3 + 16 * L + 6;
  if (model.params.length !== nParams || shared.length !== nParams) throw new Error(`bertFusedObjective: expected ${nParams} parameter tensors, got ${model.params.length} and ${shared.length} shared`);

  const W = model.params.map((p, i) => (i === nParams - 2 ? new Float64Array(0) : f64(p)));
  const S = shared.map((s, i) => (i === nParams - 2 ? new Float64Array(0) : f64(s)));
  const iWd = nParams - 2;
  const iBd = nParams - 1;
  const hb = 3 + 16 * L;
  const tab = decoderTables(model.params[iWd].dataSync(), model.params[iBd].dataSync(), shared[iWd].dataSync(), d, V, options.lowRank ?? true);
  const G = model.params.map((p, i) => new Float64Array(i === iWd ? 0 : p.size));
  const Gh = model.params.map((p, i) => new Float64Array(i === iWd ? 0 : p.size));
  const sNorm2 = S.map((s, i) => (i === iWd ? tab.sNorm2 : s.reduce((a, b) => a + b * b, 0)));

  const buf = (size: number) => new Float64Array(size);
  const nd = n * d;
  const nf = n * F;
  const hnn = H * n * n;
  const layers: Layer[] = [];
  for (let l = 0; l < L; l++) {
    layers.push({
      w: W.slice(3 + 16 * l, 3 + 16 * (l + 1)),
      q: buf(nd), k: buf(nd), v: buf(nd), A: buf(hnn), c: buf(nd), s1: buf(nd), n1: buf(nd), r1: buf(n), x1: buf(nd),
      u: buf(nf), g: buf(nf), g1: buf(nf), g2: buf(nf), s2: buf(nd), n2: buf(nd), r2: buf(n),
      w2: buf(nd), sb2: buf(nd), gb: buf(nf), ub: buf(nf), xb1: buf(nd), w1: buf(nd), sb1: buf(nd),
      cb: buf(nd), Ab: buf(hnn), Sb: buf(hnn), rho: buf(H * n), qb: buf(nd), kb: buf(nd), vb: buf(nd),
      hsb1: buf(nd), hqb: buf(nd), hkb: buf(nd), hvb: buf(nd), hSb: buf(hnn), hAb: buf(hnn), hcb: buf(nd),
      hw1: buf(nd), hxb1: buf(nd), hsb2: buf(nd), hub: buf(nf), hgb: buf(nf), hw2: buf(nd),
      hq: buf(nd), hk: buf(nd), hv: buf(nd), hA: buf(hnn), hc: buf(nd), hx1: buf(nd), hu: buf(nf), hg: buf(nf),
      hn1: buf(nd), hr1: buf(n), hn2: buf(nd), hr2: buf(n), hs1: buf(nd), hs2: buf(nd), tau: buf(H * n),
    });
  }
  // residual stream: X[0] = x0, X[l + 1] = output of layer l; XB its backward, HX / HXB the hats
  const X = Array.from({ length: L + 1 }, () => buf(nd));
  const XB = Array.from({ length: L + 1 }, () => buf(nd));
  const HX = Array.from({ length: L + 1 }, () => buf(nd));
  const HXB = Array.from({ length: L + 1 }, () => buf(nd));
  const s0 = buf(nd), n0 = buf(nd), r0 = buf(n), w0 = buf(nd), sb0 = buf(nd), hw0 = buf(nd), hn0 = buf(nd), hr0 = buf(n);
  const md = m * d;
  const r = buf(md), ut = buf(md), gt = buf(md), gt1 = buf(md), gt2 = buf(md), nt = buf(md), rt = buf(m), t = buf(md);
  const tbar = buf(md), sdt = buf(md), dd = buf(m * m), tt = buf(m * m), wt = buf(md), gtb = buf(md), utb = buf(md), rb = buf(md);
  const scratch = buf(md), hrb = buf(md), hutb = buf(md), hgtb = buf(md), hwt = buf(md), htb = buf(md), ht = buf(md), hnt = buf(md), hrt = buf(m), hgt = buf(md), hut = buf(md), hr = buf(md);
  const mv = m * V;
  const p = buf(mv), target = buf(mv), delta = buf(mv), hDelta = buf(mv), hz = buf(mv), hq = buf(mv), cr = buf(m);
  const dense = distance === 'l1l2' ? buf(V * d) : new Float64Array(0);
  if (!joint) {
    if (options.target === undefined) throw new Error("bertFusedObjective: label 'fixed' needs a target");
    setTarget(options.target);
  }
  const support = joint && options.labelSupport !== undefined ? [...options.labelSupport] : undefined;
  if (support !== undefined && (support.length === 0 || support.some((id) => !Number.isInteger(id) || id < 0 || id >= V) || new Set(support).size !== support.length)) {
    throw new Error(`bertFusedObjective: labelSupport must be distinct token ids in [0, ${V - 1}], got ${JSON.stringify(support.slice(0, 8))}`);
  }
  const k = support ? support.length : V;
  const qs = buf(m * k);
  const size = nd + (joint ? m * k : 0);

  function setTarget(tg: ArrayLike<number>): void {
    if (tg.length !== mv) throw new Error(`bertFusedObjective: target has ${tg.length} entries, expected ${mv}`);
    target.set(tg);
  }

  /** The forward pass from E' (x[0..nd)) to t and p; the target from Y' when joint. */
  function forward(x: Float64Array): void {
    const P = W[0];
    for (let i = 0; i < nd; i++) s0[i] = x[i] + P[i];
    layerNorm(s0, n, d, W[1], W[2], eps, n0, r0, X[0]);
    for (let l = 0; l < L; l++) {
      const y = layers[l];
      const [Wq, bq, Wk, bk, Wv, bv, Wo, bo, g1w, b1w, Wi, bi, Wout, bout, g2w, b2w] = y.w;
      const xin = X[l];
      matMul(xin, Wq, y.q, n, d, d);
      addRows(y.q, bq, n, d);
      matMul(xin, Wk, y.k, n, d, d);
      addRows(y.k, bk, n, d);
      matMul(xin, Wv, y.v, n, d, d);
      addRows(y.v, bv, n, d);
      y.c.fill(0);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < n; i++) {
          const a = (h * n + i) * n;
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let c = 0; c < e; c++) s += y.q[i * d + h * e + c] * y.k[j * d + h * e + c];
            y.A[a + j] = s * scale;
          }
        }
      }
      softmaxRows(y.A, y.A, H * n, n);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < n; i++) {
          const a = (h * n + i) * n;
          for (let j = 0; j < n; j++) {
            const av = y.A[a + j];
            for (let c = 0; c < e; c++) y.c[i * d + h * e + c] += av * y.v[j * d + h * e + c];
          }
        }
      }
      matMul(y.c, Wo, y.s1, n, d, d);
      addRows(y.s1, bo, n, d);
      for (let i = 0; i < nd; i++) y.s1[i] += xin[i];
      layerNorm(y.s1, n, d, g1w, b1w, eps, y.n1, y.r1, y.x1);
      matMul(y.x1, Wi, y.u, n, d, F);
      addRows(y.u, bi, n, F);
      gelu(y.u, nf, y.g, y.g1, y.g2);
      matMul(y.g, Wout, y.s2, n, F, d);
      addRows(y.s2, bout, n, d);
      for (let i = 0; i < nd; i++) y.s2[i] += y.x1[i];
      layerNorm(y.s2, n, d, g2w, b2w, eps, y.n2, y.r2, X[l + 1]);
    }
    const top = X[L];
    positions.forEach((q, row) => r.set(top.subarray(q * d, (q + 1) * d), row * d));
    matMul(r, W[hb], ut, m, d, d);
    addRows(ut, W[hb + 1], m, d);
    gelu(ut, md, gt, gt1, gt2);
    layerNorm(gt, m, d, W[hb + 2], W[hb + 3], eps, nt, rt, t);
    decoderLogits(tab, t, m, p);
    softmaxRows(p, p, m, V);
    if (joint && support) {
      softmaxRows(x.subarray(nd), qs, m, k);
      target.fill(0);
      for (let row = 0; row < m; row++) support.forEach((id, c) => (target[row * V + id] = qs[row * k + c]));
    } else if (joint) softmaxRows(x.subarray(nd), target, m, V);
    for (let row = 0; row < m; row++) {
      let c = 0;
      for (let j = 0; j < V; j++) c += target[row * V + j];
      cr[row] = c;
      for (let j = 0; j < V; j++) delta[row * V + j] = (p[row * V + j] * c - target[row * V + j]) / m;
    }
  }

  /** The backward pass: every parameter gradient G (the decoder weight's only through tbar, sdt, dd). */
  function backward(): void {
    decoderBackward(tab, delta, m, tbar, sdt, dd, G[iBd]);
    sumRowsProduct(tbar, nt, m, d, G[hb + 2]);
    sumRows(tbar, m, d, G[hb + 3]);
    for (let i = 0; i < md; i++) wt[i] = tbar[i] * W[hb + 2][i % d];
    lnBack(wt, nt, rt, m, d, gtb);
    for (let i = 0; i < md; i++) utb[i] = gtb[i] * gt1[i];
    matMulTA(r, utb, G[hb], m, d, d);
    sumRows(utb, m, d, G[hb + 1]);
    matMulTB(utb, W[hb], rb, m, d, d);
    XB[L].fill(0);
    positions.forEach((q, row) => {
      for (let c = 0; c < d; c++) XB[L][q * d + c] += rb[row * d + c];
    });
    for (let l = L - 1; l >= 0; l--) {
      const y = layers[l];
      const [Wq, , Wk, , Wv, , Wo, , g1w, , Wi, , Wout, , g2w] = y.w;
      const gi = 3 + 16 * l;
      const xb2 = XB[l + 1];
      const xin = X[l];
      sumRowsProduct(xb2, y.n2, n, d, G[gi + 14]);
      sumRows(xb2, n, d, G[gi + 15]);
      for (let i = 0; i < nd; i++) y.w2[i] = xb2[i] * g2w[i % d];
      lnBack(y.w2, y.n2, y.r2, n, d, y.sb2);
      matMulTA(y.g, y.sb2, G[gi + 12], n, F, d);
      sumRows(y.sb2, n, d, G[gi + 13]);
      matMulTB(y.sb2, Wout, y.gb, n, d, F);
      for (let i = 0; i < nf; i++) y.ub[i] = y.gb[i] * y.g1[i];
      matMulTA(y.x1, y.ub, G[gi + 10], n, d, F);
      sumRows(y.ub, n, F, G[gi + 11]);
      y.xb1.set(y.sb2);
      matMulTB(y.ub, Wi, y.xb1, n, F, d, true);
      sumRowsProduct(y.xb1, y.n1, n, d, G[gi + 8]);
      sumRows(y.xb1, n, d, G[gi + 9]);
      for (let i = 0; i < nd; i++) y.w1[i] = y.xb1[i] * g1w[i % d];
      lnBack(y.w1, y.n1, y.r1, n, d, y.sb1);
      matMulTA(y.c, y.sb1, G[gi + 6], n, d, d);
      sumRows(y.sb1, n, d, G[gi + 7]);
      matMulTB(y.sb1, Wo, y.cb, n, d, d);
      y.vb.fill(0);
      y.qb.fill(0);
      y.kb.fill(0);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < n; i++) {
          const a = (h * n + i) * n;
          let rho = 0;
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let c = 0; c < e; c++) s += y.cb[i * d + h * e + c] * y.v[j * d + h * e + c];
            y.Ab[a + j] = s;
            rho += s * y.A[a + j];
            const av = y.A[a + j];
            for (let c = 0; c < e; c++) y.vb[j * d + h * e + c] += av * y.cb[i * d + h * e + c];
          }
          y.rho[h * n + i] = rho;
          for (let j = 0; j < n; j++) {
            const sb = y.A[a + j] * (y.Ab[a + j] - rho) * scale;
            y.Sb[a + j] = sb / scale;
            for (let c = 0; c < e; c++) {
              y.qb[i * d + h * e + c] += sb * y.k[j * d + h * e + c];
              y.kb[j * d + h * e + c] += sb * y.q[i * d + h * e + c];
            }
          }
        }
      }
      matMulTA(xin, y.qb, G[gi], n, d, d);
      sumRows(y.qb, n, d, G[gi + 1]);
      matMulTA(xin, y.kb, G[gi + 2], n, d, d);
      sumRows(y.kb, n, d, G[gi + 3]);
      matMulTA(xin, y.vb, G[gi + 4], n, d, d);
      sumRows(y.vb, n, d, G[gi + 5]);
      const xb = XB[l];
      xb.set(y.sb1);
      matMulTB(y.qb, Wq, xb, n, d, d, true);
      matMulTB(y.kb, Wk, xb, n, d, d, true);
      matMulTB(y.vb, Wv, xb, n, d, d, true);
    }
    sumRowsProduct(XB[0], n0, n, d, G[1]);
    sumRows(XB[0], n, d, G[2]);
    for (let i = 0; i < nd; i++) w0[i] = XB[0][i] * W[1][i % d];
    lnBack(w0, n0, r0, n, d, sb0);
    G[0].fill(0);
    G[0].set(sb0);
  }

  /** The distance and, in Gh, dD/dG of every parameter but Wd; returns [value, a, b] (Wd's Ghat = a S + b G). */
  function distanceAndAdjoint(): [number, number, number] {
    matMulTB(t, t, tt, m, d, m);
    let gg = 0;
    let gs = 0;
    for (let i = 0; i < m * m; i++) gg += tt[i] * dd[i];
    for (let i = 0; i < md; i++) gs += t[i] * sdt[i];
    if (distance === 'cosine') {
      let GG = gg;
      let GS = gs;
      let SS = 0;
      for (let k = 0; k < nParams; k++) {
        SS += sNorm2[k];
        if (k === iWd) continue;
        const g = G[k];
        const s = S[k];
        for (let i = 0; i < g.length; i++) {
          GG += g[i] * g[i];
          GS += g[i] * s[i];
        }
      }
      const norm = Math.sqrt(GG * SS);
      const a = -1 / norm;
      const b = GS / (GG * norm);
      for (let k = 0; k < nParams; k++) {
        if (k === iWd) continue;
        const g = G[k];
        const s = S[k];
        const o = Gh[k];
        for (let i = 0; i < g.length; i++) o[i] = a * s[i] + b * g[i];
      }
      return [1 - GS / norm, a, b];
    }
    let value = 0;
    for (let k = 0; k < nParams; k++) {
      if (k === iWd) continue;
      const g = G[k];
      const s = S[k];
      const o = Gh[k];
      for (let i = 0; i < g.length; i++) {
        const res = g[i] - s[i];
        value += res * res;
        o[i] = 2 * res;
        if (distance === 'l1l2') {
          value += alpha * Math.abs(res);
          o[i] += res > 0 ? alpha : res < 0 ? -alpha : 0;
        }
      }
    }
    if (distance === 'l1l2') {
      const { l2, l1 } = denseResidual(tab, t, delta, m, dense);
      for (let i = 0; i < dense.length; i++) {
        const res = dense[i];
        dense[i] = 2 * res + (res > 0 ? alpha : res < 0 ? -alpha : 0);
      }
      return [value + l2 + alpha * l1, 0, 0];
    }
    return [value + gg - 2 * gs + sNorm2[iWd], -2, 2];
  }

  /** The adjoint of the backward pass, then of the forward pass; writes dD/dx into grad. */
  function adjoint(a: number, b: number, grad: Float64Array): void {
    for (const h of [...HX, hn0, hr0, ht, hnt, hrt, hut, hr]) h.fill(0);
    for (const y of layers) for (const h of [y.hq, y.hk, y.hv, y.hA, y.hc, y.hx1, y.hu, y.hg, y.hn1, y.hr1, y.hn2, y.hr2]) h.fill(0);
    // embeddings: sb0 = lnBack(w0), G_P = sb0, G_gamma0/beta0 from xb0
    lnBackAdjoint(Gh[0], w0, sb0, n0, r0, n, d, hw0, hn0, hr0);
    for (let i = 0; i < nd; i++) {
      const c = i % d;
      HXB[0][i] = hw0[i] * W[1][c] + Gh[1][c] * n0[i] + Gh[2][c];
      hn0[i] += Gh[1][c] * XB[0][i];
    }
    for (let l = 0; l < L; l++) {
      const y = layers[l];
      const [Wq, , Wk, , Wv, , Wo, , g1w, , Wi, , Wout, , g2w] = y.w;
      const gi = 3 + 16 * l;
      const xin = X[l];
      const xbh = HXB[l];
      // xb = sb1 + qb Wq^T + kb Wk^T + vb Wv^T;  G_Wq = x^T qb, G_bq = sum qb (k, v alike)
      y.hsb1.set(xbh);
      matMul(xbh, Wq, y.hqb, n, d, d);
      matMul(xbh, Wk, y.hkb, n, d, d);
      matMul(xbh, Wv, y.hvb, n, d, d);
      matMulTB(y.qb, Gh[gi], HX[l], n, d, d, true);
      matMulTB(y.kb, Gh[gi + 2], HX[l], n, d, d, true);
      matMulTB(y.vb, Gh[gi + 4], HX[l], n, d, d, true);
      matMul(xin, Gh[gi], y.hqb, n, d, d, true);
      addRows(y.hqb, Gh[gi + 1], n, d);
      matMul(xin, Gh[gi + 2], y.hkb, n, d, d, true);
      addRows(y.hkb, Gh[gi + 3], n, d);
      matMul(xin, Gh[gi + 4], y.hvb, n, d, d, true);
      addRows(y.hvb, Gh[gi + 5], n, d);
      // attention: qb = scale Sb k, kb = scale Sb^T q; Sb = A (Ab - rho); Ab = cb v^T, vb = A^T cb
      y.hcb.fill(0);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < n; i++) {
          const a0 = (h * n + i) * n;
          let tau = 0;
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let c = 0; c < e; c++) {
              s += y.hqb[i * d + h * e + c] * y.k[j * d + h * e + c] + y.q[i * d + h * e + c] * y.hkb[j * d + h * e + c];
            }
            const sig = s * scale;
            y.hSb[a0 + j] = sig;
            tau += sig * y.A[a0 + j];
            const sb = y.Sb[a0 + j] * scale;
            for (let c = 0; c < e; c++) {
              y.hk[j * d + h * e + c] += sb * y.hqb[i * d + h * e + c];
              y.hq[i * d + h * e + c] += sb * y.hkb[j * d + h * e + c];
            }
          }
          const rho = y.rho[h * n + i];
          for (let j = 0; j < n; j++) {
            const sig = y.hSb[a0 + j];
            const av = y.A[a0 + j];
            const hab = av * (sig - tau);
            y.hAb[a0 + j] = hab;
            let ha = sig * y.Ab[a0 + j] - sig * rho - y.Ab[a0 + j] * tau;
            for (let c = 0; c < e; c++) {
              const cbv = y.cb[i * d + h * e + c];
              y.hcb[i * d + h * e + c] += hab * y.v[j * d + h * e + c] + av * y.hvb[j * d + h * e + c];
              y.hv[j * d + h * e + c] += hab * cbv;
              ha += cbv * y.hvb[j * d + h * e + c];
            }
            y.hA[a0 + j] += ha;
          }
        }
      }
      // cb = sb1 Wo^T; G_Wo = c^T sb1, G_bo = sum sb1
      matMul(y.hcb, Wo, y.hsb1, n, d, d, true);
      matMulTB(y.sb1, Gh[gi + 6], y.hc, n, d, d, true);
      matMul(y.c, Gh[gi + 6], y.hsb1, n, d, d, true);
      addRows(y.hsb1, Gh[gi + 7], n, d);
      // sb1 = lnBack(xb1 g1); G_g1 = sum xb1 n1, G_b1 = sum xb1
      lnBackAdjoint(y.hsb1, y.w1, y.sb1, y.n1, y.r1, n, d, y.hw1, y.hn1, y.hr1);
      for (let i = 0; i < nd; i++) {
        const c = i % d;
        y.hxb1[i] = y.hw1[i] * g1w[c] + Gh[gi + 8][c] * y.n1[i] + Gh[gi + 9][c];
        y.hn1[i] += Gh[gi + 8][c] * y.xb1[i];
      }
      // xb1 = sb2 + ub Wi^T; G_Wi = x1^T ub, G_bi = sum ub; ub = gb g'(u)
      y.hsb2.set(y.hxb1);
      matMul(y.hxb1, Wi, y.hub, n, d, F);
      matMulTB(y.ub, Gh[gi + 10], y.hx1, n, F, d, true);
      matMul(y.x1, Gh[gi + 10], y.hub, n, d, F, true);
      addRows(y.hub, Gh[gi + 11], n, F);
      for (let i = 0; i < nf; i++) {
        y.hgb[i] = y.hub[i] * y.g1[i];
        y.hu[i] += y.hub[i] * y.gb[i] * y.g2[i];
      }
      // gb = sb2 Wout^T; G_Wout = g^T sb2, G_bout = sum sb2
      matMul(y.hgb, Wout, y.hsb2, n, F, d, true);
      matMulTB(y.sb2, Gh[gi + 12], y.hg, n, d, F, true);
      matMul(y.g, Gh[gi + 12], y.hsb2, n, F, d, true);
      addRows(y.hsb2, Gh[gi + 13], n, d);
      // sb2 = lnBack(xb2 g2); G_g2, G_b2 from xb2
      lnBackAdjoint(y.hsb2, y.w2, y.sb2, y.n2, y.r2, n, d, y.hw2, y.hn2, y.hr2);
      const out = HXB[l + 1];
      const xb2 = XB[l + 1];
      for (let i = 0; i < nd; i++) {
        const c = i % d;
        out[i] = y.hw2[i] * g2w[c] + Gh[gi + 14][c] * y.n2[i] + Gh[gi + 15][c];
        y.hn2[i] += Gh[gi + 14][c] * xb2[i];
      }
    }
    // head: rb = utb Wt^T scattered to the masked rows; G_Wt = r^T utb, G_bt = sum utb; utb = gtb g'(ut)
    positions.forEach((q, row) => hrb.set(HXB[L].subarray(q * d, (q + 1) * d), row * d));
    matMul(hrb, W[hb], hutb, m, d, d);
    matMul(r, Gh[hb], hutb, m, d, d, true);
    addRows(hutb, Gh[hb + 1], m, d);
    matMulTB(utb, Gh[hb], hr, m, d, d, true);
    for (let i = 0; i < md; i++) {
      hgtb[i] = hutb[i] * gt1[i];
      hut[i] += hutb[i] * gtb[i] * gt2[i];
    }
    // gtb = lnBack(tbar gt); G_gt, G_bt from tbar
    lnBackAdjoint(hgtb, wt, gtb, nt, rt, m, d, hwt, hnt, hrt);
    for (let i = 0; i < md; i++) {
      const c = i % d;
      htb[i] = hwt[i] * W[hb + 2][c] + Gh[hb + 2][c] * nt[i] + Gh[hb + 3][c];
      hnt[i] += Gh[hb + 2][c] * tbar[i];
    }
    // decoder: tbar = Delta Wd^T, G_Wd = t^T Delta (Ghat = a S + b G, or dense), G_bd = sum Delta
    decoderDeltaAdjoint(tab, htb, t, tt, a, b, delta, Gh[iBd], m, hDelta, scratch);
    if (distance === 'l1l2') denseAdjoint(tab, dense, t, delta, m, hDelta, ht);
    else {
      // Delta Ghat^T = a (S Delta^T)^T + b (Delta Delta^T) t
      for (let i = 0; i < md; i++) ht[i] += a * sdt[i];
      for (let row = 0; row < m; row++) {
        for (let s = 0; s < m; s++) {
          const f = b * dd[row * m + s];
          for (let c = 0; c < d; c++) ht[row * d + c] += f * t[s * d + c];
        }
      }
    }
    // Delta = (p c - q') / m
    for (let row = 0; row < m; row++) {
      const o = row * V;
      let sp = 0;
      for (let j = 0; j < V; j++) sp += hDelta[o + j] * p[o + j];
      const c = cr[row];
      for (let j = 0; j < V; j++) {
        hz[o + j] = (c / m) * p[o + j] * (hDelta[o + j] - sp);
        hq[o + j] = (-hDelta[o + j] + sp) / m;
      }
    }
    decoderLogitsAdjoint(tab, hz, m, ht);
    if (joint && support) {
      const hqs = new Float64Array(m * k);
      for (let row = 0; row < m; row++) support.forEach((id, c) => (hqs[row * k + c] = hq[row * V + id]));
      softmaxBack(qs, hqs, m, k, grad.subarray(nd));
    } else if (joint) softmaxBack(target, hq, m, V, grad.subarray(nd));
    // forward pass reversed: t = LN(gt); gt = GELU(ut); ut = r Wt + bt; r = h[positions]
    for (let i = 0; i < md; i++) hnt[i] += ht[i] * W[hb + 2][i % d];
    lnForwardAdjoint(hnt, hrt, nt, rt, m, d, hgt);
    for (let i = 0; i < md; i++) hut[i] += hgt[i] * gt1[i];
    matMulTB(hut, W[hb], hr, m, d, d, true);
    positions.forEach((q, row) => {
      for (let c = 0; c < d; c++) HX[L][q * d + c] += hr[row * d + c];
    });
    for (let l = L - 1; l >= 0; l--) {
      const y = layers[l];
      const [Wq, , Wk, , Wv, , Wo, , g1w, , Wi, , Wout, , g2w] = y.w;
      const hx2 = HX[l + 1];
      for (let i = 0; i < nd; i++) y.hn2[i] += hx2[i] * g2w[i % d];
      lnForwardAdjoint(y.hn2, y.hr2, y.n2, y.r2, n, d, y.hs2);
      for (let i = 0; i < nd; i++) y.hx1[i] += y.hs2[i];
      matMulTB(y.hs2, Wout, y.hg, n, d, F, true);
      for (let i = 0; i < nf; i++) y.hu[i] += y.hg[i] * y.g1[i];
      matMulTB(y.hu, Wi, y.hx1, n, F, d, true);
      for (let i = 0; i < nd; i++) y.hn1[i] += y.hx1[i] * g1w[i % d];
      lnForwardAdjoint(y.hn1, y.hr1, y.n1, y.r1, n, d, y.hs1);
      const hx = HX[l];
      for (let i = 0; i < nd; i++) hx[i] += y.hs1[i];
      matMulTB(y.hs1, Wo, y.hc, n, d, d, true);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < n; i++) {
          const a0 = (h * n + i) * n;
          let s = 0;
          for (let j = 0; j < n; j++) {
            let ha = y.hA[a0 + j];
            for (let c = 0; c < e; c++) {
              ha += y.hc[i * d + h * e + c] * y.v[j * d + h * e + c];
              y.hv[j * d + h * e + c] += y.A[a0 + j] * y.hc[i * d + h * e + c];
            }
            y.hA[a0 + j] = ha;
            s += ha * y.A[a0 + j];
          }
          for (let j = 0; j < n; j++) {
            const hs = y.A[a0 + j] * (y.hA[a0 + j] - s) * scale;
            for (let c = 0; c < e; c++) {
              y.hq[i * d + h * e + c] += hs * y.k[j * d + h * e + c];
              y.hk[j * d + h * e + c] += hs * y.q[i * d + h * e + c];
            }
          }
        }
      }
      matMulTB(y.hq, Wq, hx, n, d, d, true);
      matMulTB(y.hk, Wk, hx, n, d, d, true);
      matMulTB(y.hv, Wv, hx, n, d, d, true);
    }
    for (let i = 0; i < nd; i++) hn0[i] += HX[0][i] * W[1][i % d];
    lnForwardAdjoint(hn0, hr0, n0, r0, n, d, grad);
  }

  return {
    size,
    evaluate(x: Float64Array, grad?: Float64Array): number {
      if (x.length !== size) throw new Error(`bertFusedObjective: x has ${x.length} entries, expected ${size}`);
      if (grad !== undefined && grad.length !== size) throw new Error(`bertFusedObjective: grad has ${grad.length} entries, expected ${size}`);
      forward(x);
      backward();
      const [value, a, b] = distanceAndAdjoint();
      if (grad !== undefined) adjoint(a, b, grad);
      return value;
    },
    setTarget,
    decoderRank: () => ({ rank: tab.sharedRank, droppedEnergy: tab.droppedEnergy }),
    gradients: () => G.map((g, i) => (i === iWd ? null : g)),
  };
}
