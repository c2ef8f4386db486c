/**
 * The report of `npm run bench`: its JSON shape, the derived comparisons (ratios, how long the two
 * trajectories stay together) and the markdown tables printed on stdout.
 */
import type { AttackRun, LineSearch, SideResult } from './bench-cases';

export interface Agreement {
  threads: number;
  oursDistance: number;
  torchDistance: number;
  /** |D_ours - D_torch| / D_torch at the shared start. */
  distanceRelErr: number;
  /** ||grad_ours - grad_torch|| / ||grad_torch|| at the shared start. */
  gradRelErr: number;
}

export interface CaseReport {
  name: string;
  title: string;
  stateMadeBy: string;
  /** Our side: the objective the attack uses (fused for LeNet), and the attacks. */
  ours: SideResult & { startDistance: number };
  /**
   * LeNet, with --our-threads 1,2: the same side with 2 threads per evaluation (lib/engine/wasm-threads.ts);
   * sameAsOneThread: its distance and gradient at the start equal the 1-thread ones bit for bit.
   */
  ours2?: SideResult & { startDistance: number; sameAsOneThread: boolean };
  /** The PyTorch reference, one process per thread count. */
  torch: SideResult[];
  /** The objective at the shared start, ours vs each reference process. */
  agreement: Agreement[];
  /** Our objective engines, per evaluation (the first is `ours`). */
  engines: SideResult[];
}

export interface BenchReport {
  date: string;
  command: string;
  machine: { cores: number; cpu: string; platform: string; node: string; torch: string | null; python: string | null; load: [number, number] };
  settings: { iterations: number; lineSearches: LineSearch[]; attackRepeats: number; blocks: number; rounds: number; blockSeconds: number; warmup?: number; torchThreads: number[]; ourThreads?: number[]; attackCases: string[]; engines: string[] };
  wallSeconds: number;
  cases: CaseReport[];
}

/** Steps k such that the losses after 0..k steps agree to 1% (relative) on both curves (-1: not even at the start). */
export function sameTrajectorySteps(a: number[], b: number[], tolerance = 1e-2): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (!(Math.abs(a[i] - b[i]) <= tolerance * Math.abs(b[i]))) return i - 1;
  }
  return n - 1;
}

/** Leading evaluations at which both objective traces agree to 0.1% (relative). */
export function sameEvaluations(a: number[], b: number[], tolerance = 1e-3): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (!(Math.abs(a[i] - b[i]) <= tolerance * Math.abs(b[i]))) return i;
  return n;
}

const f = (v: number | undefined, d: number) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));
const e = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v.toExponential(1));
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? '-' : (a / b).toFixed(2));

function byThreads(c: CaseReport, t: number): SideResult | undefined {
  return c.torch.find((s) => s.threads === t);
}

function attackOf(s: SideResult | undefined, ls: LineSearch): AttackRun | undefined {
  return s?.attacks.find((a) => a.lineSearch === ls);
}

/** Markdown tables: per evaluation, per attack, memory, our engines. */
export function benchMarkdown(r: BenchReport): string {
  const m = r.machine;
  const threads = r.settings.torchThreads;
  const [t2, t1] = [threads.includes(2) ? 2 : threads[threads.length - 1], threads.includes(1) ? 1 : threads[0]];
  const pt = (t: number) => `PyTorch ${t} thread${t === 1 ? '' : 's'}`;
  const lines: string[] = [
    '## DLG: deep-leakage-ts vs the PyTorch original, same initial state',
    '',
    `${m.cores} cores (${m.cpu}), ${m.platform}, Node ${m.node}, ${m.torch ? `torch ${m.torch} (Python ${m.python})` : 'no PyTorch'}; load average ${f(m.load[0], 1)} at the start, ${f(m.load[1], 1)} at the end; ${r.date}`,
    `Per evaluation: median of ${r.settings.rounds} x ${r.settings.blocks} blocks of ~${r.settings.blockSeconds} s at the start point, after ${r.settings.warmup ?? 10} untimed evaluations (${r.settings.rounds} fresh process(es) per side, in alternating order). Attacks: ${r.settings.iterations} L-BFGS steps (torch defaults), every step run, ${r.settings.attackRepeats} run(s) per side (median).`,
    '',
    `### Per evaluation (forward, parameter gradient, distance, second-order backward), ms, median of ${r.settings.rounds * r.settings.blocks} blocks`,
    '',
  ];
  const head = ['case', 'ours', ...threads.map(pt), ...(threads.length ? [`ours / ${pt(t2)}`, `ours / ${pt(t1)}`, 'same objective at the start: D rel. diff, gradient rel. diff'] : [])];
  const two = r.cases.some((c) => c.ours2 !== undefined);
  if (two) head.push('ours, 2 threads', ...(threads.length ? [`ours, 2 threads / ${pt(t2)}`] : []), '2 threads: the same numbers as 1');
  lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
  for (const c of r.cases) {
    const row = [c.title, f(c.ours.msPerEval.median, 2), ...threads.map((t) => f(byThreads(c, t)?.msPerEval.median, 2))];
    if (threads.length) {
      const a = c.agreement.find((x) => x.threads === t2);
      row.push(ratio(c.ours.msPerEval.median, byThreads(c, t2)?.msPerEval.median), ratio(c.ours.msPerEval.median, byThreads(c, t1)?.msPerEval.median), a ? `${e(a.distanceRelErr)}, ${e(a.gradRelErr)}` : '-');
    }
    if (two) {
      const o2 = c.ours2;
      row.push(f(o2?.msPerEval.median, 2), ...(threads.length ? [ratio(o2?.msPerEval.median, byThreads(c, t2)?.msPerEval.median)] : []), o2 === undefined ? '-' : o2.sameAsOneThread ? 'yes, bit for bit' : 'NO');
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  const attackCases = r.cases.filter((c) => c.ours.attacks.length > 0);
  if (attackCases.length) {
    const sides = (c: CaseReport) => [{ name: 'ours', s: c.ours as SideResult }, ...threads.map((t) => ({ name: pt(t), s: byThreads(c, t) }))];
    lines.push('', `### ${r.settings.iterations}-step attack from the same start: seconds (evaluations)`, '');
    const ah = ['case', 'line search', 'ours', ...threads.map(pt), ...(threads.length ? [`ours / ${pt(t2)}`, `ours / ${pt(t1)}`] : []), 'ms per evaluation in the attack: ours / PyTorch', ...(two ? ['ours, 2 threads (the same evaluations and distance as 1)'] : [])];
    lines.push(`| ${ah.join(' | ')} |`, `|${ah.map(() => '---').join('|')}|`);
    for (const c of attackCases) {
      for (const ls of r.settings.lineSearches) {
        const o = attackOf(c.ours, ls);
        if (!o) continue;
        const cell = (a: AttackRun | undefined) => (a ? `${f(a.seconds.median, 1)} (${a.evals})` : '-');
        const per = (a: AttackRun | undefined) => (a ? f((a.seconds.median * 1000) / a.evals, 2) : '-');
        const row = [c.name, ls, cell(o), ...threads.map((t) => cell(attackOf(byThreads(c, t), ls)))];
        if (threads.length) row.push(ratio(o.seconds.median, attackOf(byThreads(c, t2), ls)?.seconds.median), ratio(o.seconds.median, attackOf(byThreads(c, t1), ls)?.seconds.median));
        row.push([per(o), ...threads.map((t) => per(attackOf(byThreads(c, t), ls)))].join(' / '));
        if (two) {
          const o2 = attackOf(c.ours2, ls);
          row.push(o2 ? `${cell(o2)}, ${per(o2)} ms per evaluation, ${o2.evals === o.evals && o2.distance === o.distance ? 'same' : 'DIFFERENT'}` : '-');
        }
        lines.push(`| ${row.join(' | ')} |`);
      }
    }
    if (threads.length) {
      lines.push('', `### How long the trajectories stay together (against ${pt(t2)}; in parentheses ${pt(t1)} against ${pt(t2)})`, '');
      const th = ['case', 'line search', 'evaluations with the objective within 0.1%', 'steps with the loss within 1%', ...[10, 100, r.settings.iterations].map((k) => `evaluations after ${k} steps: ${sides(attackCases[0]).map((x) => x.name).join(' / ')}`), 'final distance', 'final MSE'];
      lines.push(`| ${th.join(' | ')} |`, `|${th.map(() => '---').join('|')}|`);
      for (const c of attackCases) {
        for (const ls of r.settings.lineSearches) {
          const o = attackOf(c.ours, ls);
          const ref = attackOf(byThreads(c, t2), ls);
          const other = t1 !== t2 ? attackOf(byThreads(c, t1), ls) : undefined;
          if (!o || !ref) continue;
          const both = (fn: (a: AttackRun, b: AttackRun) => number) => `${fn(o, ref)}${other ? ` (${fn(other, ref)})` : ''}`;
          const at = (a: AttackRun | undefined, k: number) => (a && k - 1 < a.evalsAtStep.length ? a.evalsAtStep[k - 1] ?? '-' : '-');
          const runs = sides(c).map((x) => attackOf(x.s, ls));
          lines.push(`| ${[
            c.name, ls,
            both((a, b) => sameEvaluations(a.evalLosses ?? [], b.evalLosses ?? [])),
            both((a, b) => sameTrajectorySteps(a.losses, b.losses)),
            ...[10, 100, r.settings.iterations].map((k) => runs.map((a) => at(a, k)).join(' / ')),
            runs.map((a) => e(a?.distance)).join(' / '),
            runs.map((a) => e(a?.mse)).join(' / '),
          ].join(' | ')} |`);
        }
      }
    }
  }
  lines.push('', '### Peak RSS of each process, MB', '');
  const mh = ['case', 'ours', ...threads.map(pt), ...(two ? ['ours, 2 threads'] : [])];
  lines.push(`| ${mh.join(' | ')} |`, `|${mh.map(() => '---').join('|')}|`);
  for (const c of r.cases) lines.push(`| ${[c.name, f(c.ours.peakRssMB, 0), ...threads.map((t) => f(byThreads(c, t)?.peakRssMB, 0)), ...(two ? [f(c.ours2?.peakRssMB, 0)] : [])].join(' | ')} |`);
  const multi = r.cases.filter((c) => c.engines.length > 1);
  if (multi.length) {
    lines.push('', '### Our objective engines, per evaluation (ms, min / median)', '');
    lines.push('| case | engine | ms / evaluation | / fused | attack seconds (evaluations) |', '|---|---|---|---|---|');
    for (const c of multi) {
      for (const s of c.engines) {
        const att = s.attacks.map((a) => `${a.lineSearch}: ${f(a.seconds.median, 1)} (${a.evals})`).join(', ') || '-';
        lines.push(`| ${c.name} | ${s.side}${s.note && s !== c.ours ? ` (${s.note})` : ''} | ${f(s.msPerEval.min, 2)} / ${f(s.msPerEval.median, 2)} | ${ratio(s.msPerEval.median, c.ours.msPerEval.median)} | ${att} |`);
      }
    }
  }
  return lines.join('\n');
}
