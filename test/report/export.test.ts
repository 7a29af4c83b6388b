import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exportNotebooks, summariseCellError } from '../../src/report/export';
import { FIXTURES, ROOT, tempDir } from '../support/paths';

const prefix = path.join(ROOT, '.jupyter-local');
const kernelReady = fs.existsSync(path.join(prefix, 'share', 'jupyter', 'kernels', 'tslab', 'kernel.json'));

describe('report/export (nbconvert on the tslab kernel)', function () {
  this.timeout(180000);

  it('summarises the error tslab prints for a failing cell', () => {
    const text = '<anonymous_script>:1\n{x\n ^\n\nSyntaxError: Unexpected token x\n    at JSON.parse (<anonymous>)\n';
    assert.equal(summariseCellError(text), 'SyntaxError: Unexpected token x');
    assert.equal(summariseCellError('only this'), 'only this');
    assert.equal(summariseCellError(''), 'an error without a message');
  });

  it('executes a notebook to HTML, and stops at a failing one naming its cell', async function () {
    if (!kernelReady) this.skip(); // needs `scripts/setup.sh main` (Debian Jupyter + the tslab kernel)
    const out = tempDir();
    const results = await exportNotebooks({
      notebooks: [path.join(FIXTURES, 'notebooks/ok.ipynb'), path.join(FIXTURES, 'notebooks/fails.ipynb'), path.join(FIXTURES, 'notebooks/ok.ipynb')],
      outDir: out,
      jupyterPrefix: prefix,
      runner: path.join(ROOT, 'scripts', 'run_notebook.py'),
    });
    assert.equal(results.length, 2, 'stops at the first failure');
    assert.ok(results[0].ok);
    assert.match(fs.readFileSync(results[0].html!, 'utf8'), /answer 42/);
    assert.equal(results[1].ok, false);
    assert.match(results[1].failedCell ?? '', /^cell 2: const broken = JSON\.parse\('\{not json'\)/);
    assert.match(results[1].error ?? '', /^SyntaxError: .*JSON/);
    assert.ok(!fs.existsSync(path.join(out, 'fails.html')), 'no HTML with error outputs');
  });

  it('stops a cell at the cell time limit, and lets it run without one (null, the long profiles)', async function () {
    if (!kernelReady) this.skip();
    const out = tempDir();
    const run = (cellTimeout: number | null) =>
      exportNotebooks({ notebooks: [path.join(FIXTURES, 'notebooks/slow.ipynb')], outDir: out, jupyterPrefix: prefix, runner: path.join(ROOT, 'scripts', 'run_notebook.py'), cellTimeout });
    const [limited] = await run(10);
    assert.equal(limited.ok, false);
    assert.match(limited.error ?? '', /timed out|Timeout/i);
    const [unlimited] = await run(null);
    assert.ok(unlimited.ok, unlimited.error);
    assert.match(fs.readFileSync(unlimited.html!, 'utf8'), /slow cell done/);
  });
});
