/** A small, strict argument parser: every flag must be declared, so a typo is an error, not a silent default. */

/** Declared flags: 'string' takes a value, 'boolean' does not. */
export type FlagSpec = Record<string, 'string' | 'boolean'>;

/** Parsed arguments: positionals in order and flags by name (without the dashes). */
export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | boolean>;
}

/** An error meant for the user: printed as one line, exit status 1, no stack trace. */
export class UsageError extends Error {}

/** Parses `--name value`, `--name=value` and boolean `--name`; `--` ends the flags. */
export function parseArgs(argv: readonly string[], spec: FlagSpec, command: string): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const kind = spec[name];
    if (!kind) {
      throw new UsageError(`${command}: option expected one of ${Object.keys(spec).map((k) => `--${k}`).join(', ') || '(none)'}, got --${name}`);
    }
    if (kind === 'boolean') {
      if (eq >= 0) throw new UsageError(`${command}: option --${name} expected no value, got "${a.slice(eq + 1)}"`);
      flags[name] = true;
    } else {
      const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new UsageError(`${command}: option --${name} expected a value, got none`);
      flags[name] = value;
    }
  }
  return { positional, flags };
}

/** An integer flag with a default and bounds. */
export function intFlag(args: ParsedArgs, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  const raw = args.flags[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== 'string' || !/^-?[0-9]+$/.test(raw.trim()) || v < min || v > max) {
    throw new UsageError(`--${name} expected an integer${Number.isFinite(min) ? ` >= ${min}` : ''}${Number.isFinite(max) ? ` and <= ${max}` : ''}, got "${raw}"`);
  }
  return v;
}

/** A number flag with a default and an open interval check. */
export function numberFlag(args: ParsedArgs, name: string, fallback: number, check: (v: number) => boolean, expected: string): number {
  const raw = args.flags[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(v) || !check(v)) throw new UsageError(`--${name} expected ${expected}, got "${raw}"`);
  return v;
}

/** A string flag or its default. */
export function stringFlag(args: ParsedArgs, name: string, fallback?: string): string | undefined {
  const raw = args.flags[name];
  return typeof raw === 'string' ? raw : fallback;
}

/** A comma-separated list of fold numbers (`--folds 0,3`), or undefined when the flag is absent. */
export function foldsFlag(args: ParsedArgs): number[] | undefined {
  const text = stringFlag(args, 'folds');
  return text?.split(',').map((f) => {
    const n = Number(f.trim());
    if (f.trim() === '' || !Number.isInteger(n) || n < 0) throw new UsageError(`--folds expected comma-separated fold numbers, got "${text}"`);
    return n;
  });
}

/** A volume size flag `depth,height,width` (e.g. `--size 40,301,301`): three integers in [min, 4096]. */
export function volumeSizeFlag(args: ParsedArgs, name: string, fallback: [number, number, number], min = 1): [number, number, number] {
  const text = stringFlag(args, name);
  if (text === undefined) return fallback;
  const size = text.split(',').map((s) => (s.trim() === '' ? NaN : Number(s.trim())));
  if (size.length !== 3 || size.some((s) => !Number.isInteger(s) || s < min || s > 4096)) {
    throw new UsageError(`--${name} expected depth,height,width as three integers from ${min} to 4096, got "${text}"`);
  }
  return size as [number, number, number];
}
