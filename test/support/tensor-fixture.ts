import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES } from './paths';

/**
 * A PyTorch reference dumped by test/fixtures/gen/make_*_fixtures.py (Debian python3-torch 1.13): `<name>.json`
 * (meta and an index of named tensors) and `<name>.bin` (their float32 values).
 */
export function loadTensorFixture(name: string): { get: (key: string) => Float32Array; keys: string[]; meta: any } {
  const meta = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'models', `${name}.json`), 'utf8'));
  const bytes = fs.readFileSync(path.join(FIXTURES, 'models', `${name}.bin`));
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const byName = new Map<string, { offset: number; length: number }>(meta.tensors.map((t: any) => [t.name, t]));
  return {
    meta,
    keys: meta.tensors.map((t: any) => t.name),
    get: (key) => {
      const t = byName.get(key);
      if (!t) throw new Error(`fixture key ${key} missing`);
      return all.slice(t.offset, t.offset + t.length);
    },
  };
}
