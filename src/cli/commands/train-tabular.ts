import * as path from 'node:path';
import { dataDir, runsDir } from '../../config/paths';
import { getProfile } from '../../config/profiles';
import { binaryMetrics } from '../../eval/metrics';
import { TABULAR_MODELS, TabularModelName } from '../../models/tabular';
import { trainTabularModel } from '../../train/run';
import { foldsFlag, intFlag, parseArgs, stringFlag, UsageError } from '../args';

/** `ich train-tabular --model mlp|logistic|forest|clinical [--folds 0,3] [--profile P] [--out DIR] [--seed 1] [--data DIR]`. */
export async function trainTabularCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { model: 'string', folds: 'string', profile: 'string', out: 'string', seed: 'string', data: 'string' }, 'ich train-tabular');
  const model = stringFlag(args, 'model') as TabularModelName | undefined;
  if (!model || !TABULAR_MODELS.includes(model)) throw new UsageError(`ich train-tabular: --model expected one of ${TABULAR_MODELS.join(', ')}, got ${model ? `"${model}"` : 'none'}`);
  const profile = getProfile(stringFlag(args, 'profile'));
  const folds = foldsFlag(args);
  const out = path.resolve(stringFlag(args, 'out', path.join(runsDir(), profile.name, `tabular-${model}`))!);
  const { results } = await trainTabularModel({ model, profile, folds, out, data: stringFlag(args, 'data', dataDir())!, seed: intFlag(args, 'seed', 1, 0, 0xffffffff) });
  for (const r of results) {
    const m = binaryMetrics(r.predictions.map((p) => p.label), r.predictions.map((p) => p.probabilities.prognosis[0]));
    process.stdout.write(`fold ${r.fold}: AUC ${Number.isNaN(m.auc) ? 'n/a' : m.auc.toFixed(3)}, BAcc ${m.balancedAccuracy.toFixed(3)} on ${m.n} patients\n`);
  }
  process.stdout.write(`results: ${out}\n`);
  return 0;
}
