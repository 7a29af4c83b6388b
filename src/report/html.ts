/** Small HTML builders for notebook output: escaped text, tables, image tags. No logic about the study here. */

/** Escapes text for HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** An HTML table with a header row; cells are escaped. */
export function htmlTable(header: readonly string[], rows: readonly (readonly (string | number)[])[], caption?: string): string {
  const cell = (v: string | number, tag: 'td' | 'th') => `<${tag} style="padding:2px 8px;text-align:${typeof v === 'number' ? 'right' : 'left'}">${escapeHtml(String(v))}</${tag}>`;
  return [
    '<table style="border-collapse:collapse;font-family:sans-serif;font-size:13px">',
    caption ? `<caption style="text-align:left;font-weight:bold;padding:4px 0">${escapeHtml(caption)}</caption>` : '',
    `<thead><tr style="border-bottom:1px solid #888">${header.map((h) => cell(h, 'th')).join('')}</tr></thead>`,
    `<tbody>${rows.map((r) => `<tr>${r.map((v) => cell(v, 'td')).join('')}</tr>`).join('')}</tbody>`,
    '</table>',
  ].join('');
}

/** An inline PNG image with a caption underneath. */
export function htmlImage(png: Uint8Array, caption: string): string {
  return `<figure style="display:inline-block;margin:4px"><img src="data:image/png;base64,${Buffer.from(png).toString('base64')}" alt="${escapeHtml(caption)}"/><figcaption style="font:12px sans-serif;text-align:center">${escapeHtml(caption)}</figcaption></figure>`;
}
