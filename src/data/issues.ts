/** Problems found in a dataset, each pointing at the file, row and column it concerns. */

/** 'error': the item is unusable and is skipped; 'warning': used, but worth a look. */
export type Severity = 'error' | 'warning';

/** One problem in a dataset: where it is and what was expected. */
export interface DataIssue {
  severity: Severity;
  /** File the problem is in (path as given). */
  file: string;
  /** 1-based line of the CSV row, when the problem is in a row. */
  row?: number;
  /** Column name, when the problem is in one cell or column. */
  column?: string;
  /** Patient the problem concerns, when known. */
  patientId?: string;
  /** "<what> expected <x>, got <y>". */
  message: string;
}

/** Formats an issue as one line: "error: file:row [column] (patient P): message". */
export function formatIssue(issue: DataIssue): string {
  const where = [issue.file, issue.row !== undefined ? `row ${issue.row}` : '', issue.column ? `column "${issue.column}"` : '']
    .filter(Boolean)
    .join(', ');
  const who = issue.patientId !== undefined ? ` (patient ${issue.patientId})` : '';
  return `${issue.severity}: ${where}${who}: ${issue.message}`;
}
