import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeBackend, initBackend } from '../../backend';
import { cacheDir, dataDir } from '../../config/paths';
import { discoverCohort } from '../../data/cohort';
import { paperDisplayMap } from '../../explain/display';
import { lesionLocalisation } from '../../explain/evaluate';
import { explainPatient, loadExplainableModel, writeSaliencyNifti } from '../../explain/run';
import { SALIENCY_METHODS, saliencyMap, SaliencyMethod } from '../../explain/saliency';
import { TASK_OUTPUTS, TaskName } from '../../models/tasks';
import { intFlag, parseArgs, stringFlag, UsageError } from '../args';

/**
 * `ich explain --model CHECKPOINT --patient ID --method gbp|gradcam|ggcam [--head prognosis] [--output K]
 * [--layer transition3.conv] [--display] [--data DIR] --out FILE.nii.gz`: one saliency map of one patient as NIfTI in
 * the preprocessed geometry (raw values; `--display` writes the paper's min-max + threshold 0.5 map instead).
 * Prints the explained probability and, when the patient has a lesion mask, how much of the map lies on the hematoma.
 */
export async function explainCommand(argv: string[]): Promise<number> {
  const args = parseArgs(
    argv,
    { model: 'string', patient: 'string', method: 'string', head: 'string', output: 'string', layer: 'string', display: 'boolean', data: 'string', out: 'string' },
    'ich explain',
  );
  const dir = stringFlag(args, 'model');
  if (!dir) throw new UsageError('ich explain: --model expected a checkpoint folder (e.g. runs/quick/mt-ord-gcs-bin-age/fold-0/best), got none');
  if (!fs.existsSync(path.join(dir, 'model.json'))) throw new UsageError(`ich explain: --model expected a checkpoint folder with model.json, got "${dir}"`);
  const id = stringFlag(args, 'patient');
  if (!id) throw new UsageError('ich explain: --patient expected a patient ID, got none');
  const method = (stringFlag(args, 'method') ?? '') as SaliencyMethod;
  if (!SALIENCY_METHODS.includes(method)) throw new UsageError(`ich explain: --method expected one of ${SALIENCY_METHODS.join(', ')}, got "${method}"`);
  const out = stringFlag(args, 'out');
  if (!out || !/\.nii(\.gz)?$/.test(out)) throw new UsageError(`ich explain: --out expected a .nii or .nii.gz file, got ${out ? `"${out}"` : 'none'}`);
  const head = stringFlag(args, 'head') as TaskName | undefined;
  if (head && !(head in TASK_OUTPUTS)) throw new UsageError(`ich explain: --head expected one of ${Object.keys(TASK_OUTPUTS).join(', ')}, got "${head}"`);
  const output = args.flags.output === undefined ? undefined : intFlag(args, 'output', 0, 0, 1);
  const report = await initBackend();
  process.stderr.write(`${describeBackend(report)}\n`);
  const cohort = discoverCohort(stringFlag(args, 'data', dataDir())!);
  const patient = cohort.patients.find((p) => p.id === id);
  if (!patient) throw new UsageError(`ich explain: --patient expected a usable patient of ${cohort.root}, got "${id}"`);
  const model = loadExplainableModel(dir);
  try {
    const s = await explainPatient(model, patient, { head, output, layer: stringFlag(args, 'layer'), cacheDir: cacheDir() });
    const raw = saliencyMap(s.maps, method);
    const display = paperDisplayMap(raw);
    const map = args.flags.display ? display : raw;
    await writeSaliencyNifti(out, map, s.shape, patient.imagePath, model.preprocess, `ich ${method} ${s.maps.head}:${s.maps.output} ${model.meta.spec.name}`);
    process.stdout.write(`patient ${id} (label ${patient.label ? 'poor' : 'good'}): ${s.maps.head}[${s.maps.output}] probability ${s.maps.probability.toFixed(3)}\n`);
    if (s.lesion) {
      const l = lesionLocalisation(display, s.lesion);
      process.stdout.write(`hematoma: ${(100 * l.massFraction).toFixed(1)} % of the displayed ${method} mass (chance ${(100 * l.lesionFraction).toFixed(1)} %), most salient voxel ${l.hit ? 'on' : 'off'} the hematoma\n`);
    }
    process.stdout.write(`wrote ${path.resolve(out)} (${s.shape.join('x')}, ${args.flags.display ? 'paper display' : 'raw values'})\n`);
  } finally {
    model.model.dispose();
  }
  return 0;
}
