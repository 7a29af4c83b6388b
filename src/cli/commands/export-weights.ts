import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../backend';
import { writeTorchFile } from '../../io/torch-save';
import { loadModel } from '../../models/checkpoint';
import { exportTorchWeights, TorchLayout } from '../../models/export-torch';
import { parseArgs, stringFlag, UsageError } from '../args';

const LAYOUTS: readonly TorchLayout[] = ['authors', 'monai', 'ich'];

/**
 * `ich export-weights --model CHECKPOINT --out FILE.pt [--layout authors|monai|ich]`: a checkpoint folder (from
 * `ich train` or `ich import-weights`) as a torch.save state dict that the authors' PyTorch classes (default), MONAI's
 * DenseNet121 (prognosis-only DenseNets) or this project's own names load with `load_state_dict(strict=True)`: to go on
 * in PyTorch with a model trained here, or compare both sides on one set of weights. Prints the Python to load it.
 */
export async function exportWeightsCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { model: 'string', out: 'string', layout: 'string' }, 'ich export-weights');
  const dir = stringFlag(args, 'model');
  if (!dir) throw new UsageError('ich export-weights: --model expected a checkpoint folder (from ich train or ich import-weights), got none');
  if (!fs.existsSync(path.join(dir, 'model.json'))) throw new UsageError(`ich export-weights: --model expected a checkpoint folder with model.json, got "${dir}"`);
  const out = stringFlag(args, 'out');
  if (!out) throw new UsageError('ich export-weights: --out expected a file name for the state dict (.pt or .pth), got none');
  if (!/\.pth?$/.test(out)) throw new UsageError(`ich export-weights: --out expected a .pt or .pth file, got "${out}"`);
  const layout = stringFlag(args, 'layout', 'authors') as TorchLayout;
  if (!LAYOUTS.includes(layout)) throw new UsageError(`ich export-weights: --layout expected ${LAYOUTS.join(', ')}, got "${layout}"`);
  await initBackend();
  const { model, meta } = loadModel(dir);
  try {
    const exported = exportTorchWeights(model, meta.densenet, layout);
    writeTorchFile(out, exported.state);
    const sha256 = crypto.createHash('sha256').update(fs.readFileSync(out)).digest('hex');
    const heads = Object.entries(exported.heads).map(([task, key]) => `${task} -> ${key}`).join(', ');
    process.stdout.write(
      `exported ${model.spec.name} (${layout} layout; ${exported.state.size} tensors, ${(model.store.countTrainable() / 1e6).toFixed(2)} M parameters; input ${meta.inputSize.join('x')}) to ${path.resolve(out)} (sha256 ${sha256.slice(0, 12)})\n` +
        `heads: ${heads}\n` +
        `in Python: model = ${exported.module}\n` +
        `           model.load_state_dict(torch.load(${JSON.stringify(out)}, weights_only=True), strict=True)\n`,
    );
  } finally {
    model.dispose();
  }
  return 0;
}
