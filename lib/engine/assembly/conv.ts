/**
 * The data movement around the matrix products of a convolution (NHWC images, HWIO filters):
 * im2col gathers each output pixel's receptive field into one row of a matrix, col2im scatters
 * such rows back (summing overlaps), transpose turns a filter [K, CO] into [CO, K].
 *
 * Geometry: one record of 12 int32 (written by lib/engine/fused-wasm.ts and lib/engine/wasm-conv.ts):
 *   B, H, W, C (input), OH, OW (output), FH, FW (filter), SH, SW (strides), PT, PL (padding top, left)
 * A row of the im2col matrix is the patch of one output pixel (b, oy, ox): FH x FW x C floats in
 * (fy, fx, c) order, the row order of an HWIO filter; entries under the padding are 0.
 */

// @ts-ignore: decorator
@inline function copyRun(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

// @ts-ignore: decorator
@inline function addRun(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = dst + (<usize>i << 2);
    v128.store(p, f32x4.add(v128.load(p), v128.load(src + (<usize>i << 2))));
  }
  for (; i < n; i++) {
    const p = dst + (<usize>i << 2);
    store<f32>(p, load<f32>(p) + load<f32>(src + (<usize>i << 2)));
  }
}

/** col[P, FH*FW*C] = the patches of x (P = B*OH*OW output pixels). */
export function im2col(x: usize, g: usize, col: usize): void {
  im2colRows(x, g, col, 0, load<i32>(g) * load<i32>(g, 16) * load<i32>(g, 20));
}

/** Rows [p0, p1) of im2col's matrix (each row written where im2col writes it; the others untouched). */
export function im2colRows(x: usize, g: usize, col: usize, p0: i32, p1: i32): void {
  const H = load<i32>(g, 4), W = load<i32>(g, 8), C = load<i32>(g, 12);
  const OH = load<i32>(g, 16), OW = load<i32>(g, 20), FH = load<i32>(g, 24), FW = load<i32>(g, 28);
  const SH = load<i32>(g, 32), SW = load<i32>(g, 36), PT = load<i32>(g, 40), PL = load<i32>(g, 44);
  const run = FW * C;
  const run4 = <usize>run << 2;
  let dst = col + <usize>p0 * <usize>FH * run4;
  for (let p = p0; p < p1; p++) {
    const b = p / (OH * OW), r = p % (OH * OW);
    const oy = r / OW, ox = r % OW;
    const ix0 = ox * SW - PL;
    const fx0 = max(0, -ix0), fx1 = min(FW, W - ix0);
    for (let fy = 0; fy < FH; fy++) {
      const iy = oy * SH + fy - PT;
      if (iy < 0 || iy >= H || fx1 <= fx0) {
        memory.fill(dst, 0, run4);
      } else {
        if (fx0 > 0) memory.fill(dst, 0, <usize>(fx0 * C) << 2);
        const src = x + (<usize>(((b * H + iy) * W + ix0 + fx0) * C) << 2);
        copyRun(dst + (<usize>(fx0 * C) << 2), src, (fx1 - fx0) * C);
        if (fx1 < FW) memory.fill(dst + (<usize>(fx1 * C) << 2), 0, <usize>((FW - fx1) * C) << 2);
      }
      dst += run4;
    }
  }
}

/** dx[B, H, W, C] = the sum of the patches col[P, FH*FW*C] put back where im2col took them (entries under the padding dropped). */
export function col2im(col: usize, g: usize, dx: usize): void {
  const B = load<i32>(g), H = load<i32>(g, 4), W = load<i32>(g, 8), C = load<i32>(g, 12);
  const OH = load<i32>(g, 16), OW = load<i32>(g, 20), FH = load<i32>(g, 24), FW = load<i32>(g, 28);
  const SH = load<i32>(g, 32), SW = load<i32>(g, 36), PT = load<i32>(g, 40), PL = load<i32>(g, 44);
  const run = FW * C;
  const run4 = <usize>run << 2;
  memory.fill(dx, 0, <usize>(B * H * W * C) << 2);
  let src = col;
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const ix0 = ox * SW - PL;
        const fx0 = max(0, -ix0), fx1 = min(FW, W - ix0);
        for (let fy = 0; fy < FH; fy++) {
          const iy = oy * SH + fy - PT;
          if (iy >= 0 && iy < H && fx1 > fx0) {
            const dst = dx + (<usize>(((b * H + iy) * W + ix0 + fx0) * C) << 2);
            addRun(dst, src + (<usize>(fx0 * C) << 2), (fx1 - fx0) * C);
          }
          src += run4;
        }
      }
    }
  }
}

/** dst[C, R] = src[R, C]^T (float32). */
export function transpose(src: usize, R: i32, C: i32, dst: usize): void {
  for (let r = 0; r < R; r++) {
    const s = src + (<usize>(r * C) << 2);
    for (let c = 0; c < C; c++) store<f32>(dst + (<usize>(c * R + r) << 2), load<f32>(s + (<usize>c << 2)));
  }
}
