import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../backend';
import { exportCheckpointToTorch, TorchLayout } from '../../models/export-torch';
import { parseArgs, stringFlag, UsageError } from '../args';

const LAYOUTS: readonly TorchLayout[] = ['authors', 'monai', 'ich'];

/**
 * `ich export-weights --model CHECKPOINT --out FILE.pt|FILE.safetensors [--layout authors|monai|ich]`: a checkpoint
 * folder (from `ich train` or `ich import-weights`) as a torch.save (or safetensors) state dict that the authors' PyTorch classes (default), MONAI's
 * DenseNet121 (prognosis-only DenseNets) or this project's own names load with `load_state_dict(strict=True)`: to go on
 * in PyTorch with a model trained here, or compare both sides on one set of weights. Prints the Python to load it.
 */
export async function exportWeightsCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { model: 'string', out: 'string', layout: 'string' }, 'ich export-weights');
  const dir = stringFlag(args, 'model');
  if (!dir) throw new UsageError('ich export-weights: --model expected a checkpoint folder (from ich train or ich import-weights), got none');
  if (!fs.existsSync(path.join(dir, 'model.json'))) throw new UsageError(`ich export-weights: --model expected a checkpoint folder with model.json, got "${dir}"`);
  const out = stringFlag(args, 'out');
  if (!out) throw new UsageError('ich export-weights: --out expected a file name for the state dict (.pt, .pth or .safetensors), got none');
  if (!/\.(pth?|safetensors)$/i.test(out)) throw new UsageError(`ich export-weights: --out expected a .pt or .pth file (torch.save) or a .safetensors file, got "${out}"`);
  const layout = stringFlag(args, 'layout', 'authors') as TorchLayout;
  if (!LAYOUTS.includes(layout)) throw new UsageError(`ich export-weights: --layout expected ${LAYOUTS.join(', ')}, got "${layout}"`);
  await initBackend();
  const e = exportCheckpointToTorch(dir, out, layout);
  const heads = Object.entries(e.heads).map(([task, key]) => `${task} -> ${key}`).join(', ');
  const [build, load] = e.python.split('\n');
  process.stdout.write(
    `exported ${e.model} (${layout} layout; ${e.tensors} tensors, ${(e.parameters / 1e6).toFixed(2)} M parameters; input ${e.inputSize.join('x')}) to ${e.file} (sha256 ${e.sha256.slice(0, 12)})\n` +
      `heads: ${heads}\n` +
      `in Python: ${build}\n` +
      `           ${load}\n`,
  );
  return 0;
}
