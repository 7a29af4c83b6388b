import * as path from 'node:path';
import { describeBackend } from '../../backend';
import { cacheDir, dataDir, runsDir } from '../../config/paths';
import { getProfile } from '../../config/profiles';
import { discoverCohort } from '../../data/cohort';
import { usableScans } from '../../data/scan-check';
import { balancedAccuracy } from '../../eval/metrics';
import { modelSpec } from '../../models/tasks';
import { profilePatients, runCrossValidation } from '../../train/cv';
import { startTraining } from '../../train/run';
import { foldsFlag, intFlag, parseArgs, stringFlag, UsageError } from '../args';

/**
 * `ich train --profile quick|cpu|paper --model NAME [--folds 0,3] [--out DIR] [--seed 1] [--data DIR] [--workers N]`:
 * cross-validation of one model; checkpoints and results under DIR (default runs/<profile>/<model>). On CPU
 * backends N folds train at once in worker threads (default: min(2, cores), fewer where memory is short, and batch-norm
 * outputs are recomputed in the backward pass where one fold would not fit otherwise: train/memory.ts).
 */
export async function trainCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { profile: 'string', model: 'string', folds: 'string', out: 'string', seed: 'string', data: 'string', workers: 'string' }, 'ich train');
  const modelName = stringFlag(args, 'model');
  if (!modelName) throw new UsageError('ich train: --model expected a model name (e.g. mt-ord-gcs-bin-age), got none');
  const spec = modelSpec(modelName);
  const profile = getProfile(stringFlag(args, 'profile'));
  const folds = foldsFlag(args);
  const seed = intFlag(args, 'seed', 1, 0, 0xffffffff);
  const out = path.resolve(stringFlag(args, 'out', path.join(runsDir(), profile.name, spec.name))!);
  const asked = stringFlag(args, 'workers') === undefined ? undefined : intFlag(args, 'workers', 1, 1, 16);
  const { report, plan } = await startTraining(profile, asked);
  process.stderr.write(`${describeBackend(report)}\n`);
  if (plan.note) process.stderr.write(`${plan.note}\n`);
  const cohort = discoverCohort(stringFlag(args, 'data', dataDir())!);
  const patients = profilePatients(cohort.patients, profile);
  // The runner passes over unreadable scans and names them; counted here (a memo: no second read) so the line is true.
  const unreadable = (await usableScans(patients, cacheDir())).skipped.length;
  const count = unreadable > 0 ? `${patients.length - unreadable} of ${patients.length} patients (${unreadable} unreadable scan${unreadable === 1 ? '' : 's'}, listed below)` : `${patients.length} patients`;
  process.stderr.write(`training ${spec.name} on ${count}, profile ${profile.name} (input ${profile.inputSize.join('x')}), folds ${folds?.join(',') ?? 'all'} -> ${out}\n`);
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  const results = await runCrossValidation({
    spec,
    profile,
    patients,
    out,
    folds,
    seed,
    cacheDir: cacheDir(),
    workers: plan.workers,
    backend: report.backend,
    recomputeMinBytes: plan.recomputeMinBytes,
    onProgress: (p) => {
      const line = `fold ${p.fold} epoch ${p.epoch}/${p.epochs} batch ${p.batch}/${p.batches} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} ETA ${p.etaSeconds.toFixed(0)}s` +
        (p.valBalancedAccuracy !== undefined ? ` val BAcc ${p.valBalancedAccuracy.toFixed(3)}` : '');
      if (tty) process.stderr.write(`\r${line}\u001b[K${p.valBalancedAccuracy !== undefined ? '\n' : ''}`);
      else if (p.valBalancedAccuracy !== undefined || Date.now() - lastLine > 30000) {
        process.stderr.write(`${line}\n`);
        lastLine = Date.now();
      }
    },
  });
  for (const r of results) {
    const labels = r.predictions.map((p) => p.label);
    const task = spec.tasks.some((t) => t.task === 'prognosis') ? 'prognosis' : spec.tasks[0].task;
    const scores = r.predictions.map((p) => p.probabilities[task]?.[0] ?? NaN);
    process.stdout.write(`fold ${r.fold}: selected epoch ${r.selectedEpoch}, val BAcc ${r.bestValBalancedAccuracy.toFixed(3)}, test BAcc (${task}) ${balancedAccuracy(labels, scores).toFixed(3)} on ${labels.length} patients\n`);
  }
  process.stdout.write(`results: ${out}\n`);
  return 0;
}
