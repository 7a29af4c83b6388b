import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../backend';
import { saveCheckpoint } from '../../models/checkpoint';
import { importTorchWeights } from '../../models/import-torch';
import { parseArgs, stringFlag, UsageError, volumeSizeFlag } from '../args';

/**
 * `ich import-weights --from FILE.pt|FILE.safetensors|FOLDER --out DIR [--model NAME] [--input-size 40,301,301]`: a PyTorch state dict of one
 * of the study's models (the authors' released fold weights, a MONAI DenseNet121, the authors' Perez CNN, or a
 * checkpoint dict holding one) as a checkpoint folder that `ich predict` and `ich explain` read. The model and its
 * DenseNet sizes are read off the keys and shapes; `--model` checks them against a named model. `--input-size` is the
 * preprocessed size scans are resized to for this model (default the paper's).
 */
export async function importWeightsCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { from: 'string', out: 'string', model: 'string', 'input-size': 'string' }, 'ich import-weights');
  const from = stringFlag(args, 'from');
  if (!from) throw new UsageError('ich import-weights: --from expected a file written by torch.save (.pt / .pth) or safetensors (.safetensors), or a folder holding one, got none');
  if (!fs.existsSync(from)) throw new UsageError(`ich import-weights: --from expected a weights file or a folder holding one, got "${from}" (no such file)`);
  const out = stringFlag(args, 'out');
  if (!out) throw new UsageError('ich import-weights: --out expected a folder for the checkpoint, got none');
  const inputSize = volumeSizeFlag(args, 'input-size', [40, 301, 301], 8);
  await initBackend();
  const { model, weights, source } = importTorchWeights(from, stringFlag(args, 'model'));
  // The sha256 is that of the very bytes imported (the shards one after another).
  const sha256 = source.sha256;
  try {
    await saveCheckpoint(out, model, {
      densenet: weights.densenet,
      inputSize,
      info: { importedFrom: source.files.length === 1 ? source.files[0] : source.files, sha256, layout: weights.layout, heads: weights.heads, ignoredKeys: weights.ignored.length },
    });
    const d = weights.densenet;
    const backbone = model.spec.backbone === 'densenet' ? `DenseNet blocks ${d.blocks!.join(',')}, growth ${d.growth}, stem ${d.initFeatures}, bottleneck ${d.bnSize}x` : 'Perez del Barrio CNN';
    const heads = Object.entries(weights.heads).map(([task, key]) => `${task} <- ${key}`).join(', ');
    process.stdout.write(
      `imported ${model.spec.name} (${weights.layout} layout; ${backbone}; ${(model.store.countTrainable() / 1e6).toFixed(2)} M parameters) from ${source.files.length === 1 ? source.files[0] : `${source.files.length} shards in ${path.resolve(from)}`}\n` +
        `heads: ${heads}${weights.ignored.length ? `; ${weights.ignored.length} num_batches_tracked counters left out` : ''}\n` +
        `wrote ${path.resolve(out)} (input ${inputSize.join('x')}, sha256 ${sha256.slice(0, 12)})\n`,
    );
  } finally {
    model.dispose();
  }
  return 0;
}
