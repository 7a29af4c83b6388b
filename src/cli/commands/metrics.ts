import * as fs from 'node:fs';
import { parseCsv } from '../../io/csv';
import { binaryMetrics } from '../../eval/metrics';
import { numberFlag, parseArgs, stringFlag, UsageError } from '../args';

/**
 * `ich metrics --predictions FILE.csv [--threshold 0.5] [--json]`: every binary metric of a predictions file with
 * columns `label` (0/1, 1 = poor prognosis) and `score` (probability of poor prognosis).
 */
export async function metricsCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { predictions: 'string', threshold: 'string', json: 'boolean' }, 'ich metrics');
  const file = stringFlag(args, 'predictions');
  if (!file) throw new UsageError('ich metrics: --predictions expected a CSV file with columns label and score, got none');
  const threshold = numberFlag(args, 'threshold', 0.5, (v) => v >= 0 && v <= 1, 'a probability in [0, 1]');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`predictions file expected to be readable, got ${(err as NodeJS.ErrnoException).code ?? 'an error'} (${file})`);
  }
  const table = parseCsv(text, file);
  const li = table.header.indexOf('label');
  const si = table.header.indexOf('score');
  if (li < 0 || si < 0) throw new UsageError(`predictions file expected columns label and score, got [${table.header.join(', ')}] (${file})`);
  const labels: number[] = [];
  const scores: number[] = [];
  for (const { line, cells } of table.rows) {
    const y = Number(cells[li]);
    const s = Number(cells[si]);
    if (cells[li].trim() === '' || (y !== 0 && y !== 1)) throw new UsageError(`label expected 0 or 1, got "${cells[li]}" (${file}, row ${line})`);
    if (cells[si].trim() === '' || !Number.isFinite(s)) throw new UsageError(`score expected a number, got "${cells[si]}" (${file}, row ${line})`);
    labels.push(y);
    scores.push(s);
  }
  const m = binaryMetrics(labels, scores, threshold);
  if (args.flags.json) process.stdout.write(JSON.stringify(m) + '\n');
  else for (const [k, v] of Object.entries(m)) process.stdout.write(`${k}: ${Number.isInteger(v) ? v : (v as number).toFixed(4)}\n`);
  return 0;
}
