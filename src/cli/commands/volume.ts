import * as fs from 'node:fs';
import { assembleSeries, chooseSeries, scanDicomFolder } from '../../data/dicom-series';
import { resolveGantryTilt } from '../../data/gantry-tilt';
import { formatIssue } from '../../data/issues';
import { readVolume } from '../../io/read-volume';
import { Volume, volumeStatistics } from '../../io/volume';
import { parseArgs, UsageError } from '../args';

/** A DICOM folder's series stacked as `ich import-dicom` stacks it, its unreadable files and findings on stderr. */
function readDicomFolder(dir: string, series: string, keepTilt: boolean): Volume {
  const scan = scanDicomFolder(dir);
  for (const issue of scan.issues) process.stderr.write(formatIssue(issue) + '\n');
  const assembled = resolveGantryTilt(assembleSeries(chooseSeries(scan.series, series, dir)), keepTilt);
  for (const w of assembled.warnings) process.stderr.write(`warning: ${dir}: ${w}\n`);
  return assembled.volume;
}

/**
 * `ich volume info FILE|DICOM_FOLDER [--json] [--series auto|NUMBER|TEXT] [--keep-tilt]`: dims, datatype, voxel sizes
 * and value statistics after scaling; a folder is read as a DICOM series (the one `ich import-dicom` would take, its
 * gantry tilt resampled away unless --keep-tilt).
 */
export async function volumeInfoCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { json: 'boolean', 'npy-axes': 'string', series: 'string', 'keep-tilt': 'boolean' }, 'ich volume info');
  if (args.positional.length !== 1) throw new UsageError(`ich volume info: expected one FILE, got ${args.positional.length}`);
  const axes = (args.flags['npy-axes'] ?? 'xyz') as string;
  if (axes !== 'xyz' && axes !== 'zyx') throw new UsageError(`--npy-axes expected xyz or zyx, got "${axes}"`);
  const file = args.positional[0];
  const isFolder = fs.existsSync(file) && fs.statSync(file).isDirectory();
  const volume = isFolder ? readDicomFolder(file, String(args.flags.series ?? 'auto'), args.flags['keep-tilt'] === true) : await readVolume(file, axes);
  const stats = volumeStatistics(volume);
  const info = {
    file,
    format: volume.format,
    dims: volume.dims,
    datatype: volume.voxelType,
    voxelSize: volume.voxelSize,
    sclSlope: volume.slope,
    sclInter: volume.intercept,
    affine: volume.affine,
    min: stats.min,
    max: stats.max,
    mean: stats.mean,
    std: stats.std,
    nonFinite: stats.nonFinite,
    voxels: stats.voxels,
  };
  if (args.flags.json) {
    process.stdout.write(JSON.stringify(info, null, 2) + '\n');
  } else {
    const f = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(6));
    process.stdout.write(
      [
        `file: ${file} (${volume.format})`,
        `dims: ${volume.dims.join(' x ')} (x, y, z)`,
        `datatype: ${volume.voxelType}`,
        `voxel size: ${volume.voxelSize.map((v) => v.toFixed(4)).join(' x ')} mm`,
        `scaling: value = raw * ${f(volume.slope)} + ${f(volume.intercept)}`,
        `values: min ${f(stats.min)}, max ${f(stats.max)}, mean ${f(stats.mean)}, std ${f(stats.std)}${stats.nonFinite ? `, ${stats.nonFinite} non-finite voxels` : ''}`,
      ].join('\n') + '\n',
    );
  }
  return 0;
}
