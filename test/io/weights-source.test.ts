import { strict as assert } from 'node:assert';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSafetensors } from '../../src/io/safetensors';
import { findStateDict, readTorchFile, TorchTensor } from '../../src/io/torch-file';
import { readWeightsSource } from '../../src/io/weights-source';
import { FIXTURES, tempDir } from '../support/paths';

const TORCH2 = path.join(FIXTURES, 'torch', 'torch2');
// Golden: the three-head model as PyTorch 2.6 saved it (make_torch_file_fixtures.py).
const expected = () => findStateDict(readTorchFile(path.join(TORCH2, 'authors-3head.pt')), 'authors-3head.pt');

function assertSameState(got: Map<string, TorchTensor>, want: Map<string, TorchTensor>): void {
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [k, t] of want) assert.deepEqual(Array.from(got.get(k)!.values), Array.from(t.values), k);
}

/** A folder holding the named files (copies of fixtures, or text). */
function folder(files: Record<string, string | Uint8Array>): string {
  const dir = tempDir();
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  return dir;
}

describe('io: weights read from a file or from a folder as Hugging Face downloads leave it', () => {
  const pt = () => fs.readFileSync(path.join(TORCH2, 'authors-3head.pt'));
  const st = () => fs.readFileSync(path.join(TORCH2, 'authors-3head.safetensors'));

  it('a file: its state dict, its path and the SHA-256 of its bytes', () => {
    const file = path.join(TORCH2, 'authors-3head.safetensors');
    const source = readWeightsSource(file);
    assertSameState(source.state, expected());
    assert.deepEqual(source.files, [path.resolve(file)]);
    assert.equal(source.sha256, crypto.createHash('sha256').update(st()).digest('hex'));
  });

  it('a folder: model.safetensors or pytorch_model.bin first, else its only weights file', () => {
    const hub = folder({ 'model.safetensors': st(), 'pytorch_model.bin': pt(), 'config.json': '{}', 'README.md': '# model' });
    assert.deepEqual(readWeightsSource(hub).files, [path.join(hub, 'model.safetensors')]);
    assertSameState(readWeightsSource(hub).state, expected());
    const bin = folder({ 'pytorch_model.bin': pt(), 'other.pt': pt() });
    assert.deepEqual(readWeightsSource(bin).files, [path.join(bin, 'pytorch_model.bin')]);
    const single = folder({ 'fold0.pth': pt(), 'notes.txt': 'x' });
    assertSameState(readWeightsSource(single).state, expected());
  });

  it('a sharded checkpoint: every key from the shard its index names, the hash over the shards in order', () => {
    const state = expected();
    const keys = [...state.keys()];
    const half = Math.floor(keys.length / 2);
    const shard = (part: string[]) => encodeSafetensors(new Map(part.map((k) => [k, { dtype: state.get(k)!.dtype as 'float32' | 'int64', shape: state.get(k)!.shape, values: state.get(k)!.values }])));
    const a = shard(keys.slice(0, half));
    const b = shard(keys.slice(half));
    const weightMap = Object.fromEntries(keys.map((k, i) => [k, i < half ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors']));
    const dir = folder({ 'model-00001-of-00002.safetensors': a, 'model-00002-of-00002.safetensors': b, 'model.safetensors.index.json': JSON.stringify({ metadata: {}, weight_map: weightMap }) });
    const source = readWeightsSource(dir);
    assertSameState(source.state, state);
    assert.deepEqual(source.files, [path.join(dir, 'model-00001-of-00002.safetensors'), path.join(dir, 'model-00002-of-00002.safetensors')]);
    assert.equal(source.sha256, crypto.createHash('sha256').update(a).update(b).digest('hex'));
    // An index that maps a key to the other shard, or names a key no shard holds, is named.
    const wrong = { ...weightMap, [keys[0]]: 'model-00002-of-00002.safetensors' };
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: wrong }));
    assert.throws(() => readWeightsSource(dir), /weights index expected shard model-00001-of-00002\.safetensors to hold only the tensors it maps there, got .*, mapped to model-00002-of-00002\.safetensors \(.*index\.json\)/);
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...weightMap, 'extra.weight': 'model-00002-of-00002.safetensors' } }));
    assert.throws(() => readWeightsSource(dir), /weights index expected tensor extra\.weight in shard model-00002-of-00002\.safetensors, got none/);
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: '../elsewhere.safetensors' } }));
    assert.throws(() => readWeightsSource(dir), /weights index expected a weight_map of tensor names to shard files in its folder/);
  });

  it('names a folder with no weights file, or several without one of the usual names, listing them', () => {
    const none = folder({ 'README.md': '# nothing' });
    assert.throws(() => readWeightsSource(none), /weights folder expected model\.safetensors or pytorch_model\.bin, a sharded index .* got none \(/);
    const several = folder({ 'fold0-mt.pth': pt(), 'fold0-st.pth': pt() });
    assert.throws(() => readWeightsSource(several), /got 2: fold0-mt\.pth, fold0-st\.pth; name one as --from .*fold0-mt\.pth \(/);
  });
});
