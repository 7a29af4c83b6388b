import { strict as assert } from 'node:assert';
import { formatCsv, parseCsv } from '../../src/io/csv';

describe('io/csv', () => {
  it('parses quotes, embedded commas and newlines, CRLF, a BOM and UTF-8 headers', () => {
    const t = parseCsv('\ufeffPatientID,Tº,note\r\n1,36.5,"a, b"\r\n2,37,"multi\nline ""q"""\n\n');
    assert.deepEqual(t.header, ['PatientID', 'Tº', 'note']);
    assert.deepEqual(t.rows.map((r) => r.cells), [['1', '36.5', 'a, b'], ['2', '37', 'multi\nline "q"']]);
    assert.deepEqual(t.rows.map((r) => r.line), [2, 3]);
  });

  it('keeps empty cells and reports an unterminated quote with its line', () => {
    assert.deepEqual(parseCsv('a,b\n1,\n').rows[0].cells, ['1', '']);
    assert.throws(() => parseCsv('a,b\n1,"open\n', 'x.csv'), /closing quote.*x\.csv, quoted field from line 2/);
    assert.throws(() => parseCsv('', 'e.csv'), /header row, got an empty file \(e\.csv\)/);
  });

  it('formats what it parses back', () => {
    const text = formatCsv(['a', 'b'], [[1, 'x,y'], [NaN, 'he said "hi"']]);
    assert.deepEqual(parseCsv(text).rows.map((r) => r.cells), [['1', 'x,y'], ['', 'he said "hi"']]);
  });
});
