import { strict as assert } from 'assert';
import { tf, backendName, backendInfo } from '../lib/engine/backend';

describe('backend', () => {
  it('loads a working TensorFlow.js backend and reports it', () => {
    assert.ok(['cpu', 'tensorflow'].includes(backendName()), backendName());
    assert.match(backendInfo(), /^(cpu|tensorflow) /);
    const s = tf.tidy(() => tf.tensor1d([1, 2, 3.5]).sum().dataSync()[0]);
    assert.equal(s, 6.5);
  });
});
