/**
 * Sweeps that never lose a result (lib/experiments/sweep.ts) through `npm run recovery-rate`: shards
 * merged equal the unsharded run, a second run resumes from the results file, an unreadable image is
 * skipped, bad flags are refused before any run.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseShard, shardJobs, latestResults } from '../lib/experiments/sweep';

const ROOT = path.join(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/lib/cli/recovery-rate.js');

function rr(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Summary lines without the fields that are times. */
function summaries(stdout: string) {
  return stdout.trim().split('\n').map((l) => {
    const { wallSeconds, medianSecondsPerRun, engine, ...rest } = JSON.parse(l);
    void wallSeconds; void medianSecondsPerRun; void engine;
    return rest;
  });
}

describe('sweeps: shards, resume, bad input (npm run recovery-rate)', function () {
  this.timeout(300_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlg-sweep-'));
  const images = path.join(dir, 'images');
  fs.mkdirSync(images);
  for (const f of ['astronaut.png', 'coffee.png']) fs.copyFileSync(path.join(ROOT, 'datasets/natural', f), path.join(images, f));
  fs.writeFileSync(path.join(images, 'broken.png'), 'not an image');
  const common = ['--images', images, '--seeds', '2', '--iterations', '3', '--defense', 'none', '--defense', 'prune:0.5'];

  let whole: ReturnType<typeof summaries>;
  it('runs every (defense, image, seed), skipping the unreadable image with one line', () => {
    const r = rr([...common, '--out', path.join(dir, 'whole.jsonl')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /skipped: cannot decode PNG .*broken\.png|skipped: cannot load image .*broken\.png/);
    assert.match(r.stderr, /^progress: run 8\/8 \(100%\)/m);
    whole = summaries(r.stdout);
    assert.deepEqual(whole.map((s) => [s.defense, s.runs, s.failed]), [['none', 4, 0], ['prune:0.5', 4, 0]]);
    assert.equal(fs.readFileSync(path.join(dir, 'whole.jsonl'), 'utf8').trim().split('\n').length, 8);
  });

  it('two shards, merged, give the same summary as the unsharded run', () => {
    for (const i of [1, 2]) {
      const r = rr([...common, '--shard', `${i}/2`, '--out', path.join(dir, `shard-${i}.jsonl`), '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(fs.readFileSync(path.join(dir, `shard-${i}.jsonl`), 'utf8').trim().split('\n').length, 4);
    }
    const m = rr(['--merge', path.join(dir, 'shard-1.jsonl'), '--merge', path.join(dir, 'shard-2.jsonl')]);
    assert.equal(m.code, 0, m.stderr);
    assert.deepEqual(summaries(m.stdout), whole);
  });

  it('a second run with the same --out resumes: nothing is run again, the summary is the same', () => {
    const file = path.join(dir, 'whole.jsonl');
    const before = fs.readFileSync(file, 'utf8');
    const r = rr([...common, '--out', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /resumed 8 runs/);
    assert.equal(fs.readFileSync(file, 'utf8'), before);
    assert.deepEqual(summaries(r.stdout), whole);
  });

  const bad: [string[], RegExp][] = [
    [['--seeds', '0'], /--seeds must be >= 1, got 0/],
    [['--workers', '0'], /--workers must be >= 1, got 0/],
    [['--shard', '3/2'], /--shard: a shard is I\/N with 1 <= I <= N/],
    [['--seeds', '2', '--seeds', '3'], /--seeds given twice/],
    [['--out', '/proc/x/runs.jsonl'], /--out \/proc\/x\/runs.jsonl: \/proc is a pseudo filesystem/],
    [['--merge', '/no/such.jsonl'], /--merge: cannot read \/no\/such.jsonl: ENOENT/],
    [['--merge', 'a.jsonl', '--seeds', '2'], /--merge only reads results files; --seeds does not apply/],
  ];
  for (const [args, message] of bad) {
    it(`bad input ${JSON.stringify(args)}: one error line, exit code 2`, () => {
      const r = rr(args);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], message);
    });
  }
});

describe('sweep helpers', () => {
  it('parseShard and shardJobs: shards partition the jobs', () => {
    assert.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
    for (const bad of ['0/4', '5/4', '1', 'a/b', '1/0']) assert.throws(() => parseShard(bad), /a shard is I\/N/);
    const jobs = Array.from({ length: 10 }, (_, i) => i);
    const parts = [1, 2, 3].map((index) => shardJobs(jobs, { index, count: 3 }));
    assert.deepEqual(parts, [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]);
  });
  it('latestResults: a success replaces a failure; two different successes for one key are an error', () => {
    const ok = { key: 'a', job: 1, result: { mse: 1 } };
    assert.deepEqual([...latestResults([{ key: 'a', job: 1, error: 'boom' }, ok]).values()], [ok]);
    assert.throws(() => latestResults([ok, { key: 'a', job: 1, result: { mse: 2 } }]), /two different results for 'a'/);
  });
});
