/**
 * A tiny typed argument parser for the command-line tools: every flag is declared with its kind,
 * anything else is an error. Errors are thrown as UsageError, printed as one line, exit code 2.
 * A flag given twice is an error (except 'strings' flags, which collect), and so is an empty value.
 */
export class UsageError extends Error {}

export type FlagKind = 'string' | 'int' | 'number' | 'boolean' | 'strings';

export interface FlagSpec {
  kind: FlagKind;
  help: string;
  default?: string | number | boolean;
}

export type Parsed = Record<string, string | number | boolean | string[] | undefined>;

/** Parse `--name value` / `--name=value` / `--flag` against the spec. */
export function parseArgs(argv: string[], spec: Record<string, FlagSpec>): Parsed {
  const out: Parsed = {};
  const seen = new Set<string>();
  for (const [name, s] of Object.entries(spec)) if (s.default !== undefined) out[name] = s.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const s = Object.prototype.hasOwnProperty.call(spec, name) ? spec[name] : undefined;
    if (s === undefined) throw new UsageError(`unknown option --${name} (known: ${Object.keys(spec).map((k) => '--' + k).join(', ')})`);
    if (seen.has(name) && s.kind !== 'strings') throw new UsageError(`--${name} given twice`);
    seen.add(name);
    if (s.kind === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      out[name] = true;
      continue;
    }
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new UsageError(`--${name} needs a value`);
      value = argv[++i];
    }
    if (value === '') throw new UsageError(`--${name} needs a value, got ''`);
    if (s.kind === 'int' || s.kind === 'number') {
      const v = Number(value);
      if (value.trim() === '' || !Number.isFinite(v) || (s.kind === 'int' && !Number.isInteger(v))) {
        throw new UsageError(`--${name} must be ${s.kind === 'int' ? 'an integer' : 'a number'}, got '${value}'`);
      }
      out[name] = v;
    } else if (s.kind === 'strings') {
      const prev = out[name];
      out[name] = Array.isArray(prev) ? [...prev, value] : [value];
    } else out[name] = value;
  }
  return out;
}

/** The flags given on the command line (defaults aside), by name. */
export function givenFlags(argv: string[]): Set<string> {
  return new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]));
}

/** Help text listing the flags. */
export function usage(command: string, spec: Record<string, FlagSpec>): string {
  const lines = Object.entries(spec).map(([name, s]) => {
    const def = s.default !== undefined ? ` (default ${s.default})` : '';
    return `  --${name}${s.kind === 'boolean' ? '' : ' <' + s.kind + '>'}  ${s.help}${def}`;
  });
  return `usage: ${command} [options]\n${lines.join('\n')}`;
}

/** Set while a progress line without a newline is on stderr, so that an error starts on a line of its own. */
let openLine = false;
export function setOpenLine(open: boolean): void {
  openLine = open;
}

/** Run a CLI main: UsageError and other expected errors -> one line on stderr and exit 2. */
export function runMain(main: () => Promise<void> | void): void {
  Promise.resolve()
    .then(main)
    .catch((e: unknown) => {
      const msg = e instanceof Error ? e.message : String(e);
      process.stderr.write(`${openLine ? '\n' : ''}error: ${msg.split('\n')[0]}\n`);
      process.exit(2);
    });
}
