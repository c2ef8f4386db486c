/** Command-line options of the bench scripts. */

/** `--name N` as a positive integer (`dflt` when absent); anything else: one line on stderr and exit code 2. */
export function positiveIntArg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${name} must be a positive integer, got ${process.argv[i + 1]}`);
    process.exit(2);
  }
  return v;
}
