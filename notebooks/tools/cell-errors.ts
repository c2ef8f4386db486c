/**
 * Why a notebook failed, in a few lines. tslab reports a failing cell with an empty ename/evalue
 * and the error text on the cell's stderr, so nbconvert's own message says little. The runner passes
 * nbconvert a small config file that installs nbclient hooks (on_cell_execute, on_cell_error;
 * nbclient >= 0.6) which record the running cell and the failing cell's outputs in JSON files; the
 * functions here turn those (or, with an older nbclient, the end of nbconvert's stderr) into the
 * lines the runner prints.
 */
import * as fs from 'fs';
import * as path from 'path';

/** Python config for nbconvert: nbclient hooks that record the running cell and the failing one. */
const HOOKS_PY = `# Written by notebooks/tools/cell-errors.ts (do not edit): nbclient hooks (nbclient >= 0.6) that record
# the running cell and the failing cell's outputs, because tslab sends no ename/evalue/traceback.
import json, os

def _dlg_write(var, obj):
    target = os.environ.get(var)
    if target:
        with open(target, 'w') as f:
            json.dump(obj, f)

def _dlg_on_cell_execute(cell=None, cell_index=None, **kw):
    _dlg_write('DLG_NB_CURRENT_FILE', {'cell_index': cell_index, 'source': cell.source})

def _dlg_on_cell_error(cell=None, cell_index=None, execute_reply=None, **kw):
    content = (execute_reply or {}).get('content', {})
    outputs = [dict(o) for o in cell.get('outputs', []) if o.get('output_type') in ('stream', 'error')]
    _dlg_write('DLG_NB_ERROR_FILE', {
        'cell_index': cell_index,
        'source': cell.source,
        'ename': content.get('ename', ''),
        'evalue': content.get('evalue', ''),
        'traceback': content.get('traceback', []) or [],
        'outputs': outputs,
    })

c.ExecutePreprocessor.on_cell_execute = _dlg_on_cell_execute
c.ExecutePreprocessor.on_cell_error = _dlg_on_cell_error
`;

/** Writes the hooks config into `dir` (when it changed) and returns its path. */
export function writeHooks(dir: string): string {
  const file = path.join(dir, 'nbconvert_hooks.py');
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== HOOKS_PY) fs.writeFileSync(file, HOOKS_PY);
  return file;
}

/** What the on_cell_error hook records. */
export interface CellError {
  cell_index: number;
  source: string;
  ename: string;
  evalue: string;
  traceback: string[];
  outputs: { output_type: string; name?: string; text?: string | string[]; ename?: string; evalue?: string; traceback?: string[] }[];
}

const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;
const joinText = (t: string | string[] | undefined): string => (Array.isArray(t) ? t.join('') : t ?? '');
const firstLine = (src: string): string => {
  const l = src.split('\n').find((s) => s.trim()) ?? '';
  return l.length > 100 ? l.slice(0, 97) + '...' : l;
};

/** Stack frames of tslab and Node's vm/internals: noise in a notebook error. */
function isInternalFrame(line: string): boolean {
  return /^\s+at /.test(line) && /(node_modules[\\/]tslab[\\/]|\(node:|^\s+at node:|sigintHandlersWrap)/.test(line);
}

/** The failing cell's error as a few lines: where, ename: evalue, the last lines of the traceback. */
export function describeCellError(e: CellError, maxLines = 12): string[] {
  const where = `cell ${e.cell_index + 1}: ${firstLine(e.source)}`;
  let ename = e.ename && e.ename !== '<Error>' ? e.ename : '';
  let evalue = e.evalue ?? '';
  let tb: string[] = (e.traceback ?? []).join('\n').replace(ANSI, '').split('\n');
  const errOut = e.outputs.find((o) => o.output_type === 'error');
  if (!ename && errOut) {
    ename = errOut.ename ?? '';
    evalue = errOut.evalue ?? '';
    tb = (errOut.traceback ?? []).join('\n').replace(ANSI, '').split('\n');
  }
  if (!ename) {
    // tslab: the error is the cell's stderr ("Error: msg" then "    at ..." frames, or a
    // TypeScript diagnostic "1:7 - Type 'string' is not assignable ...").
    const stderr = e.outputs
      .filter((o) => o.output_type === 'stream' && o.name === 'stderr')
      .map((o) => joinText(o.text))
      .join('')
      .replace(ANSI, '');
    const lines = stderr.split('\n').filter((l) => l.trim() !== '');
    tb = lines;
    const frame = lines.findIndex((l) => /^\s+at /.test(l));
    const head = frame > 0 ? lines[frame - 1] : lines[0] ?? '';
    const m = /^([A-Za-z_$][\w$.]*): ?(.*)$/.exec(head);
    if (m && frame > 0) {
      ename = m[1];
      evalue = m[2];
    } else {
      ename = 'error';
      evalue = head || '(the kernel reported an error without a message)';
    }
  }
  const head = `${ename}: ${evalue}`;
  tb = tb.filter((l) => l.trim() !== '' && !isInternalFrame(l) && l.trim() !== head && l.trim() !== evalue.trim());
  const tail = tb.slice(-maxLines);
  return [where, head, ...tail.map((l) => `  | ${l}`)];
}

/** The informative end of nbconvert's stderr when no hook report exists (timeout, dead kernel, old nbclient). */
export function describeNbconvertFailure(stderr: string, current: { cell_index: number; source: string } | null, maxLines = 12): string[] {
  const lines = stderr.replace(ANSI, '').split('\n').filter((l) => l.trim() !== '' && !/^\[NbConvertApp\]/.test(l));
  const out: string[] = [];
  if (current) out.push(`while running cell ${current.cell_index + 1}: ${firstLine(current.source)}`);
  // From the last Python exception line ("nbclient.exceptions.DeadKernelError: Kernel died") on.
  let k = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (/^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*/.test(lines[i])) {
      k = i;
      break;
    }
  }
  const tail = k >= 0 ? lines.slice(k, k + maxLines) : lines.slice(-maxLines);
  return [...out, ...(tail.length ? tail.map((l) => `  | ${l}`) : ['  | (nbconvert printed nothing)'])];
}
