import { strict as assert } from 'assert';
import { dlgCli, ASTRONAUT, assertUsageError } from './dlg-cli';

describe('npm run dlg -- --defense SPEC (command line)', () => {
  it('--defense prune:0.3: the attack runs on the pruned gradient and the JSON line names the defense', () => {
    const r = dlgCli(['--image', ASTRONAUT, '--label', '7', '--iterations', '3', '--defense', 'prune:0.3', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', '--json prints nothing else');
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const j = JSON.parse(lines[0]);
    assert.equal(j.defense, 'prune:0.3');
    assert.equal(j.iterations, 3);
    for (const k of ['mse', 'psnr', 'ssim', 'label', 'label_ok', 'gradient_distance', 'seed']) assert.ok(k in j, `missing ${k}`);
    // Same seed without a defense: same model and dummy, so any difference comes from the shared gradient.
    const plain = dlgCli(['--image', ASTRONAUT, '--label', '7', '--iterations', '3', '--json']);
    assert.equal(plain.code, 0, plain.stderr);
    const p = JSON.parse(plain.stdout);
    assert.equal(p.defense, 'none');
    assert.notEqual(p.gradient_distance, j.gradient_distance, 'the attacker saw the pruned gradient');
  });

  it('--help lists the defense forms', () => {
    const r = dlgCli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--defense <string> .*gaussian:VARIANCE.*prune:RATIO.*\(default none\)/);
  });

  const bad: [string, RegExp][] = [
    ['gaussian:abc', /--defense: bad defense 'gaussian:abc': 'abc' is not a number/],
    ['prune:1.5', /prune needs a ratio in \[0, 1\], got 1.5/],
    ['foo:1', /unknown defense 'foo'/],
  ];
  for (const [spec, message] of bad) {
    it(`bad spec --defense ${spec}: one error line listing the known forms, exit code 2, before any work`, () => {
      const line = assertUsageError(['--image', ASTRONAUT, '--label', '7', '--iterations', '3', '--defense', spec, '--json'], message);
      assert.match(line, /known forms: none, gaussian:VARIANCE, laplacian:VARIANCE, fp16, int8, prune:RATIO/);
    });
  }
});
