import * as path from 'node:path';
import { importDicomCohort } from '../../data/dicom-import';
import { formatIssue } from '../../data/issues';
import { SKULL_STRIP_REPORT, skullStripCohort } from '../../data/skull-strip-cohort';
import { parseArgs, stringFlag, UsageError } from '../args';
import { skullStripLine } from './skull-strip';

/**
 * `ich import-dicom --from DIR --clinical FILE.csv --out ROOT [--series auto|NUMBER|TEXT] [--id-from folder|tag]
 * [--keep-tilt] [--skull-strip] [--json]`: a cohort of DICOM CT studies (one sub-folder per patient) as a dataset in
 * the authors' layout under ROOT, for `ICH_DATA_DIR=ROOT`; with --skull-strip also the brain-only copies of the scans
 * just converted (`ich skull-strip`, default settings, replacing older copies). A gantry-tilted series is resampled
 * onto planes perpendicular to its stack unless --keep-tilt keeps it as acquired (sheared affine). Prints one line per
 * patient and what was skipped; exit status 0 when at least one patient was converted.
 */
export async function importDicomCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { from: 'string', clinical: 'string', out: 'string', series: 'string', 'id-from': 'string', 'keep-tilt': 'boolean', 'skull-strip': 'boolean', json: 'boolean' }, 'ich import-dicom');
  const from = stringFlag(args, 'from');
  if (!from) throw new UsageError('ich import-dicom: --from expected a folder with one sub-folder of DICOM files per patient, got none');
  const clinical = stringFlag(args, 'clinical');
  if (!clinical) throw new UsageError('ich import-dicom: --clinical expected the clinical table (CSV with the authors\' columns; its labels sort the scans), got none');
  const out = stringFlag(args, 'out');
  if (!out) throw new UsageError('ich import-dicom: --out expected the dataset folder to write, got none');
  const idFrom = stringFlag(args, 'id-from') ?? 'folder';
  if (idFrom !== 'folder' && idFrom !== 'tag') throw new UsageError(`ich import-dicom: --id-from expected folder or tag, got "${idFrom}"`);
  const json = args.flags.json === true;
  const report = importDicomCohort({
    from,
    clinical,
    out,
    series: stringFlag(args, 'series') ?? 'auto',
    idFrom,
    keepTilt: args.flags['keep-tilt'] === true,
    onPatient: json
      ? undefined
      : (e) => {
          const line =
            e.status === 'converted'
              ? `${e.patientId}: series ${e.series!.number ?? '?'} "${e.series!.description}", ${e.dims!.join(' x ')} voxels of ${e.voxelSize!.map((v) => v.toFixed(3)).join(' x ')} mm -> ${e.file}${e.warnings.length ? ` (${e.warnings.join('; ')})` : ''}`
              : `${e.patientId}: skipped: ${e.reason}`;
          process.stdout.write(line + '\n');
        },
  });
  const converted = report.patients.filter((p) => p.status === 'converted').map((p) => p.patientId);
  // Stripping only what this import wrote: the copies must match the scans now in ICH_nii.
  const stripped =
    args.flags['skull-strip'] === true && converted.length > 0
      ? await skullStripCohort({
          root: out,
          ids: converted,
          force: true,
          onPatient: json
            ? undefined
            : (e) => process.stdout.write(skullStripLine(e) + '\n'),
        })
      : undefined;
  if (json) {
    process.stdout.write(JSON.stringify(stripped ? { ...report, skullStrip: stripped } : report, null, 2) + '\n');
  } else {
    for (const issue of report.issues.filter((i) => i.severity === 'error' && !report.patients.some((p) => p.folder === i.file))) {
      process.stdout.write(formatIssue(issue) + '\n');
    }
    process.stdout.write(
      `converted ${report.converted} of ${report.patients.length} patient folders, skipped ${report.skipped}` +
        `${report.rowsWithoutStudy.length ? `; ${report.rowsWithoutStudy.length} clinical rows have no folder (${report.rowsWithoutStudy.slice(0, 8).join(', ')}${report.rowsWithoutStudy.length > 8 ? ', ...' : ''})` : ''}\n` +
        (stripped ? `skull-stripped ${stripped.stripped} of ${converted.length} scans, skipped ${stripped.skipped} (report: ${path.join(stripped.out, SKULL_STRIP_REPORT)})\n` : '') +
        `wrote ${path.resolve(out)} (report: ${path.join(out, 'ICH_nii', 'import-dicom.json')}); use it with ICH_DATA_DIR=${out}\n`,
    );
  }
  return report.converted > 0 ? 0 : 1;
}
