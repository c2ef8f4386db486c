/**
 * The cosine distance of the fused objective (FusedObjectiveOptions.distance 'cosine', Inverting
 * Gradients' objective without its TV prior): over all parameter tensors at once, tensor i weighted by
 * w_i (lib/attacks/inverting.ts cosineDistance: 'equal' weights are all 1),
 *
 *   D = 1 - dot / R,   dot = sum_i w_i <g_i, s_i>,   R = sqrt(dn sn),   dn = sum_i w_i |g_i|^2,   sn = sum_i w_i |s_i|^2,
 *   dD/dg_i = (w_i / R) (dot / dn  g_i - s_i).
 *
 * Both evaluators (fused-js.ts, fused-wasm.ts) compute the squared distance's adjoint 2 (g - s) into each
 * tensor's gbar buffer as they go; after the backward pass `cosineAdjoint` reads g = s + gbar / 2 back
 * from those buffers (float32 weight buffers: g to float32 precision, as tfjs computes it), and writes
 * the cosine's adjoint over them. Everything after (the adjoint passes) is linear in gbar, so the rest
 * of the objective is the same code for both distances. Sums are float64.
 */

/** One parameter tensor's part: the shared gradient, and gbar (2 (g - s) on entry, dD/dg on return). */
export interface CosinePart {
  s: Float32Array;
  gbar: Float32Array | Float64Array;
}

/** sn = sum_i w_i |s_i|^2, the shared gradient's constant. */
export function sharedNorm2(shared: Float32Array[], weights: number[]): number {
  let sn = 0;
  shared.forEach((s, i) => {
    let t = 0;
    for (let k = 0; k < s.length; k++) t += s[k] * s[k];
    sn += weights[i] * t;
  });
  return sn;
}

/** D for parts holding 2 (g - s), whose gbar buffers it overwrites with dD/dg (`parts` in the order of `weights`). */
export function cosineAdjoint(parts: CosinePart[], weights: number[], sn: number): number {
  let dot = 0, dn = 0;
  parts.forEach(({ s, gbar }, i) => {
    let a = 0, b = 0;
    for (let k = 0; k < s.length; k++) {
      const g = s[k] + 0.5 * gbar[k];
      a += g * s[k];
      b += g * g;
    }
    dot += weights[i] * a;
    dn += weights[i] * b;
  });
  const R = Math.sqrt(dn * sn);
  const ratio = dot / dn;
  parts.forEach(({ s, gbar }, i) => {
    const c = weights[i] / R;
    for (let k = 0; k < s.length; k++) {
      const g = s[k] + 0.5 * gbar[k];
      gbar[k] = c * (ratio * g - s[k]);
    }
  });
  return 1 - dot / R;
}
