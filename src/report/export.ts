import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Settings of {@link exportNotebooks}. */
export interface ExportOptions {
  /** Notebook files to execute, in order. */
  notebooks: string[];
  /** Folder for the HTML (created). */
  outDir: string;
  /** Prefix under which the tslab kernel is registered (`<prefix>/share/jupyter/kernels/tslab`). */
  jupyterPrefix: string;
  /** Seconds one cell may run; null: no limit; default 3600. */
  cellTimeout?: number | null;
  /** Extra environment for the kernel (e.g. ICH_PROFILE). */
  env?: NodeJS.ProcessEnv;
  /** scripts/run_notebook.py of the project. */
  runner: string;
  /** Called with each notebook's outcome as it finishes. */
  onNotebook?: (result: NotebookResult) => void;
}

/** What happened to one notebook. */
export interface NotebookResult {
  notebook: string;
  ok: boolean;
  html?: string;
  seconds: number;
  /** For a failure: the failing cell (number and source) and its error. */
  failedCell?: string;
  error?: string;
}

/** The runner's verdict on one notebook (scripts/run_notebook.py prints it as one JSON line). */
interface RunnerVerdict {
  ok: boolean;
  cell?: number | null;
  source?: string;
  error?: string;
}

/** First line of a JS error and its kind, from the stderr text tslab prints for a failing cell. */
export function summariseCellError(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.find((l) => /^[A-Za-z]*(Error|Exception)\b/.test(l)) ?? lines[lines.length - 1] ?? 'an error without a message';
}

function runNotebook(notebook: string, html: string, options: ExportOptions, runner: string): Promise<RunnerVerdict> {
  return new Promise((resolve) => {
    // Debian's python3 runs nbclient/nbconvert (its modules load only in Debian's own interpreter).
    // The runner takes 0 for no limit.
    const timeout = options.cellTimeout === undefined ? 3600 : (options.cellTimeout ?? 0);
    const child = spawn('/usr/bin/python3', [runner, notebook, html, String(timeout)], {
      cwd: path.dirname(notebook),
      env: { ...process.env, ...options.env, JUPYTER_PATH: path.join(options.jupyterPrefix, 'share', 'jupyter') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => resolve({ ok: false, error: `python3 with nbclient expected at /usr/bin/python3, got ${err.message}` }));
    child.on('close', () => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as RunnerVerdict);
      } catch {
        resolve({ ok: false, error: stderr.trim().split('\n').slice(-2).join(' ') || 'notebook runner gave no verdict' });
      }
    });
  });
}

/**
 * Executes notebooks headless on the tslab kernel (nbclient, via scripts/run_notebook.py) and writes each as self-contained HTML to `outDir`.
 * Stops at the first notebook that fails, returning its failing cell and error; executed notebooks therefore never
 * hold error outputs.
 */
export async function exportNotebooks(options: ExportOptions): Promise<NotebookResult[]> {
  fs.mkdirSync(options.outDir, { recursive: true });
  const results: NotebookResult[] = [];
  for (const notebook of options.notebooks) {
    const started = Date.now();
    const abs = path.resolve(notebook);
    if (!fs.existsSync(abs)) {
      const r = { notebook, ok: false, seconds: 0, error: `notebook expected at ${abs}, got no file` };
      results.push(r);
      options.onNotebook?.(r);
      break;
    }
    const html = path.join(path.resolve(options.outDir), path.basename(abs).replace(/\.ipynb$/, '.html'));
    const verdict = await runNotebook(abs, html, options, options.runner);
    const seconds = (Date.now() - started) / 1000;
    if (verdict.ok && fs.existsSync(html)) {
      const r = { notebook, ok: true, html, seconds };
      results.push(r);
      options.onNotebook?.(r);
      continue;
    }
    const cellNo = typeof verdict.cell === 'number' ? `cell ${verdict.cell + 1}: ` : '';
    const r = { notebook, ok: false, seconds, failedCell: verdict.source ? `${cellNo}${verdict.source}` : undefined, error: summariseCellError(verdict.error ?? '') };
    results.push(r);
    options.onNotebook?.(r);
    break;
  }
  return results;
}
