#!/usr/bin/python3
"""Executes one notebook on the tslab kernel and writes it as HTML; used by `ich export` (src/report/export.ts).

Usage: /usr/bin/python3 scripts/run_notebook.py NOTEBOOK OUT_HTML TIMEOUT_S   (seconds per cell, 0: no limit)
Prints one JSON line: {"ok": true} or {"ok": false, "cell": index, "source": ..., "error": ...}.
Stops at the first failing cell; no HTML is written for a failing notebook, so exported HTML never holds errors.
tslab reports a cell's exception only on stderr, so the failing cell's stderr is the error text.
"""
import json
import os
import re
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter


def self_contained(html):
    """Drops the page's references to Debian's local require.js and MathJax (file:// URLs that a reader's machine does
    not have; the notebooks need neither), so the exported HTML works anywhere with no console errors."""
    html = re.sub(r'<script[^>]*src="file://[^"]*"[^>]*>\s*</script>', '', html)
    html = re.sub(r'<script type="text/x-mathjax-config">.*?</script>', '', html, flags=re.S)
    return html


def main():
    path, out_html, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3])
    nb = nbformat.read(path, as_version=4)
    failed = {}

    def on_cell_error(cell, cell_index, execute_reply):
        failed['index'] = cell_index
        failed['cell'] = cell

    # 0: no limit (the long profiles' training cells run for hours).
    client = NotebookClient(nb, timeout=timeout if timeout > 0 else None, kernel_name='tslab',
                            resources={'metadata': {'path': os.path.dirname(os.path.abspath(path))}},
                            on_cell_error=on_cell_error)
    try:
        client.execute()
    except CellExecutionError as err:
        cell = failed.get('cell')
        stderr = ''
        if cell is not None:
            stderr = ''.join(o.get('text', '') for o in cell.get('outputs', [])
                             if o.get('output_type') == 'stream' and o.get('name') == 'stderr')
            stderr += ''.join('%s: %s' % (o.get('ename'), o.get('evalue')) for o in cell.get('outputs', [])
                              if o.get('output_type') == 'error')
        print(json.dumps({'ok': False, 'cell': failed.get('index'), 'source': cell.source if cell is not None else '',
                          'error': stderr.strip() or str(err).strip().splitlines()[-1]}))
        return 1
    except Exception as err:  # kernel died, timeout, missing kernel
        print(json.dumps({'ok': False, 'cell': failed.get('index'), 'source': '', 'error': '%s: %s' % (type(err).__name__, err)}))
        return 1
    errors = [i for i, c in enumerate(nb.cells) if any(o.get('output_type') == 'error' for o in c.get('outputs', []))]
    if errors:
        print(json.dumps({'ok': False, 'cell': errors[0], 'source': nb.cells[errors[0]].source, 'error': 'error output in an executed cell'}))
        return 1
    body, _ = HTMLExporter().from_notebook_node(nb)
    body = self_contained(body)
    tmp = out_html + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as fh:
        fh.write(body)
    os.replace(tmp, out_html)
    print(json.dumps({'ok': True}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
