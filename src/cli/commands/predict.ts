import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeBackend, initBackend } from '../../backend';
import { cacheDir, dataDir } from '../../config/paths';
import { discoverCohort } from '../../data/cohort';
import { Quirks } from '../../data/preprocess';
import { evaluateCohort } from '../../eval/external';
import { writeFileAtomic } from '../../io/atomic';
import { predictionsCsv } from '../../train/loop';
import { intFlag, parseArgs, stringFlag, UsageError } from '../args';
import { ProgressBar } from '../progress';

/**
 * `ich predict --model CHECKPOINT [--data DIR] [--out FILE.csv] [--batch 2] [--quirks paper|fixed] [--json]`: a trained
 * or imported model (`ich import-weights`) run on every usable patient of a cohort (external validation): the
 * probabilities of every head to FILE.csv (the columns of a fold's predictions.csv, without the fold), and each head's
 * metrics at threshold 0.5 against the cohort's labels on stdout. Unreadable scans are listed and left out.
 */
export async function predictCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { model: 'string', data: 'string', out: 'string', batch: 'string', quirks: 'string', json: 'boolean' }, 'ich predict');
  const dir = stringFlag(args, 'model');
  if (!dir) throw new UsageError('ich predict: --model expected a checkpoint folder (from ich train or ich import-weights), got none');
  if (!fs.existsSync(path.join(dir, 'model.json'))) throw new UsageError(`ich predict: --model expected a checkpoint folder with model.json, got "${dir}"`);
  const out = stringFlag(args, 'out');
  if (out !== undefined && !out.endsWith('.csv')) throw new UsageError(`ich predict: --out expected a .csv file, got "${out}"`);
  const batchSize = intFlag(args, 'batch', 2, 1, 64);
  const quirks = stringFlag(args, 'quirks', 'paper');
  if (quirks !== 'paper' && quirks !== 'fixed') throw new UsageError(`ich predict: --quirks expected paper or fixed, got "${quirks}"`);
  const report = await initBackend();
  process.stderr.write(`${describeBackend(report)}\n`);
  const cohort = discoverCohort(stringFlag(args, 'data', dataDir())!);
  const bar = new ProgressBar('predicting');
  const r = await evaluateCohort(dir, cohort.patients, {
    cacheDir: cacheDir(),
    batchSize,
    quirks: quirks as Quirks,
    notice: (line) => process.stderr.write(`${line}\n`),
    onProgress: (done, total) => bar.update(done, total),
  });
  const tasks = r.spec.tasks.map((t) => t.task);
  if (out) writeFileAtomic(out, predictionsCsv(tasks, r.predictions));
  if (args.flags.json) {
    process.stdout.write(JSON.stringify({ model: r.spec.name, checkpoint: path.resolve(dir), cohort: cohort.root, inputSize: r.inputSize, patients: r.predictions.length, skipped: r.skipped, binary: r.binary, ordinal: r.ordinal, out: out && path.resolve(out) }) + '\n');
    return 0;
  }
  const f = (v: number) => (Number.isNaN(v) ? 'n/a' : v.toFixed(3));
  process.stdout.write(`${r.spec.name} on ${r.predictions.length} patients of ${cohort.root}${r.skipped.length ? ` (${r.skipped.length} unreadable scan${r.skipped.length === 1 ? '' : 's'} left out)` : ''}, input ${r.inputSize.join('x')}\n`);
  for (const [task, m] of Object.entries(r.binary)) {
    process.stdout.write(`${task}: AUC ${f(m.auc)}, balanced accuracy ${f(m.balancedAccuracy)}, sensitivity ${f(m.sensitivity)}, specificity ${f(m.specificity)}, F1 ${f(m.f1)} (${m.tp + m.fn} positive, ${m.tn + m.fp} negative)\n`);
  }
  if (r.ordinal) process.stdout.write(`gcs-ordinal: accuracy ${f(r.ordinal.accuracy)}, balanced accuracy ${f(r.ordinal.balancedAccuracy)}, MAE ${f(r.ordinal.mae)}, quadratic kappa ${f(r.ordinal.quadraticKappa)}\n`);
  if (out) process.stdout.write(`wrote ${path.resolve(out)}\n`);
  return 0;
}
