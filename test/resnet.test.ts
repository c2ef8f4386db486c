/**
 * The ResNets of lib/models/resnet.ts against PyTorch float64 golden values
 * (test/golden/resnet_golden.py -> test/golden/resnet.json), and their construction.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { tf } from '../lib/engine/backend';
import { parameterGradients, lossValue } from '../lib/models/gradients';
import { gradientDistance } from '../lib/attacks/objective';
import { softmax, oneHot } from '../lib/models/nn';
import { resnet, resnet20, resnet32, resnet56, resnet18Released } from '../lib/models/resnet';
import type { ResNetStrides, ResNetShortcut } from '../lib/models/resnet';
import { parameterCount, disposeModel } from '../lib/models/model';
import type { Model, ActivationName } from '../lib/models/model';
import { withClosedFormParams, goldenImages, goldenDummies, relativeError, toTorchLayout } from './golden';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

interface SampledGrad { every: number; values: number[]; norm: number; probe: number }
interface ResNetGoldenCase {
  name: string;
  model: { kind: 'resnet' | 'resnet18-released'; depth?: number; activation?: ActivationName; batchNorm?: boolean; shortcut?: ResNetShortcut; strides?: ResNetStrides };
  channels: number;
  size: number;
  numClasses: number;
  labels: number[];
  paramCount: number;
  paramNames: string[];
  paramShapes: number[][];
  logits: number[];
  loss: number;
  sharedGrads: SampledGrad[];
  distance: number;
  dDistance_dDummyImage: number[];
  dDistance_dDummyLabel: number[];
}

const golden = JSON.parse(fs.readFileSync(path.join(__dirname, '../../test/golden/resnet.json'), 'utf8')) as { torch: string; cases: ResNetGoldenCase[] };

/** The case's model with the generator's closed-form weights. */
function goldenResNet(c: ResNetGoldenCase): Model {
  const inputShape: [number, number, number] = [c.size, c.size, c.channels];
  const m = c.model;
  const base = m.kind === 'resnet'
    ? resnet(m.depth as number, { inputShape, numClasses: c.numClasses, activation: m.activation, batchNorm: m.batchNorm, shortcut: m.shortcut, strides: m.strides })
    : resnet18Released({ inputShape, numClasses: c.numClasses });
  return withClosedFormParams(base, c.paramShapes);
}

/** PyTorch layout shape -> tfjs layout shape (OIHW -> HWIO, [out, in] -> [in, out]). */
function tfShape(torchShape: number[]): number[] {
  if (torchShape.length === 4) return [torchShape[2], torchShape[3], torchShape[1], torchShape[0]];
  if (torchShape.length === 2) return [torchShape[1], torchShape[0]];
  return torchShape;
}

/** The generator's probe sin(0.37 n + 0.2). */
function probeDot(values: Float32Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] * Math.sin(0.37 * i + 0.2);
  return s;
}

/**
 * float32 against float64 through up to 20 layers and a second-order backward: the error is rounding,
 * and it depends on the summation order of the convolution kernels (the wasm SIMD kernels sum in
 * blocks of 4 lanes; measured worst case 1.7e-4 on ResNet-18's 9x9 input). A wrong gradient is off by
 * far more (a wrong op gives errors of order 1e-2 to 1).
 */
const TOL = 3e-4;

/** relativeError, or the absolute error norm where the reference is exactly 0 (ReLU: dead units have 0 gradients). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ref = 0;
  for (let i = 0; i < b.length; i++) ref += b[i] * b[i];
  if (ref > 0) return relativeError(a, b);
  let abs = 0;
  for (let i = 0; i < a.length; i++) abs += a[i] * a[i];
  return Math.sqrt(abs);
}

describe(`ResNets vs PyTorch ${golden.torch} float64 golden values (rel. error < ${TOL})`, function () {
  this.timeout(600000);
  for (const c of golden.cases) {
    describe(c.name, () => {
      let model: Model;
      let x: Tensor4D;
      let target: Tensor2D;
      before(() => {
        model = goldenResNet(c);
        x = goldenImages(c);
        target = oneHot(c.labels, c.numClasses);
      });
      after(() => {
        disposeModel(model);
        tf.dispose([x, target]);
      });

      it('has PyTorch\'s parameter names, order, shapes and count', () => {
        assert.deepEqual(model.paramNames, c.paramNames);
        assert.deepEqual(model.params.map((p) => p.shape), c.paramShapes.map(tfShape));
        assert.equal(parameterCount(model), c.paramCount);
      });

      it('forward logits and loss', () => {
        const before = tf.memory().numTensors;
        const logits = tf.tidy(() => model.forward(x, model.params).dataSync());
        const err = relativeError(logits, c.logits);
        assert.ok(err < TOL, `logits rel err ${err}`);
        const loss = lossValue(model, x, target);
        assert.ok(Math.abs(loss - c.loss) / Math.abs(c.loss) < TOL, `loss ${loss} vs ${c.loss}`);
        assert.equal(tf.memory().numTensors, before);
      });

      it('every parameter gradient (sampled entries, norm, probe dot product)', () => {
        const before = tf.memory().numTensors;
        const grads = parameterGradients(model, x, target);
        grads.forEach((g, k) => {
          const ref = c.sharedGrads[k];
          const ours = toTorchLayout(g);
          const sampled = ours.filter((_, i) => i % ref.every === 0);
          const err = relErr(sampled, ref.values);
          assert.ok(err < TOL, `${c.paramNames[k]} rel err ${err}`);
          const norm = Math.sqrt(ours.reduce((a, v) => a + v * v, 0));
          const scale = ref.norm > 0 ? ref.norm : 1;
          assert.ok(Math.abs(norm - ref.norm) / scale < TOL, `${c.paramNames[k]} norm ${norm} vs ${ref.norm}`);
          // |<g - g_ref, p>| / (|g| |p|) with |p| ~ sqrt(n / 2): a cancellation-proof relative error of the dot product
          const probeErr = Math.abs(probeDot(ours) - ref.probe) / (scale * Math.sqrt(ours.length / 2));
          assert.ok(probeErr < TOL, `${c.paramNames[k]} probe dot ${probeDot(ours)} vs ${ref.probe}`);
        });
        tf.dispose(grads);
        assert.equal(tf.memory().numTensors, before);
      });

      it('gradient distance and its gradients w.r.t. the dummy image and the dummy label (second order)', () => {
        const before = tf.memory().numTensors;
        const shared = parameterGradients(model, x, target);
        const { image, label } = goldenDummies(c);
        const objective = (xd: Tensor, yd: Tensor) =>
          gradientDistance(parameterGradients(model, xd as Tensor4D, softmax(yd as Tensor2D)), shared);
        let d = 0;
        let gx: ArrayLike<number> = [];
        let gy: ArrayLike<number> = [];
        tf.tidy(() => {
          const { value, grads } = tf.valueAndGrads(objective)([image, label]);
          d = value.dataSync()[0];
          gx = tf.transpose(grads[0], [0, 3, 1, 2]).dataSync(); // PyTorch's dummy-image gradient is NCHW
          gy = grads[1].dataSync();
        });
        tf.dispose([shared, image, label]);
        assert.ok(Math.abs(d - c.distance) / c.distance < TOL, `distance ${d} vs ${c.distance}`);
        const ex = relativeError(gx, c.dDistance_dDummyImage);
        const ey = relativeError(gy, c.dDistance_dDummyLabel);
        assert.ok(ex < TOL, `dD/dx' rel err ${ex}`);
        assert.ok(ey < TOL, `dD/dy' rel err ${ey}`);
        assert.equal(tf.memory().numTensors, before);
      });
    });
  }
});

describe('ResNet construction', () => {
  const shape32: [number, number, number] = [32, 32, 3];

  it("has He et al.'s parameter counts (ResNet-20/32/56: 0.27M / 0.46M / 0.85M) and the released ResNet-18's", () => {
    const before = tf.memory().numTensors;
    const count = (m: Model) => {
      const n = parameterCount(m);
      disposeModel(m);
      return n;
    };
    // counts of the PyTorch modules of test/golden/resnet_golden.py (10 classes)
    assert.equal(count(resnet20({ numClasses: 10 })), 269722);
    assert.equal(count(resnet32({ numClasses: 10 })), 464154);
    assert.equal(count(resnet56({ numClasses: 10 })), 853018);
    assert.equal(count(resnet56({ numClasses: 10, shortcut: 'projection' })), 855770);
    assert.equal(count(resnet56({ numClasses: 10, batchNorm: false })), 850986);
    assert.equal(count(resnet32({ numClasses: 10, batchNorm: false, shortcut: 'projection', strides: 'kept' })), 465674);
    // 4x4 input: the released Linear(512, classes); 32x32: the 8x8x512 pooled map flattened
    assert.equal(count(resnet18Released({ inputShape: [4, 4, 3], numClasses: 10 })), 11173962);
    assert.equal(count(resnet18Released({ inputShape: shape32, numClasses: 100 })), 14445732);
    assert.equal(tf.memory().numTensors, before);
  });

  it("init 'dlg': every parameter ~ U(-0.5, 0.5) from the seed; 'pytorch': U(+-1/sqrt(fan_in)), BatchNorm 1 and 0", () => {
    const m = resnet20({ inputShape: [8, 8, 3], numClasses: 10, seed: 7, init: 'dlg' });
    const all = m.params.flatMap((p) => Array.from(p.dataSync()));
    assert.ok(all.every((v) => v >= -0.5 && v < 0.5));
    assert.ok(Math.abs(all.reduce((a, v) => a + v, 0) / all.length) < 0.01);
    assert.ok(Math.abs(all.reduce((a, v) => a + v * v, 0) / all.length - 1 / 12) < 0.002, 'variance of U(-0.5, 0.5) is 1/12');
    const again = resnet20({ inputShape: [8, 8, 3], numClasses: 10, seed: 7, init: 'dlg' });
    assert.deepEqual(Array.from(again.params[3].dataSync()), Array.from(m.params[3].dataSync()));
    const other = resnet20({ inputShape: [8, 8, 3], numClasses: 10, seed: 8, init: 'dlg' });
    assert.notDeepEqual(Array.from(other.params[3].dataSync()), Array.from(m.params[3].dataSync()));

    const t = resnet20({ inputShape: [8, 8, 3], numClasses: 10, seed: 7 }); // 'pytorch' is the default
    const byName = (name: string) => Array.from(t.params[t.paramNames.indexOf(name)].dataSync());
    const maxAbs = (v: number[]) => v.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
    assert.ok(maxAbs(byName('conv1.weight')) <= 1 / Math.sqrt(27) && maxAbs(byName('conv1.weight')) > 0.9 / Math.sqrt(27));
    assert.ok(maxAbs(byName('layer3.2.conv2.weight')) <= 1 / Math.sqrt(576));
    assert.ok(maxAbs(byName('linear.weight')) <= 1 / 8 && maxAbs(byName('linear.bias')) <= 1 / 8);
    assert.deepEqual(byName('layer2.0.bn1.weight'), new Array(32).fill(1));
    assert.deepEqual(byName('layer2.0.bn1.bias'), new Array(32).fill(0));
    const nobn = resnet20({ inputShape: [8, 8, 3], numClasses: 10, init: 'pytorch', batchNorm: false });
    const bias = Array.from(nobn.params[nobn.paramNames.indexOf('layer1.0.conv1.bias')].dataSync());
    assert.ok(maxAbs(bias) <= 1 / 12 && maxAbs(bias) > 0, 'conv biases ~ U(+-1/sqrt(16 * 9))');
    [m, again, other, t, nobn].forEach(disposeModel);
  });

  it('names the stage-entry shortcut parameters as PyTorch (projection) and has none for option A', () => {
    const a = resnet20({ inputShape: [8, 8, 3], numClasses: 10 });
    assert.equal(a.paramNames.filter((n) => n.includes('shortcut')).length, 0);
    const b = resnet20({ inputShape: [8, 8, 3], numClasses: 10, shortcut: 'projection', batchNorm: false });
    assert.deepEqual(b.paramNames.filter((n) => n.includes('shortcut')), ['layer2.0.shortcut.0.weight', 'layer2.0.shortcut.0.bias', 'layer3.0.shortcut.0.weight', 'layer3.0.shortcut.0.bias']);
    assert.deepEqual(b.params[b.paramNames.indexOf('layer3.0.shortcut.0.weight')].shape, [1, 1, 32, 64]);
    [a, b].forEach(disposeModel);
  });

  it('forward: logits [batch, classes] for strides removed and kept, odd sizes and one channel, tensor counts flat', () => {
    for (const [opts, input] of [[{ strides: 'kept' }, [2, 7, 5, 1]], [{ strides: 'removed' }, [1, 5, 6, 1]]] as const) {
      const m = resnet20({ inputShape: [input[1], input[2], input[3]], numClasses: 4, ...opts });
      const before = tf.memory().numTensors;
      const shape = tf.tidy(() => m.forward(tf.ones(input as unknown as [number, number, number, number]) as Tensor4D, m.params).shape);
      assert.deepEqual(shape, [input[0], 4]);
      assert.equal(tf.memory().numTensors, before);
      disposeModel(m);
    }
  });

  it('rejects bad options with one clear line', () => {
    assert.throws(() => resnet(21), /depth must be 6n \+ 2 with n >= 1/);
    assert.throws(() => resnet(2), /depth must be 6n \+ 2/);
    assert.throws(() => resnet20({ strides: 'half' as never }), /resnet20: strides must be 'removed' or 'kept', got 'half'/);
    assert.throws(() => resnet20({ batchNorm: 'yes' as never }), /resnet20: batchNorm must be true or false/);
    assert.throws(() => resnet20({ shortcut: 'C' as never }), /resnet20: shortcut must be 'identity' or 'projection', got 'C'/);
    assert.throws(() => resnet56({ init: 'kaiming' as never }), /resnet56: init must be 'dlg' or 'pytorch', got 'kaiming'/);
    assert.throws(() => resnet32({ activation: 'gelu' as never }), /resnet32: unknown activation 'gelu'/);
    assert.throws(() => resnet20({ inputShape: [32, 32] as never }), /resnet20: inputShape must be 3 positive integers/);
    assert.throws(() => resnet20({ numClasses: 1 }), /numClasses must be an integer >= 2/);
    assert.throws(() => resnet20({ seed: 0.5 }), /seed must be an integer/);
    assert.throws(() => resnet18Released({ inputShape: [3, 3, 3] }), /resnet18-released: inputShape 3x3 is too small for the 4x4 average pool/);
  });

  it("BatchNorm refuses a single value per channel (PyTorch's training-mode rule): a 1x1 input of one image", () => {
    const m = resnet20({ inputShape: [1, 1, 3], numClasses: 10 });
    const x = tf.ones([1, 1, 1, 3]) as Tensor4D;
    const y = oneHot([1], 10);
    assert.throws(() => parameterGradients(m, x, y), /batchNorm: expected more than 1 value per channel in training mode, got input \[1,1,1,16\]/);
    tf.dispose([x, y]);
    disposeModel(m);
  });
});

describe('what a BatchNorm ResNet\'s gradient cannot tell: the input\'s scale', () => {
  it('training-mode BatchNorm after the bias-free first conv: the same gradient for x and 3x up to eps (not without BatchNorm)', () => {
    const gap = (batchNorm: boolean) => {
      const m = resnet20({ inputShape: [6, 6, 3], numClasses: 10, seed: 2, batchNorm, strides: 'kept' });
      const errors = tf.tidy(() => {
        const x = tf.tensor4d(Array.from({ length: 108 }, (_, i) => 0.5 + 0.4 * Math.sin(0.7 * i)), [1, 6, 6, 3]);
        const y = oneHot([4], 10);
        const a = parameterGradients(m, x, y);
        const b = parameterGradients(m, tf.mul(x, 3) as Tensor4D, y);
        return a.map((t, k) => relativeError(b[k].dataSync(), t.dataSync()));
      });
      disposeModel(m);
      return Math.max(...errors); // the largest over the parameter tensors (conv1.weight's without BatchNorm)
    };
    const withBn = gap(true);
    const withoutBn = gap(false);
    // equal up to BatchNorm's eps (1e-5 added to the variances): measured 7.6e-4 with, 1.8 without
    assert.ok(withBn < 2e-3, `with BatchNorm: relative gradient difference ${withBn}`);
    assert.ok(withoutBn > 0.5, `without BatchNorm: relative gradient difference only ${withoutBn}`);
  });
});
