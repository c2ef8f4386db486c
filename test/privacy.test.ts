/**
 * lib/analysis/privacy.ts: the RDP accountant of DP-SGD against dp_accounting 0.6.0 and Opacus 1.6
 * (test/golden/privacy_golden.py -> test/golden/privacy.json) and against the published examples of
 * TensorFlow Privacy, Opacus and Abadi et al. 2016.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import {
  DEFAULT_ORDERS, OPACUS_ORDERS, rdpSampledGaussian, rdpSteps, epsilonFromRdp, dpSgdEpsilon, gaussianRdpEpsilon,
  exactGaussianEpsilon, logErfc, logGamma,
} from '../lib/analysis/privacy';

type Num = number | 'inf' | '-inf';
interface Golden {
  dp_accounting: string;
  opacus: boolean;
  defaultOrders: number[];
  opacusOrders: number[];
  rdp: { q: number; sigma: number; rdp: Num[]; opacusRdp?: Num[] }[];
  epsilon: {
    q: number; sigma: number; steps: number; delta: number;
    improved: { epsilon: Num; order: number }; classic: { epsilon: Num; order: number };
    classicOpacusOrders: { epsilon: Num; order: number }; opacus?: { epsilon: Num; order: number };
  }[];
  gaussian: { sigma: number; delta: number; epsilon: Num }[];
}

const golden: Golden = JSON.parse(fs.readFileSync(path.join(__dirname, '../../test/golden/privacy.json'), 'utf8'));
const num = (v: Num): number => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v);
/**
 * RDP values agree when log A_a = (a - 1) rdp agrees to 1e-12 (absolute, or relative for |log A| > 1):
 * log A is a log-sum of O(1) terms, so float64 rounding leaves ~1e-16 absolute there, which is a large
 * relative error when the RDP itself is tiny (1e-5 at small orders).
 */
const sameRdp = (ours: number, ref: number, a: number, what: string) => {
  const logA = (ref * (a - 1));
  assert.ok(Math.abs(ours - ref) * (a - 1) <= 1e-12 * Math.max(1, Math.abs(logA)), `${what}: ${ours} vs ${ref} (log A differs by ${Math.abs(ours - ref) * (a - 1)})`);
};
const close = (a: number, b: number, rel: number, what: string) => {
  if (a === b) return;
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${what}: ${a} vs ${b} (relative ${Math.abs(a - b) / Math.abs(b)})`);
};

describe('privacy accountant (RDP of the sampled Gaussian mechanism)', () => {
  it('uses the orders of dp_accounting and Opacus', () => {
    assert.equal(golden.dp_accounting, '0.6.0');
    assert.deepEqual([...DEFAULT_ORDERS], golden.defaultOrders);
    assert.deepEqual([...OPACUS_ORDERS], golden.opacusOrders);
    assert.equal(DEFAULT_ORDERS.length, 156);
  });

  it('log erfc and log Gamma in float64 (closed forms)', () => {
    close(logErfc(0), 0, 0, 'log erfc(0)');
    close(logErfc(1), Math.log(0.157299207050285130658), 1e-15, 'log erfc(1)');
    close(logErfc(-1), Math.log(1.842700792949714869342), 1e-15, 'log erfc(-1)');
    close(logErfc(3), Math.log(2.20904969985854413727761e-5), 1e-14, 'log erfc(3)');
    // asymptotics: log erfc(x) = -x^2 - log(x sqrt(pi)) + log(1 - 1/(2x^2) + 3/(4x^4) - ...)
    const x = 1000;
    close(logErfc(x), -x * x - Math.log(x * Math.sqrt(Math.PI)) + Math.log1p(-1 / (2 * x * x) + 3 / (4 * x ** 4)), 1e-15, 'log erfc(1000)');
    close(logErfc(-40), Math.LN2, 0, 'log erfc(-40)');
    close(logGamma(5), Math.log(24), 1e-15, 'log Gamma(5)');
    close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-15, 'log Gamma(1/2)');
    close(logGamma(-0.5), Math.log(2 * Math.sqrt(Math.PI)), 1e-15, 'log |Gamma(-1/2)|');
    close(logGamma(101), [...Array(100)].reduce((s, _, i) => s + Math.log(i + 1), 0), 1e-14, 'log 100!');
  });

  it('one step, every order: equal to dp_accounting 0.6.0 (log A to 1e-12; RDP >= 1e-3 to 1e-11 relative), integer and fractional orders', () => {
    let worst = 0;
    for (const c of golden.rdp) {
      DEFAULT_ORDERS.forEach((a, k) => {
        const ours = rdpSampledGaussian(c.q, c.sigma, a);
        const ref = num(c.rdp[k]);
        if (ref === Infinity) {
          assert.equal(ours, Infinity, `q=${c.q} sigma=${c.sigma} order ${a}: reference did not converge, ours ${ours}`);
          return;
        }
        sameRdp(ours, ref, a, `q=${c.q} sigma=${c.sigma} order ${a}`);
        if (ref >= 1e-3) worst = Math.max(worst, Math.abs(ours - ref) / ref);
      });
    }
    assert.ok(worst < 1e-11, `worst relative difference ${worst}`);
  });

  it('integer orders equal Opacus 1.6 too (its fractional series keeps signs; dp_accounting sums magnitudes, an upper bound)', function () {
    if (!golden.opacus) this.skip();
    for (const c of golden.rdp) {
      OPACUS_ORDERS.forEach((a, k) => {
        const ref = num(c.opacusRdp![k]);
        const ours = rdpSampledGaussian(c.q, c.sigma, a);
        if (Number.isInteger(a)) sameRdp(ours, ref, a, `Opacus q=${c.q} sigma=${c.sigma} order ${a}`);
        else if (Number.isFinite(ours)) {
          const slack = (1e-12 * Math.max(1, Math.abs(ref * (a - 1)))) / (a - 1); // float64 rounding of log A, as in sameRdp
          assert.ok(ours >= ref - slack, `q=${c.q} sigma=${c.sigma} fractional order ${a}: ours ${ours} below Opacus ${ref}`);
        }
      });
    }
  });

  it('epsilon after T steps: dp_accounting (improved conversion, same optimal order) and the classic conversion', () => {
    for (const c of golden.epsilon) {
      const what = `q=${c.q} sigma=${c.sigma} T=${c.steps} delta=${c.delta}`;
      const imp = dpSgdEpsilon({ sigma: c.sigma, q: c.q, steps: c.steps, delta: c.delta });
      close(imp.epsilon, num(c.improved.epsilon), 1e-9, `${what} improved`);
      if (imp.epsilon > 0) assert.equal(imp.order, c.improved.order, `${what} improved order`);
      const cl = dpSgdEpsilon({ sigma: c.sigma, q: c.q, steps: c.steps, delta: c.delta, conversion: 'classic' });
      close(cl.epsilon, num(c.classic.epsilon), 1e-9, `${what} classic`);
      assert.equal(cl.order, c.classic.order, `${what} classic order`);
      const co = dpSgdEpsilon({ sigma: c.sigma, q: c.q, steps: c.steps, delta: c.delta, conversion: 'classic', orders: OPACUS_ORDERS });
      close(co.epsilon, num(c.classicOpacusOrders.epsilon), 1e-9, `${what} classic, Opacus orders`);
      assert.ok(imp.epsilon <= cl.epsilon, `${what}: the improved conversion is never looser`);
    }
  });

  // The published examples (delta = 1e-5), computed by their libraries with the classic conversion on
  // OPACUS_ORDERS (TensorFlow Privacy 2019, Opacus 0.x); rounded to 2 decimals there.
  const published: [string, number, number, number, number][] = [
    // [source, q, sigma, steps, epsilon]
    ['TensorFlow Privacy tutorials/README.md, MNIST, 60 epochs (N 60000, batch 256)', 256 / 60000, 1.1, Math.floor((60 * 60000) / 256), 3.01],
    ['TensorFlow Privacy tutorials/README.md, after 1 epoch', 256 / 60000, 1.1, Math.floor(60000 / 256), 1.03],
    ['TensorFlow Privacy tutorials/README.md, after 2 epochs', 256 / 60000, 1.1, Math.floor((2 * 60000) / 256), 1.11],
    ['TensorFlow Privacy tutorials/README.md table: sigma 1.3, 15 epochs', 256 / 60000, 1.3, Math.floor((15 * 60000) / 256), 1.19],
    ['TensorFlow Privacy tutorials/README.md table: sigma 0.7, 45 epochs', 256 / 60000, 0.7, Math.floor((45 * 60000) / 256), 7.1],
    ['Opacus examples/mnist_README.md: sigma 1.3, 15 epochs (batch 240)', 240 / 60000, 1.3, 15 * 250, 1.16],
    ['Opacus examples/mnist_README.md: after epoch 1 (alpha 18)', 240 / 60000, 1.3, 250, 0.71],
    ['Opacus examples/mnist_README.md: sigma 1.1, 60 epochs', 240 / 60000, 1.1, 60 * 250, 2.91],
    ['Opacus examples/mnist_README.md: sigma 0.7, 45 epochs', 240 / 60000, 0.7, 45 * 250, 6.86],
  ];
  for (const [source, q, sigma, steps, eps] of published) {
    it(`published: ${source}: epsilon ${eps}`, () => {
      const r = dpSgdEpsilon({ sigma, q, steps, delta: 1e-5, conversion: 'classic', orders: OPACUS_ORDERS });
      assert.ok(Math.abs(r.epsilon - eps) <= 0.005 + 1e-12, `classic epsilon ${r.epsilon} (order ${r.order}) vs published ${eps}`);
    });
  }

  it('published: Abadi et al. 2016 (q 0.01, sigma 4, T 10000, delta 1e-5): moments accountant 1.26; RDP classic 1.26, improved 1.04', () => {
    const cl = dpSgdEpsilon({ sigma: 4, q: 0.01, steps: 10000, delta: 1e-5, conversion: 'classic' });
    assert.ok(Math.abs(cl.epsilon - 1.26) < 0.005, `classic ${cl.epsilon}`);
    const imp = dpSgdEpsilon({ sigma: 4, q: 0.01, steps: 10000, delta: 1e-5 });
    assert.ok(Math.abs(imp.epsilon - 1.0355) < 1e-4, `improved ${imp.epsilon}`);
    // and far below strong composition's 9.34 quoted there
    assert.ok(imp.epsilon < 9.34 / 5);
  });

  it('a single shared step (q = 1, T = 1) is the Gaussian mechanism: rdp a/(2 sigma^2), epsilon min over orders', () => {
    for (const sigma of [0.1, 0.5, 1, 3, 10]) {
      const delta = 1e-5;
      for (const a of [1.5, 2, 7.3, 64]) assert.equal(rdpSampledGaussian(1, sigma, a), a / (2 * sigma * sigma));
      const classic = gaussianRdpEpsilon(sigma, delta, 'classic');
      const byHand = Math.min(...DEFAULT_ORDERS.map((a) => a / (2 * sigma * sigma) + Math.log(1 / delta) / (a - 1)));
      close(classic.epsilon, byHand, 1e-15, `classic, sigma ${sigma}`);
      // over all real orders the classic optimum is 1/(2 sigma^2) + sqrt(2 log(1/delta)) / sigma (at a = 1 + sigma sqrt(2 log(1/delta)))
      const continuous = 1 / (2 * sigma * sigma) + Math.sqrt(2 * Math.log(1 / delta)) / sigma;
      assert.ok(classic.epsilon >= continuous - 1e-12 && classic.epsilon < continuous * 1.02, `sigma ${sigma}: grid ${classic.epsilon} vs continuous ${continuous}`);
      const improved = gaussianRdpEpsilon(sigma, delta);
      assert.ok(improved.epsilon < classic.epsilon);
      const exact = exactGaussianEpsilon(sigma, delta);
      assert.ok(exact <= improved.epsilon, `sigma ${sigma}: the exact epsilon ${exact} is the smallest (RDP ${improved.epsilon})`);
    }
    assert.equal(gaussianRdpEpsilon(1, 1e-5).epsilon, dpSgdEpsilon({ sigma: 1, q: 1, steps: 1, delta: 1e-5 }).epsilon);
  });

  it('the exact Gaussian epsilon (analytic Gaussian mechanism) equals dp_accounting get_epsilon_gaussian to 1e-9', () => {
    for (const c of golden.gaussian) close(exactGaussianEpsilon(c.sigma, c.delta), num(c.epsilon), 1e-9, `sigma ${c.sigma} delta ${c.delta}`);
    assert.equal(exactGaussianEpsilon(0, 1e-5), Infinity);
    assert.equal(exactGaussianEpsilon(1, 1), 0);
  });

  it('corner cases: no noise, no sampling, no steps, delta 0; monotone in sigma, q and steps', () => {
    assert.equal(rdpSampledGaussian(0.1, 0, 2), Infinity);
    assert.equal(dpSgdEpsilon({ sigma: 0, q: 0.1, steps: 10, delta: 1e-5 }).epsilon, Infinity);
    assert.equal(dpSgdEpsilon({ sigma: 0, q: 0.1, steps: 10, delta: 1e-5 }).order, null);
    assert.equal(rdpSampledGaussian(0, 1, 2), 0);
    assert.equal(dpSgdEpsilon({ sigma: 1, q: 0.1, steps: 0, delta: 1e-5 }).epsilon, 0);
    assert.equal(dpSgdEpsilon({ sigma: 1, q: 0.1, steps: 10, delta: 0 }).epsilon, Infinity);
    const eps = (sigma: number, q: number, steps: number) => dpSgdEpsilon({ sigma, q, steps, delta: 1e-5 }).epsilon;
    assert.ok(eps(1, 0.01, 1000) > eps(2, 0.01, 1000));
    assert.ok(eps(1, 0.01, 1000) < eps(1, 0.02, 1000));
    assert.ok(eps(1, 0.01, 1000) < eps(1, 0.01, 2000));
    assert.deepEqual(rdpSteps(0.01, 1, 3, [2, 3]), [3 * rdpSampledGaussian(0.01, 1, 2), 3 * rdpSampledGaussian(0.01, 1, 3)]);
  });

  it('rejects bad input with one clear message', () => {
    assert.throws(() => rdpSampledGaussian(1.5, 1, 2), /sampling rate q must be in \[0, 1\], got 1.5/);
    assert.throws(() => rdpSampledGaussian(0.1, -1, 2), /noise multiplier sigma must be >= 0, got -1/);
    assert.throws(() => rdpSampledGaussian(0.1, 1, 1), /RDP orders must be > 1, got 1/);
    assert.throws(() => rdpSteps(0.1, 1, 1.5), /steps must be an integer >= 0, got 1.5/);
    assert.throws(() => epsilonFromRdp([2, 3], [1], 1e-5), /2 orders but 1 RDP values/);
    assert.throws(() => epsilonFromRdp([2], [1], 1), /delta must be in \[0, 1\), got 1/);
    assert.throws(() => epsilonFromRdp([2], [1], 1e-5, 'tight' as never), /conversion must be 'improved' or 'classic'/);
  });
});
