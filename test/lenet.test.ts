import { strict as assert } from 'assert';
import { tf } from '../lib/engine/backend';
import { parameterGradients, lossValue } from '../lib/models/gradients';
import { gradientDistance } from '../lib/attacks/objective';
import { softmax, oneHot } from '../lib/models/nn';
import { lenet } from '../lib/models/lenet';
import { parameterCount, disposeModel } from '../lib/models/model';
import { loadGolden, goldenModel, goldenImages, goldenDummies, relativeError, toTorchLayout } from './golden';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

const golden = loadGolden('lenet.json');

describe('LeNet and DLG objective vs PyTorch golden values (float64 reference, rel. error < 1e-4)', () => {
  for (const c of golden.cases) {
    describe(c.name, () => {
      const model = goldenModel(c);
      const x = goldenImages(c);
      const target = oneHot(c.labels, c.numClasses);
      after(() => {
        disposeModel(model);
        tf.dispose([x, target]);
      });

      it('forward logits and loss', () => {
        const logits = tf.tidy(() => model.forward(x, model.params).dataSync());
        assert.ok(relativeError(logits, c.logits) < 1e-5, `logits rel err ${relativeError(logits, c.logits)}`);
        const loss = lossValue(model, x, target);
        assert.ok(Math.abs(loss - c.loss) / Math.abs(c.loss) < 1e-5, `loss ${loss} vs ${c.loss}`);
      });

      it('shared parameter gradients', () => {
        const grads = parameterGradients(model, x, target);
        grads.forEach((g, k) => {
          const ours = toTorchLayout(g);
          const ref = c.sharedGrads[k];
          if (ref !== null) {
            const err = relativeError(ours, ref);
            assert.ok(err < 1e-4, `${c.paramNames[k]} rel err ${err}`);
          } else {
            const sampled = ours.filter((_, i) => i % 13 === 0);
            const err = relativeError(sampled, c.fcWeightGradEvery13);
            assert.ok(err < 1e-4, `${c.paramNames[k]} (every 13th) rel err ${err}`);
          }
          const norm = Math.sqrt(ours.reduce((a, v) => a + v * v, 0));
          assert.ok(Math.abs(norm - c.sharedGradNorms[k]) / c.sharedGradNorms[k] < 1e-4, `${c.paramNames[k]} norm`);
        });
        tf.dispose(grads);
      });

      it('gradient distance and its gradients w.r.t. dummy image and dummy label (second order)', () => {
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
        assert.ok(Math.abs(d - c.distance) / c.distance < 1e-4, `distance ${d} vs ${c.distance}`);
        const ex = relativeError(gx, c.dDistance_dDummyImage);
        const ey = relativeError(gy, c.dDistance_dDummyLabel);
        assert.ok(ex < 1e-4, `dD/dx' rel err ${ex}`);
        assert.ok(ey < 1e-4, `dD/dy' rel err ${ey}`);
        tf.dispose([shared, image, label]);
      });
    });
  }
});

describe('LeNet construction', () => {
  it('has the original parameter count and Uniform(-0.5, 0.5) weights from the seed', () => {
    const m = lenet({ seed: 1234 });
    // 3*12*25+12 + 2*(12*12*25+12) + 768*100+100
    assert.equal(parameterCount(m), 912 + 2 * 3612 + 76900);
    const all = m.params.flatMap((p) => Array.from(p.dataSync()));
    assert.ok(Math.min(...all) >= -0.5 && Math.max(...all) < 0.5);
    const mean = all.reduce((a, v) => a + v, 0) / all.length;
    assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
    const again = lenet({ seed: 1234 });
    assert.deepEqual(Array.from(again.params[0].dataSync()), Array.from(m.params[0].dataSync()));
    const other = lenet({ seed: 1 });
    assert.notDeepEqual(Array.from(other.params[0].dataSync()), Array.from(m.params[0].dataSync()));
    [m, again, other].forEach(disposeModel);
  });

  it('adapts the linear layer to 28x28x1 and 8x8x1 inputs', () => {
    const m28 = lenet({ inputShape: [28, 28, 1], numClasses: 10 });
    assert.deepEqual(m28.params[6].shape, [12 * 7 * 7, 10]);
    const m8 = lenet({ inputShape: [8, 8, 1], numClasses: 10 });
    assert.deepEqual(m8.params[6].shape, [12 * 2 * 2, 10]);
    [m28, m8].forEach(disposeModel);
  });

  it('rejects bad shapes and options with clear errors', () => {
    assert.throws(() => lenet({ inputShape: [32, 32, 0] }), /inputShape must be 3 positive integers/);
    assert.throws(() => lenet({ numClasses: 1 }), /numClasses must be an integer >= 2/);
    assert.throws(() => lenet({ activation: 'gelu' as never }), /unknown activation 'gelu'/);
    const m = lenet();
    const bad = tf.zeros([1, 28, 28, 3]) as Tensor4D;
    assert.throws(() => parameterGradients(m, bad, oneHot([1], 100)), /expects input \[batch, 32, 32, 3\], got \[1,28,28,3\]/);
    assert.throws(() => oneHot([100], 100), /label 100 is not an integer in \[0, 99\]/);
    tf.dispose(bad);
    disposeModel(m);
  });
});
