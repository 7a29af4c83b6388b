import * as fs from 'node:fs';
import { crossValidationFolds } from '../../data/splits';
import { intFlag, numberFlag, parseArgs, stringFlag, UsageError } from '../args';

/**
 * `ich splits --labels FILE.json [--folds 10] [--seed 1] [--val-fraction 0.1] [--val-seed 1] [--oversample-seed 2] --json`:
 * the paper's cross-validation splits of a JSON array of 0/1 labels, as indices into it.
 */
export async function splitsCommand(argv: string[]): Promise<number> {
  const args = parseArgs(
    argv,
    { labels: 'string', folds: 'string', seed: 'string', 'val-fraction': 'string', 'val-seed': 'string', 'oversample-seed': 'string', json: 'boolean' },
    'ich splits',
  );
  const file = stringFlag(args, 'labels');
  if (!file) throw new UsageError('ich splits: --labels expected a JSON file, got none');
  const options = {
    folds: intFlag(args, 'folds', 10, 2),
    seed: intFlag(args, 'seed', 1, 0, 0xffffffff),
    valFraction: numberFlag(args, 'val-fraction', 0.1, (v) => v > 0 && v < 1, 'a fraction in (0, 1)'),
    valSeed: intFlag(args, 'val-seed', 1, 0, 0xffffffff),
    oversampleSeed: intFlag(args, 'oversample-seed', 2, 0, 0xffffffff),
  };
  let labels: unknown;
  try {
    labels = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`labels file expected a JSON array of 0/1, got ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (${file})`);
  }
  if (!Array.isArray(labels)) throw new UsageError(`labels file expected a JSON array of 0/1, got ${typeof labels} (${file})`);
  labels.forEach((y, i) => {
    if (y !== 0 && y !== 1) throw new UsageError(`labels file expected 0 or 1 at index ${i}, got ${JSON.stringify(y)} (${file})`);
  });
  const folds = crossValidationFolds(labels as number[], options);
  if (args.flags.json) {
    process.stdout.write(JSON.stringify({ folds }) + '\n');
  } else {
    folds.forEach((f, k) =>
      process.stdout.write(`fold ${k}: test ${f.test.length}, val ${f.val.length}, train ${f.train.length}, train oversampled ${f.trainOversampled.length}\n`),
    );
  }
  return 0;
}
