import { strict as assert } from 'assert';
import * as path from 'path';
import { tf } from '../lib/engine';
import { loadImage, fromTensorData } from '../lib/data/image';
import { makeCase, disposeCase } from '../lib/cases/case';
import { dense } from '../lib/models/dense';
import { inputFromDenseGradient } from '../lib/attacks/analytic';
import { mse } from '../lib/analysis/metrics';

const photo = (name: string) => loadImage(path.join(__dirname, '../../datasets/natural', name + '.png'), { size: 32, channels: 3 });

describe('reading a dense layer\'s input off its gradient (notebook 00)', () => {
  it('one image: x = column j of dL/dW / (dL/db)_j, exact to float32 rounding, for every column', () => {
    const truth = photo('astronaut');
    const layer = dense({ inputShape: [32, 32, 3], numClasses: 100, seed: 1 });
    const c = makeCase({ images: [truth], labels: [7], seed: 1, model: layer });
    let worst = 0;
    for (let j = 0; j < 100; j++) {
      const r = inputFromDenseGradient(c.shared[0], c.shared[1], j);
      r.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - truth.data[i]))));
    }
    assert.ok(worst < 1e-6, `max abs error ${worst}`);
    assert.equal(inputFromDenseGradient(c.shared[0], c.shared[1]).column, 7, 'the largest |dL/db| is the true class');
    disposeCase(c);
  });

  it('a batch of two: the true class column leans to its own image, another column gives the average', () => {
    const a = photo('astronaut');
    const b = photo('coffee');
    const layer = dense({ inputShape: [32, 32, 3], numClasses: 100, seed: 1 });
    const c = makeCase({ images: [a, b], labels: [7, 3], seed: 1, model: layer });
    const at = (j: number) => fromTensorData(inputFromDenseGradient(c.shared[0], c.shared[1], j).data, 32, 32, 3);
    const avg = { ...a, data: a.data.map((v, i) => (v + b.data[i]) / 2) };
    const m7 = [mse(at(7), a), mse(at(7), b)];
    const m50 = [mse(at(50), a), mse(at(50), b), mse(at(50), avg)];
    assert.ok(m7[0] > 1e-6 && m7[0] < 1e-4 && m7[1] > 0.1, JSON.stringify(m7));
    assert.ok(m50[2] < 5e-3 && m50[2] < m50[0] && m50[2] < m50[1], JSON.stringify(m50));
    disposeCase(c);
  });

  it('bad input: clear errors', () => {
    const g = tf.zeros([4, 3]);
    assert.throws(() => inputFromDenseGradient(tf.zeros([4]), tf.zeros([3])), /weight gradient must be \[inputs, classes\]/);
    assert.throws(() => inputFromDenseGradient(g, tf.zeros([4])), /bias gradient must be \[3\], got \[4\]/);
    assert.throws(() => inputFromDenseGradient(g, tf.zeros([3]), 5), /column must be an integer in \[0, 2\], got 5/);
    assert.throws(() => inputFromDenseGradient(g, tf.zeros([3]), 1), /dL\/db_1 is 0/);
    assert.throws(() => dense({ inputShape: [0, 2, 1], numClasses: 3, seed: 1 }), /inputShape must be 3 positive integers/);
    assert.throws(() => dense({ inputShape: [2, 2, 1], numClasses: 1, seed: 1 }), /numClasses must be an integer >= 2/);
    tf.dispose(g);
  });
});
