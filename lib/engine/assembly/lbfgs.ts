/**
 * The L-BFGS two-loop recursion of lib/attacks/optim/lbfgs.ts (torch.optim.LBFGS's direction
 * d = -H g) over float64 vectors in this module's memory, two values per f64x2 operation. Bit for bit
 * the JS loops there: every lane does the same multiply, then add (no fused multiply-add), and a dot
 * product keeps the JS version's four partial sums (lanes i mod 4: two f64x2 accumulators), adds the
 * tail to the first, and returns (s0 + s1) + (s2 + s3).
 *
 * The history is given as tables of pointers (oldest pair first): dirs[i] -> y_i, stps[i] -> s_i.
 */

// @ts-ignore: decorator
@inline function at(table: usize, i: i32): usize {
  return <usize>load<u32>(table + (<usize>i << 2));
}

/** (s0 + s1) + (s2 + s3): s0 is lane 0 of s01 with the tail added, s1 its lane 1, s2 and s3 s23's lanes. */
// @ts-ignore: decorator
@inline function sum4(s0: f64, s01: v128, s23: v128): f64 {
  return (s0 + f64x2.extract_lane(s01, 1)) + (f64x2.extract_lane(s23, 0) + f64x2.extract_lane(s23, 1));
}

/** sum_i a[i] b[i] in the JS dot's order. */
function dot64(a: usize, b: usize, n: i32): f64 {
  let s01 = f64x2.splat(0), s23 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 3;
    s01 = f64x2.add(s01, f64x2.mul(v128.load(a + o), v128.load(b + o)));
    s23 = f64x2.add(s23, f64x2.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
  }
  let s0 = f64x2.extract_lane(s01, 0);
  for (; i < n; i++) s0 += load<f64>(a + (<usize>i << 3)) * load<f64>(b + (<usize>i << 3));
  return sum4(s0, s01, s23);
}

/** y += alpha x. */
function axpy64(alpha: f64, x: usize, y: usize, n: i32): void {
  const a = f64x2.splat(alpha);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const o = <usize>i << 3;
    v128.store(y + o, f64x2.add(v128.load(y + o), f64x2.mul(a, v128.load(x + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 3;
    store<f64>(y + o, load<f64>(y + o) + alpha * load<f64>(x + o));
  }
}

/** y += alpha x, then return dot(z, y), in one pass. */
function axpyDot64(alpha: f64, x: usize, y: usize, z: usize, n: i32): f64 {
  const a = f64x2.splat(alpha);
  let s01 = f64x2.splat(0), s23 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 3;
    const v0 = f64x2.add(v128.load(y + o), f64x2.mul(a, v128.load(x + o)));
    const v1 = f64x2.add(v128.load(y + o, 16), f64x2.mul(a, v128.load(x + o, 16)));
    v128.store(y + o, v0);
    v128.store(y + o, v1, 16);
    s01 = f64x2.add(s01, f64x2.mul(v128.load(z + o), v0));
    s23 = f64x2.add(s23, f64x2.mul(v128.load(z + o, 16), v1));
  }
  let s0 = f64x2.extract_lane(s01, 0);
  for (; i < n; i++) {
    const o = <usize>i << 3;
    const v = load<f64>(y + o) + alpha * load<f64>(x + o);
    store<f64>(y + o, v);
    s0 += load<f64>(z + o) * v;
  }
  return sum4(s0, s01, s23);
}

/**
 * d = -H g from the history: q = -g; backward loop al[i] = (s_i . q) ro[i], q -= al[i] y_i; r = q hDiag;
 * forward loop r += (al[i] - (y_i . r) ro[i]) s_i. `al` (numOld float64) is written, as torch's state['al'].
 */
export function lbfgsDirection(g: usize, d: usize, n: i32, dirs: usize, stps: usize, ro: usize, al: usize, numOld: i32, hDiag: f64): void {
  for (let i = 0; i < n; i++) store<f64>(d + (<usize>i << 3), -load<f64>(g + (<usize>i << 3)));
  let sq = numOld > 0 ? dot64(at(stps, numOld - 1), d, n) : 0;
  for (let i = numOld - 1; i >= 0; i--) {
    const a = sq * load<f64>(ro + (<usize>i << 3));
    store<f64>(al + (<usize>i << 3), a);
    if (i > 0) sq = axpyDot64(-a, at(dirs, i), d, at(stps, i - 1), n);
    else axpy64(-a, at(dirs, i), d, n);
  }
  for (let i = 0; i < n; i++) store<f64>(d + (<usize>i << 3), load<f64>(d + (<usize>i << 3)) * hDiag);
  let yr = numOld > 0 ? dot64(at(dirs, 0), d, n) : 0;
  for (let i = 0; i < numOld; i++) {
    const beI = yr * load<f64>(ro + (<usize>i << 3));
    const c = load<f64>(al + (<usize>i << 3)) - beI;
    if (i + 1 < numOld) yr = axpyDot64(c, at(stps, i), d, at(dirs, i + 1), n);
    else axpy64(c, at(stps, i), d, n);
  }
}
