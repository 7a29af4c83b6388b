import * as path from 'node:path';
import { dataDir } from '../../config/paths';
import { formatIssue } from '../../data/issues';
import { defaultSkullStripWorkers, SKULL_STRIP_REPORT, skullStripCohort } from '../../data/skull-strip-cohort';
import { SkullStripEntry } from '../../data/skull-strip-scan';
import { intFlag, numberFlag, parseArgs, stringFlag, UsageError } from '../args';

/**
 * `ich skull-strip [DIR] [--out DIR] [--force] [--compare] [--ids 1,2] [--bone-hu 200] [--brain-hu -20,120]
 * [--opening-mm 5] [--workers N] [--json]`: the skull-stripped copies (`ICH_nii_StrippedSkull/<folder>/<id>_brain.nii.gz`) of a
 * dataset's raw scans, or with --compare a check of this stripping against the copies already there. Exit status 0
 * when at least one patient was stripped, kept or compared. `--workers` threads strip scans side by side (default 2,
 * or fewer cores; 1 strips in the main thread).
 */
export async function skullStripCommand(argv: string[]): Promise<number> {
  const args = parseArgs(
    argv,
    { out: 'string', force: 'boolean', compare: 'boolean', ids: 'string', 'bone-hu': 'string', 'brain-hu': 'string', 'opening-mm': 'string', workers: 'string', json: 'boolean' },
    'ich skull-strip',
  );
  if (args.positional.length > 1) throw new UsageError(`ich skull-strip: expected at most one dataset folder, got ${args.positional.length}`);
  const root = args.positional[0] ?? dataDir();
  const compare = args.flags.compare === true;
  const force = args.flags.force === true;
  if (compare && force) throw new UsageError('ich skull-strip: --compare writes nothing, so --force expected without it, got both');
  const idsText = stringFlag(args, 'ids');
  const ids = idsText?.split(',').map((s) => s.trim());
  if (ids && ids.some((s) => s === '')) throw new UsageError(`--ids expected comma-separated patient IDs, got "${idsText}"`);
  const brainText = stringFlag(args, 'brain-hu');
  let brainHu: [number, number] | undefined;
  if (brainText !== undefined) {
    const parts = brainText.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
    if (parts.length !== 2 || !parts.every(Number.isFinite) || !(parts[0] < parts[1])) throw new UsageError(`--brain-hu expected LOW,HIGH in HU with LOW < HIGH, got "${brainText}"`);
    brainHu = [parts[0], parts[1]];
  }
  const strip = {
    ...(brainHu ? { brainHu } : {}),
    boneHu: numberFlag(args, 'bone-hu', 200, (v) => v > (brainHu?.[1] ?? 120), `HU above the brain window's top (${brainHu?.[1] ?? 120})`),
    openingMm: numberFlag(args, 'opening-mm', 5, (v) => v >= 0, 'a radius in mm >= 0'),
  };
  const json = args.flags.json === true;
  const report = await skullStripCohort({
    root,
    out: stringFlag(args, 'out'),
    force,
    compare,
    ids,
    strip,
    workers: intFlag(args, 'workers', defaultSkullStripWorkers(), 1, 64),
    onPatient: json
      ? undefined
      : (e) => process.stdout.write(skullStripLine(e) + '\n'),
  });
  if (json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    for (const issue of report.issues.filter((i) => i.severity === 'error')) process.stdout.write(formatIssue(issue) + '\n');
    const total = report.patients.length;
    process.stdout.write(
      report.mode === 'compare'
        ? `compared ${report.compared} of ${total} scans, skipped ${report.skipped}; Dice mean ${report.meanDice.toFixed(4)}, lowest ${report.minDice.toFixed(4)}\n`
        : `stripped ${report.stripped} of ${total} scans, kept ${report.kept}, skipped ${report.skipped} -> ${path.resolve(report.out)} (report: ${path.join(report.out, SKULL_STRIP_REPORT)})\n`,
    );
  }
  return report.stripped + report.kept + report.compared > 0 ? 0 : 1;
}

/**
 * The line printed for one patient's stripping, by `ich skull-strip` and `ich import-dicom --skull-strip`: its brain
 * volume and slices with the file written (or the Dice with the file compared), why it was kept or not stripped, and
 * its warnings.
 */
export function skullStripLine(e: SkullStripEntry): string {
  const what =
    e.status === 'skipped'
      ? `not stripped: ${e.reason}`
      : e.status === 'kept'
        ? `kept ${e.file} (exists; --force replaces it)`
        : `${e.brainMl!.toFixed(0)} mL of brain in ${e.brainSlices} slices${e.status === 'compared' ? `, Dice ${e.dice!.toFixed(4)} with ${e.file} (${e.referenceMl!.toFixed(0)} mL)` : ` -> ${e.file}`}, ${e.seconds!.toFixed(1)} s`;
  return `${e.patientId}: ${what}${e.warnings.length ? ` (${e.warnings.join('; ')})` : ''}`;
}
