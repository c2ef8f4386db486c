/** The model registry (lib/models/index.ts): MODELS and makeModel(). */
import { strict as assert } from 'assert';
import { tf } from '../lib/engine/backend';
import { MODELS, MODEL_NAMES, makeModel, isModelName } from '../lib/models';
import type { ModelOptions } from '../lib/models';
import { lenet } from '../lib/models/lenet';
import { resnet56 } from '../lib/models/resnet';
import { disposeModel, parameterCount } from '../lib/models/model';

const base: ModelOptions = { inputShape: [8, 8, 3], numClasses: 10, seed: 3 };

describe('model registry', () => {
  it('lists lenet, resnet20, resnet32, resnet56 and resnet18-released', () => {
    assert.deepEqual(MODEL_NAMES, ['lenet', 'resnet20', 'resnet32', 'resnet56', 'resnet18-released']);
    for (const name of MODEL_NAMES) assert.ok(MODELS[name].description.length > 20, name);
    assert.ok(isModelName('resnet56') && !isModelName('resnet50') && !isModelName('toString'));
  });

  it('builds each model as its factory does (same seed, same parameters), tensor counts flat', () => {
    const before = tf.memory().numTensors;
    const a = makeModel('lenet', { ...base, activation: 'tanh' });
    const b = lenet({ ...base, activation: 'tanh' });
    assert.equal(a.name, b.name);
    assert.deepEqual(Array.from(a.params[0].dataSync()), Array.from(b.params[0].dataSync()));
    const c = makeModel('resnet56', { ...base, strides: 'kept', batchNorm: false, shortcut: 'projection', init: 'pytorch' });
    const d = resnet56({ ...base, strides: 'kept', batchNorm: false, shortcut: 'projection', init: 'pytorch' });
    assert.equal(c.name, d.name);
    assert.equal(parameterCount(c), 853642);
    assert.deepEqual(Array.from(c.params[5].dataSync()), Array.from(d.params[5].dataSync()));
    for (const name of MODEL_NAMES) {
      const m = makeModel(name, { ...base, inputShape: [4, 4, 3] });
      assert.equal(m.numClasses, 10);
      assert.deepEqual(m.inputShape, [4, 4, 3]);
      disposeModel(m);
    }
    [a, b, c, d].forEach(disposeModel);
    assert.equal(tf.memory().numTensors, before);
  });

  it('refuses unknown names, missing sizes, options a model does not take and bad values, with one clear line', () => {
    assert.throws(() => makeModel('resnet50', base), /^Error: unknown model 'resnet50' \(known: lenet, resnet20, resnet32, resnet56, resnet18-released\)$/);
    assert.throws(() => makeModel('resnet20', { numClasses: 10, seed: 1 } as never), /makeModel\('resnet20'\): inputShape is required/);
    assert.throws(() => makeModel('lenet', { inputShape: [8, 8, 1], numClasses: 10 } as never), /makeModel\('lenet'\): seed is required/);
    assert.throws(() => makeModel('lenet', { ...base, strides: 'kept' }), /model lenet has no option 'strides' \(its options: activation; all models: inputShape, numClasses, seed\)/);
    assert.throws(() => makeModel('resnet18-released', { ...base, activation: 'relu' }), /model resnet18-released has no option 'activation' \(its options: init;/);
    assert.throws(() => makeModel('resnet20', { ...base, depth: 44 } as never), /model resnet20 has no option 'depth'/);
    assert.throws(() => makeModel('resnet32', { ...base, strides: 'none' as never }), /resnet32: strides must be 'removed' or 'kept', got 'none'/);
    assert.throws(() => makeModel('resnet20', null as never), /options must be an object/);
    // an option given as undefined means "the default"
    const m = makeModel('lenet', { ...base, activation: undefined, strides: undefined });
    disposeModel(m);
  });
});
