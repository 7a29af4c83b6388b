import { summariseFolds, resultsTable } from '../../eval/aggregate';
import { compareModels, comparisonTable, pooledPredictions } from '../../eval/compare';
import { readRunFolder, RunFolder } from '../../train/cv';
import { foldPredictions } from '../../train/run';
import { intFlag, parseArgs, stringFlag, UsageError } from '../args';

/** Rows as aligned text columns, for a terminal. */
function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/**
 * `ich summary [NAME=]RUN_DIR ... [--reference NAME] [--resamples 2000] [--seed 1] [--json]`: the
 * results of finished cross-validations without a notebook: per model the paper's fold-mean table (mean +- sample
 * std of the folds' test metrics at the paper's threshold 0.5, paper.md "Results"), then every model's pooled out-of-fold AUC and balanced
 * accuracy with bootstrap 95 % intervals and DeLong's test against the reference model (default: the first).
 * Unfinished or broken folds are passed over and listed.
 */
export async function summaryCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { reference: 'string', resamples: 'string', seed: 'string', json: 'boolean' }, 'ich summary');
  if (args.positional.length === 0) throw new UsageError('ich summary: expected one or more run folders (NAME=DIR or DIR, from ich train or ich train-tabular), got none');
  const resamples = intFlag(args, 'resamples', 2000, 100, 1_000_000);
  const seed = intFlag(args, 'seed', 1, 0, 0xffffffff);
  const runs: RunFolder[] = args.positional.map((arg) => {
    const eq = arg.indexOf('=');
    return eq > 0 ? readRunFolder(arg.slice(eq + 1), arg.slice(0, eq)) : readRunFolder(arg);
  });
  const names = runs.map((r) => r.model);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated) throw new UsageError(`ich summary: model names expected to differ, got "${repeated}" twice (name them NAME=DIR)`);
  const finished = runs.filter((r) => r.results.length > 0);
  if (finished.length === 0) throw new UsageError(`ich summary: expected a finished fold in at least one run folder, got none (${runs.map((r) => r.dir).join(', ')})`);
  const reference = stringFlag(args, 'reference', finished[0].model)!;
  if (!finished.some((r) => r.model === reference)) {
    throw new UsageError(`ich summary: --reference expected one of ${finished.map((r) => r.model).join(', ')}, got "${reference}"`);
  }
  const summaries = finished.map((r) => summariseFolds(r.model, foldPredictions(r.results)));
  const pooled = finished.map((r) => pooledPredictions(r.model, r.results));
  const comparison = compareModels(pooled, reference, { resamples, seed });
  if (args.flags.json) {
    const models = runs.map((r) => {
      const s = summaries.find((m) => m.model === r.model);
      return { model: r.model, dir: r.dir, folds: r.results.map((f, i) => ({ fold: f.fold, ...s!.folds[i] })), summary: s?.summary ?? null, skipped: r.skipped };
    });
    process.stdout.write(JSON.stringify({ threshold: 0.5, reference, models, comparison }) + '\n');
    return 0;
  }
  const out: string[] = [];
  for (const r of runs) {
    const patients = r.results.reduce((n, f) => n + f.predictions.length, 0);
    out.push(`${r.model} (${r.dir}): ${r.results.length} fold${r.results.length === 1 ? '' : 's'}, ${patients} test patients`);
    for (const s of r.skipped) out.push(`  skipped ${s.fold}: ${s.reason}`);
  }
  const table = resultsTable(summaries);
  out.push('', `Test metrics per fold, mean +- sample std over the folds (poor when p >= 0.5):`, textTable(table.header, table.rows));
  const pooledTable = comparisonTable(comparison);
  out.push('', `Pooled out-of-fold predictions (bootstrap 95 % intervals, ${resamples} resamples; DeLong against ${reference}):`, textTable(pooledTable.header, pooledTable.rows));
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
