import { CheckReport } from '../data/check';
import { DescriptiveRow } from '../data/describe';
import { formatIssue } from '../data/issues';
import { METRIC_LABELS, ModelSummary, TABLE_METRICS } from '../eval/aggregate';
import { escapeHtml, htmlTable } from './html';

/** A dataset check as HTML: the summary, the histograms and every problem found. */
export function checkReportHtml(report: CheckReport): string {
  const s = report.summary;
  const issues = report.issues.map(formatIssue);
  return [
    `<p style="font-family:sans-serif"><b>${escapeHtml(report.root)}</b> (${escapeHtml(s.layout ?? 'layout not recognised')}): ` +
      `${s.rows} clinical rows, ${s.withImage} scans, <b>${s.usablePatients} usable patients</b> (${s.labels.poor} poor, ${s.labels.good} good); ` +
      `excluded as in the paper: ${escapeHtml(s.excluded.join(', ') || 'none')}; usable: <b>${report.usable ? 'yes' : 'NO'}</b></p>`,
    htmlTable(['GCS', ...Object.keys(s.gcsHistogram)], [['patients', ...Object.values(s.gcsHistogram)]], 'GCS histogram'),
    htmlTable(['slices', ...Object.keys(s.sliceHistogram)], [['scans', ...Object.values(s.sliceHistogram)]], 'Slices per scan'),
    issues.length
      ? `<details><summary style="font-family:sans-serif">${issues.length} problems</summary><pre>${escapeHtml(issues.join('\n'))}</pre></details>`
      : '<p style="font-family:sans-serif">No problems found.</p>',
  ].join('\n');
}

/** A Table 1 (clinical variables by outcome) as HTML. */
export function describeTableHtml(rows: readonly DescriptiveRow[], caption = 'Clinical variables by outcome'): string {
  return htmlTable(['variable', 'unit', 'good prognosis', 'poor prognosis'], rows.map((r) => [r.variable, r.unit, r.good, r.poor]), caption);
}

/** A results table (paper style, "mean +-std") as HTML. */
export function resultsTableHtml(table: { header: string[]; rows: string[][] }, caption: string): string {
  return htmlTable(table.header, table.rows, caption);
}

/** Per-fold metrics of a model as HTML. */
export function foldMetricsHtml(summary: ModelSummary, caption = `${summary.model}: test metrics per fold`): string {
  return htmlTable(
    ['fold', ...TABLE_METRICS.map((k) => METRIC_LABELS[k]), 'patients'],
    summary.folds.map((m, i) => [String(i), ...TABLE_METRICS.map((k) => (Number.isNaN(m[k]) ? 'n/a' : m[k].toFixed(3))), m.n]),
    caption,
  );
}
