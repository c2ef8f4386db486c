/**
 * The float64 multiply-add every f64x2 kernel here uses: acc + v * w as a multiply, then an add,
 * rounded twice (no fused multiply-add, which JavaScript has not), so that a kernel gives its JS
 * loops' numbers bit for bit.
 */

// @ts-ignore: decorator
@inline export function mac64(acc: v128, v: v128, w: v128): v128 {
  return f64x2.add(acc, f64x2.mul(v, w));
}
