import { strict as assert } from 'assert';
import { tf } from '../lib/engine';
import { lenet } from '../lib/models/lenet';
import { parameterGradients } from '../lib/models/gradients';
import { oneHot } from '../lib/models/nn';
import { disposeModel } from '../lib/models/model';
import type { ActivationName } from '../lib/models/model';
import { fusedObjective } from '../lib/engine/fused';
import type { FusedObjective } from '../lib/engine/fused';
import { invertingObjective, addTotalVariation, totalVariation } from '../lib/attacks/inverting';
import { flatObjective } from '../lib/attacks/objective';
import { createRng, uniformArray } from '../lib/rng';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';

interface Setting {
  size: number;
  batch: number;
  activation: ActivationName;
  label: 'joint' | 'fixed';
  weighted: boolean;
}

/** A LeNet case of `s`, the point x, and the tfjs autodiff reference of Inverting Gradients' cosine objective (TV 0) there. */
function setting(s: Setting, seed: number) {
  const model = lenet({ inputShape: [s.size, s.size, 3], numClasses: 10, seed, activation: s.activation });
  const rng = createRng(seed);
  const nImage = s.batch * s.size * s.size * 3;
  const images = tf.tensor4d(uniformArray(rng, nImage, 0, 1), [s.batch, s.size, s.size, 3]) as Tensor4D;
  const target = oneHot(Array.from({ length: s.batch }, (_, i) => (3 * i + 1) % 10), 10);
  const shared = tf.tidy(() => parameterGradients(model, images, target));
  const weights = s.weighted ? model.params.map((_, i) => 0.5 + (i % 3) * 0.75) : undefined;
  const x = Float64Array.from({ length: nImage + (s.label === 'joint' ? s.batch * 10 : 0) }, (_, i) => (i < nImage ? rng.next() : rng.normal()));
  const ref = new Float64Array(x.length);
  const objective = invertingObjective(model, shared, { tv: 0, weights, target: s.label === 'fixed' ? target : undefined });
  const dRef = flatObjective(objective, [s.batch, s.size, s.size, 3], s.label === 'joint' ? 10 : 0, ref)(x);
  const make = (kernels: 'wasm' | 'js') =>
    fusedObjective(model, shared, { batchSize: s.batch, label: s.label, target: s.label === 'fixed' ? target.dataSync() : undefined, kernels, distance: 'cosine', weights }) as FusedObjective;
  const done = () => {
    tf.dispose([images, target, ...shared]);
    disposeModel(model);
  };
  return { x, ref, dRef, make, model, shared, target, done };
}

function relError(a: Float64Array, b: Float64Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

describe('fused objective, distance cosine (lib/engine/fused-cosine.ts): Inverting Gradients\' objective', function () {
  this.timeout(120_000);
  const settings: Setting[] = [
    { size: 32, batch: 1, activation: 'sigmoid', label: 'fixed', weighted: false },
    { size: 16, batch: 2, activation: 'relu', label: 'joint', weighted: true },
    { size: 8, batch: 1, activation: 'tanh', label: 'fixed', weighted: true },
    { size: 12, batch: 3, activation: 'sigmoid', label: 'joint', weighted: false },
  ];
  for (const s of settings) {
    it(`${s.size}x${s.size} batch ${s.batch} ${s.activation}, ${s.label} label${s.weighted ? ', weighted' : ''}: value and gradient = tfjs autodiff of invertingObjective (rel. < 1e-5), wasm and JS kernels`, () => {
      const c = setting(s, 7 + s.size);
      for (const kernels of ['wasm', 'js'] as const) {
        const f = c.make(kernels);
        assert.equal(f.kernels, kernels);
        const g = new Float64Array(f.size);
        const d = f.evaluate(c.x, g);
        assert.ok(Math.abs(d - c.dRef) < 1e-5 * Math.abs(c.dRef), `${kernels}: D ${d} vs autodiff ${c.dRef}`);
        const e = relError(g, c.ref);
        assert.ok(e < 1e-5, `${kernels}: gradient relative error ${e}`);
        // a second evaluation at the same point gives the same numbers (the buffers are rewritten, not accumulated)
        const g2 = new Float64Array(f.size);
        assert.equal(f.evaluate(c.x, g2), d);
        assert.deepEqual(Array.from(g2), Array.from(g));
      }
      c.done();
    });
  }

  it('the gradient agrees with central finite differences along random directions (rel. < 2e-3; float32 inside)', () => {
    for (const s of [settings[0], settings[3]]) { // smooth activations (a ReLU kink between x - eps v and x + eps v breaks a difference quotient)
      const c = setting(s, 21);
      const f = c.make('wasm');
      const g = new Float64Array(f.size);
      f.evaluate(c.x, g);
      const rng = createRng(5);
      for (let trial = 0; trial < 3; trial++) {
        const v = Float64Array.from({ length: f.size }, () => rng.normal());
        const at = (eps: number) => f.evaluate(c.x.map((xi, i) => xi + eps * v[i]), new Float64Array(f.size));
        const eps = 1e-3;
        const numeric = (at(eps) - at(-eps)) / (2 * eps);
        const analytic = g.reduce((acc, gi, i) => acc + gi * v[i], 0);
        const err = Math.abs(analytic - numeric) / Math.abs(numeric);
        assert.ok(err < 2e-3, `${s.size}x${s.batch} trial ${trial}: analytic ${analytic}, numeric ${numeric}, rel. ${err}`);
      }
      c.done();
    }
  });

  it('addTotalVariation: the value and gradient of totalVariation under tfjs autodiff (no zero differences), scaled by alpha', () => {
    const shape: [number, number, number, number] = [2, 5, 4, 3];
    const n = shape.reduce((a, b) => a * b);
    const rng = createRng(3);
    const x = Float64Array.from({ length: n }, () => rng.next());
    const grad = new Float64Array(n).fill(0.25);
    const alpha = 0.7;
    const value = addTotalVariation(x, shape, alpha, grad);
    let ref = NaN;
    let refGrad = new Float64Array(0);
    tf.tidy(() => {
      const xt = tf.tensor4d(Float32Array.from(x), shape);
      const { value: v, grad: gr } = tf.valueAndGrad((t: Tensor) => totalVariation(t as Tensor4D))(xt);
      ref = v.dataSync()[0];
      refGrad = Float64Array.from(gr.dataSync());
    });
    assert.ok(Math.abs(value - alpha * ref) < 1e-6 * alpha * ref, `${value} vs ${alpha * ref}`);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(grad[i] - 0.25 - alpha * refGrad[i]) < 1e-6, `entry ${i}: ${grad[i] - 0.25} vs ${alpha * refGrad[i]}`);
    // equal neighbours: |.| has derivative 0 there (torch's convention)
    const flat = new Float64Array(n).fill(0.5);
    const g0 = new Float64Array(n);
    assert.equal(addTotalVariation(flat, shape, alpha, g0), 0);
    assert.ok(g0.every((v) => v === 0));
  });

  it('rejects bad options with one clear line', () => {
    const c = setting(settings[2], 3);
    const base = { batchSize: 1, label: 'fixed' as const, target: c.target.dataSync() };
    assert.throws(() => fusedObjective(c.model, c.shared, { ...base, distance: 'l1' as never }), /^Error: fusedObjective: distance must be 'l2' or 'cosine', got 'l1'$/);
    assert.throws(() => fusedObjective(c.model, c.shared, { ...base, weights: [1] }), /weights are for distance 'cosine' only/);
    assert.throws(() => fusedObjective(c.model, c.shared, { ...base, distance: 'cosine', weights: [1, 2] }), /weights must be 8 numbers >= 0 \(one per parameter tensor\), got \[1,2\]/);
    assert.throws(() => fusedObjective(c.model, c.shared, { ...base, distance: 'cosine', weights: [1, 1, 1, 1, 1, 1, 1, -1] }), /weights must be 8 numbers >= 0/);
    c.done();
  });
});
