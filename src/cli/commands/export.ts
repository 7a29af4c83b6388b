import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../../config/paths';
import { getProfile } from '../../config/profiles';
import { exportNotebooks } from '../../report/export';
import { intFlag, parseArgs, stringFlag, UsageError } from '../args';

/**
 * `ich export [--notebooks 01_data_exploration,...] [--out figures/notebooks] [--cell-timeout S]`: executes every
 * notebook in notebooks/ (or the ones named) on the tslab kernel and writes their HTML. Exit 1 names the failing cell.
 * A cell may run S seconds (0: no limit); the default is the profile's (`ICH_PROFILE`): an hour for `quick`, no
 * limit for `cpu` and `paper`, whose training cells take hours.
 */
export async function exportCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { notebooks: 'string', out: 'string', 'cell-timeout': 'string' }, 'ich export');
  const timeout = cellTimeout(args);
  const root = projectRoot();
  const dir = path.join(root, 'notebooks');
  const names = stringFlag(args, 'notebooks');
  const notebooks = names
    ? names.split(',').map((n) => path.join(dir, n.trim().endsWith('.ipynb') ? n.trim() : `${n.trim()}.ipynb`))
    : fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort().map((f) => path.join(dir, f));
  if (notebooks.length === 0) throw new UsageError(`ich export: notebooks expected in ${dir}, got none`);
  const prefix = path.join(root, '.jupyter-local');
  if (!fs.existsSync(path.join(prefix, 'share', 'jupyter', 'kernels', 'tslab', 'kernel.json'))) {
    throw new UsageError('ich export: tslab kernel expected under .jupyter-local/, got none (run `npm run setup` first)');
  }
  const outDir = path.resolve(stringFlag(args, 'out', path.join(root, 'figures', 'notebooks'))!);
  const results = await exportNotebooks({
    notebooks,
    outDir,
    jupyterPrefix: prefix,
    runner: path.join(root, 'scripts', 'run_notebook.py'),
    cellTimeout: timeout,
    onNotebook: (r) =>
      process.stderr.write(r.ok ? `export: ${path.basename(r.notebook)} ok in ${r.seconds.toFixed(0)} s -> ${path.relative(root, r.html!)}\n` : `export: ${path.basename(r.notebook)} FAILED after ${r.seconds.toFixed(0)} s\n`),
  });
  const failed = results.find((r) => !r.ok);
  if (failed) {
    const cell = failed.failedCell ? `; failing cell: ${failed.failedCell.split('\n').slice(0, 3).join(' | ')}` : '';
    throw new Error(`notebook ${path.basename(failed.notebook)} expected to run without errors, got ${failed.error ?? 'a failure'}${cell}`);
  }
  process.stdout.write(`exported ${results.length} notebooks to ${outDir}\n`);
  return 0;
}

/** --cell-timeout in seconds (0: none, else at least 10), by default the active profile's; null means no limit. */
function cellTimeout(args: ReturnType<typeof parseArgs>): number | null {
  if (args.flags['cell-timeout'] === undefined) return getProfile().cellTimeoutSeconds;
  const seconds = intFlag(args, 'cell-timeout', 0, 0);
  if (seconds > 0 && seconds < 10) throw new UsageError(`--cell-timeout expected 0 (no limit) or at least 10 seconds, got ${seconds}`);
  return seconds === 0 ? null : seconds;
}
