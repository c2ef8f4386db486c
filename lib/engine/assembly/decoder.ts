/**
 * The vocabulary-sized passes of the fused BERT-MLM objective (lib/engine/mlm-decoder.ts's rowDots
 * and colDots), float64, for a group of up to four rows at a time: each f64x2 lane carries one row's
 * sum, so every sum is accumulated in the same order as the JS loops (along the shared dimension,
 * one product then one addition per term) and the results are the JS ones bit for bit. The group's
 * rows come interleaved (row r of the group at lane r of each 4-wide slot; missing rows zero).
 */

/**
 * rowDots for one group: out4[j * 4 + r] = sum_h vi[h * 4 + r] * mat[j * d + h] for j < V
 * (mat [V, d] row-major, vi [d, 4] the group's rows interleaved, out4 [V, 4]).
 */
export function rowDots4(mat: usize, vi: usize, V: i32, d: i32, out4: usize): void {
  for (let j = 0; j < V; j++) {
    const row = mat + (<usize>(j * d) << 3);
    let s01 = f64x2.splat(0), s23 = f64x2.splat(0);
    for (let h = 0; h < d; h++) {
      const w = v128.load64_splat(row + (<usize>h << 3));
      const v = vi + (<usize>h << 5);
      s01 = f64x2.add(s01, f64x2.mul(v128.load(v), w));
      s23 = f64x2.add(s23, f64x2.mul(v128.load(v, 16), w));
    }
    const o = out4 + (<usize>j << 5);
    v128.store(o, s01);
    v128.store(o, s23, 16);
  }
}

/**
 * colDots for one group: out4[h * 4 + r] = sum_j ri[j * 4 + r] * mat[h * V + j] for h < d
 * (mat [d, V] row-major, ri [V, 4] the group's rows interleaved, out4 [d, 4]).
 */
export function colDots4(mat: usize, ri: usize, V: i32, d: i32, out4: usize): void {
  for (let h = 0; h < d; h++) {
    const row = mat + (<usize>(h * V) << 3);
    let s01 = f64x2.splat(0), s23 = f64x2.splat(0);
    for (let j = 0; j < V; j++) {
      const w = v128.load64_splat(row + (<usize>j << 3));
      const v = ri + (<usize>j << 5);
      s01 = f64x2.add(s01, f64x2.mul(v128.load(v), w));
      s23 = f64x2.add(s23, f64x2.mul(v128.load(v, 16), w));
    }
    const o = out4 + (<usize>h << 5);
    v128.store(o, s01);
    v128.store(o, s23, 16);
  }
}
