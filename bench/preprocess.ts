/**
 * Benchmark: read + preprocess 512 x 512 x 32 .nii.gz scans to 40 x 301 x 301 (the paper's input), TypeScript beside
 * the Python reference (nibabel + numpy + PyTorch area interpolation) in the same run on the same files.
 * Usage: npm run bench:preprocess [-- --volumes 12 --json]
 * Scans come from data/synthetic (generated first when missing: 12 patients into a temporary folder).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { projectRoot } from '../src/config/paths';
import { discoverCohort } from '../src/data/cohort';
import { preprocessVolume } from '../src/data/preprocess';
import { generateSyntheticCohort } from '../src/data/synth/cohort';
import { readVolume } from '../src/io/read-volume';

async function scans(count: number): Promise<string[]> {
  let root = path.join(projectRoot(), 'data', 'synthetic');
  if (!fs.existsSync(path.join(root, 'synthetic.json'))) {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ich-bench-'));
    await generateSyntheticCohort({ out: root, patients: 40 });
  }
  const cohort = discoverCohort(root);
  const files: string[] = [];
  for (const p of cohort.patients) {
    const v = await readVolume(p.imagePath);
    if (v.dims[0] === 512 && v.dims[1] === 512 && v.dims[2] === 32) files.push(p.imagePath);
    if (files.length === count) break;
  }
  if (files.length < count) throw new Error(`benchmark expected ${count} scans of 512x512x32, got ${files.length}`);
  return files;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const count = Number(args[args.indexOf('--volumes') + 1]) || 12;
  const json = args.includes('--json');
  const files = await scans(count);
  let checksum = 0;
  preprocessVolume(await readVolume(files[0])); // warm-up (JIT)
  const started = process.hrtime.bigint();
  for (const f of files) {
    const out = preprocessVolume(await readVolume(f), { size: [40, 301, 301] });
    for (let i = 0; i < out.data.length; i++) checksum += out.data[i];
  }
  const tsSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const results: Record<string, unknown> = {
    volumes: files.length,
    tsVolumesPerSecond: files.length / tsSeconds,
    tsThreads: 1,
    tsChecksum: checksum,
  };
  for (const threads of [1, 2]) {
    const py = spawnSync('/usr/bin/python3', [path.join(projectRoot(), 'bench', 'preprocess_reference.py'), String(threads), ...files], { encoding: 'utf8' });
    if (py.status !== 0) {
      results[`python${threads}Error`] = py.stderr.trim().split('\n').pop();
      continue;
    }
    const r = JSON.parse(py.stdout.trim().split('\n').pop()!);
    results[`pythonThreads${threads}VolumesPerSecond`] = r.volumesPerSecond;
    results[`ratioVsPythonThreads${threads}`] = (results.tsVolumesPerSecond as number) / r.volumesPerSecond;
    results.pythonChecksum = r.checksum;
  }
  if (json) {
    process.stdout.write(JSON.stringify(results) + '\n');
  } else {
    for (const [k, v] of Object.entries(results)) process.stdout.write(`${k}: ${typeof v === 'number' ? v.toFixed(4) : v}\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`bench/preprocess: ${(err as Error).message}\n`);
  process.exit(1);
});
