import { dataDir } from '../../config/paths';
import { checkDataset } from '../../data/check';
import { formatIssue } from '../../data/issues';
import { generateSyntheticCohort } from '../../data/synth/cohort';
import { intFlag, parseArgs, stringFlag, UsageError } from '../args';
import { ProgressBar } from '../progress';

/** `ich data synth --out DIR [--seed N] [--in-plane 512] [--patients 262]`. */
export async function dataSynthCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { out: 'string', seed: 'string', 'in-plane': 'string', patients: 'string', workers: 'string' }, 'ich data synth');
  const out = stringFlag(args, 'out');
  if (!out) throw new UsageError('ich data synth: --out expected a directory, got none');
  if (args.positional.length > 0) throw new UsageError(`ich data synth: arguments expected none, got "${args.positional.join(' ')}"`);
  const bar = new ProgressBar('synthesising');
  const summary = await generateSyntheticCohort({
    out,
    seed: intFlag(args, 'seed', 1, 0, 0xffffffff),
    inPlane: intFlag(args, 'in-plane', 512, 32, 1024),
    patients: intFlag(args, 'patients', 262, 20, 100000),
    workers: intFlag(args, 'workers', 2, 0, 64),
    onProgress: (done, total) => bar.update(done, total),
  });
  process.stdout.write(
    `synthetic cohort: ${summary.rows} clinical rows, ${summary.withImage} scans (${summary.poor} poor, ${summary.withImage - summary.poor} good) in ${summary.seconds.toFixed(1)} s -> ${summary.root}\n`,
  );
  return 0;
}

/** `ich data check [DIR] [--json]`: exit 0 when the dataset is usable, 1 when not. */
export async function dataCheckCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { json: 'boolean', raw: 'boolean' }, 'ich data check');
  if (args.positional.length > 1) throw new UsageError(`ich data check: expected at most one directory, got ${args.positional.length}`);
  const root = args.positional[0] ?? dataDir();
  const json = args.flags.json === true;
  const bar = json ? null : new ProgressBar('reading scans');
  const report = await checkDataset(root, { imageSource: args.flags.raw ? 'raw' : 'stripped', onProgress: (d, t) => bar?.update(d, t) });
  if (json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    const s = report.summary;
    const lines = [
      `dataset: ${report.root} (${s.layout ?? 'layout not recognised'})`,
      `clinical rows: ${s.rows}; scans: ${s.withImage}; usable patients: ${s.usablePatients} (${s.labels.poor} poor, ${s.labels.good} good)`,
      `excluded as in the paper: ${s.excluded.join(', ') || 'none'}`,
      `GCS histogram: ${Object.entries(s.gcsHistogram).map(([k, v]) => `${k}:${v}`).join(' ')}`,
      `slices histogram: ${Object.entries(s.sliceHistogram).map(([k, v]) => `${k}:${v}`).join(' ')}`,
      `skipped: ${s.skipped.length ? s.skipped.map((x) => `${x.patientId} (${x.reason})`).join('; ') : 'none'}`,
      `problems: ${report.issues.filter((i) => i.severity === 'error').length} errors, ${report.issues.filter((i) => i.severity === 'warning').length} warnings`,
      ...report.issues.map(formatIssue),
      report.usable ? 'usable: yes' : 'usable: NO',
    ];
    process.stdout.write(lines.join('\n') + '\n');
  }
  return report.usable ? 0 : 1;
}
