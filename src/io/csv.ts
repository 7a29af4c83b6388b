/** Comma-separated values as spreadsheets and pandas write them (RFC 4180 quoting, UTF-8, optional BOM). */

/** A parsed table: the header and the data rows, each with the 1-based line number it started on. */
export interface CsvTable {
  header: string[];
  rows: { line: number; cells: string[] }[];
}

/**
 * Parses CSV text. Quoted fields may hold commas, quotes ("") and newlines; CRLF and LF both end records;
 * a UTF-8 byte-order mark is dropped; blank lines are skipped.
 * @throws on an unterminated quoted field, naming the line where it started.
 */
export function parseCsv(text: string, source = 'csv'): CsvTable {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let field = '';
  let inQuotes = false;
  let line = 1;
  let recordLine = 1;
  let quoteLine = 0;
  let fieldStarted = false;
  const endRecord = () => {
    cells.push(field);
    if (!(cells.length === 1 && cells[0] === '' && !fieldStarted)) records.push({ line: recordLine, cells });
    cells = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          inQuotes = false;
        }
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"') {
      inQuotes = true;
      fieldStarted = true;
      quoteLine = line;
    } else if (ch === ',') {
      cells.push(field);
      field = '';
      fieldStarted = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += ch;
      fieldStarted = true;
    }
  }
  if (inQuotes) throw new Error(`CSV expected a closing quote, got end of file (${source}, quoted field from line ${quoteLine})`);
  if (field !== '' || cells.length > 0 || fieldStarted) endRecord();
  if (records.length === 0) throw new Error(`CSV expected a header row, got an empty file (${source})`);
  const [head, ...rows] = records;
  return { header: head.cells.map((c) => c.trim()), rows };
}

/** Quotes a CSV cell when it holds a comma, quote or newline. */
export function csvCell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  const s = typeof value === 'number' && !Number.isFinite(value) ? '' : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Serialises a header and rows as CSV text with LF line ends. */
export function formatCsv(header: readonly string[], rows: readonly (readonly (string | number | boolean | null | undefined)[])[]): string {
  return [header.map(csvCell).join(','), ...rows.map((r) => r.map(csvCell).join(','))].join('\n') + '\n';
}
