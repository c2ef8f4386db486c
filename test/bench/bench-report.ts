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
  settings: { iterations: number; lineSearches: LineSearch[]; attackRepeats: number; blocks: number; blockSeconds: number; torchThreads: number[]; attackCases: string[]; engines: string[] };
  wallSeconds: number;
  cases: CaseReport[];
}

/** Steps for which both loss curves agree to 1% (relative): the shared trajectory's length. */
export function sameTrajectorySteps(a: number[], b: number[], tolerance = 1e-2): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (!(Math.abs(a[i] - b[i]) <= tolerance * Math.abs(b[i]))) return i;
  }
  return n - 1;
}

/** The first step after which the cumulative evaluation counts differ (null if they never do where both are known). */
export function firstEvalDifference(a: (number | null)[], b: (number | null)[]): number | null {
  for (let j = 0; j < Math.min(a.length, b.length); j++) {
    if (a[j] !== null && b[j] !== null && a[j] !== b[j]) return j + 1;
  }
  return null;
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
    `Per evaluation: median of ${r.settings.blocks} blocks of ~${r.settings.blockSeconds} s at the start point. Attacks: ${r.settings.iterations} L-BFGS steps (torch defaults), every step run, ${r.settings.attackRepeats} run(s) per side (median).`,
    '',
    '### Per evaluation (forward, parameter gradient, distance, second-order backward), ms',
    '',
  ];
  const head = ['case', 'ours', ...threads.map(pt), ...(threads.length ? [`ours / ${pt(t2)}`, `ours / ${pt(t1)}`, 'same objective at the start: D rel. diff, gradient rel. diff'] : [])];
  lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
  for (const c of r.cases) {
    const row = [c.title, f(c.ours.msPerEval.median, 2), ...threads.map((t) => f(byThreads(c, t)?.msPerEval.median, 2))];
    if (threads.length) {
      const a = c.agreement.find((x) => x.threads === t2);
      row.push(ratio(c.ours.msPerEval.median, byThreads(c, t2)?.msPerEval.median), ratio(c.ours.msPerEval.median, byThreads(c, t1)?.msPerEval.median), a ? `${e(a.distanceRelErr)}, ${e(a.gradRelErr)}` : '-');
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  const attackCases = r.cases.filter((c) => c.ours.attacks.length > 0);
  if (attackCases.length) {
    lines.push('', `### ${r.settings.iterations}-step attack from the same start: seconds (evaluations)`, '');
    const ah = ['case', 'line search', 'ours', ...threads.map(pt), ...(threads.length ? [`ours / ${pt(t2)}`, `ours / ${pt(t1)}`, `losses within 1% of ${pt(t2)} for steps (${pt(t1)} vs ${pt(t2)})`, `evaluations after 10 / 100 / ${r.settings.iterations} steps, ours vs ${pt(t2)}`] : []), 'final distance ours / PyTorch', 'MSE ours / PyTorch'];
    lines.push(`| ${ah.join(' | ')} |`, `|${ah.map(() => '---').join('|')}|`);
    for (const c of attackCases) {
      for (const ls of r.settings.lineSearches) {
        const o = attackOf(c.ours, ls);
        if (!o) continue;
        const cell = (a: AttackRun | undefined) => (a ? `${f(a.seconds.median, 1)} (${a.evals})` : '-');
        const ref = attackOf(byThreads(c, t2), ls);
        const row = [c.name, ls, cell(o), ...threads.map((t) => cell(attackOf(byThreads(c, t), ls)))];
        if (threads.length) {
          const at = (a: AttackRun | undefined, k: number) => (a && k - 1 < a.evalsAtStep.length ? a.evalsAtStep[Math.max(0, k - 1)] ?? '-' : '-');
          const ks = [10, 100, r.settings.iterations];
          row.push(
            ratio(o.seconds.median, ref?.seconds.median),
            ratio(o.seconds.median, attackOf(byThreads(c, t1), ls)?.seconds.median),
            ref ? `${sameTrajectorySteps(o.losses, ref.losses)}${t1 !== t2 && attackOf(byThreads(c, t1), ls) ? ` (${sameTrajectorySteps((attackOf(byThreads(c, t1), ls) as AttackRun).losses, ref.losses)})` : ''}` : '-',
            ks.map((k) => `${at(o, k)} vs ${at(ref, k)}`).join(' / '),
          );
        }
        row.push(`${e(o.distance)} / ${e(ref?.distance)}`, `${e(o.mse)} / ${e(ref?.mse)}`);
        lines.push(`| ${row.join(' | ')} |`);
      }
    }
  }
  lines.push('', '### Peak RSS of each process, MB', '');
  const mh = ['case', 'ours', ...threads.map(pt)];
  lines.push(`| ${mh.join(' | ')} |`, `|${mh.map(() => '---').join('|')}|`);
  for (const c of r.cases) lines.push(`| ${[c.name, f(c.ours.peakRssMB, 0), ...threads.map((t) => f(byThreads(c, t)?.peakRssMB, 0))].join(' | ')} |`);
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
