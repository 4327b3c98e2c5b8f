/** Highlights SQL for display: a small tokenizer that wraps keywords, strings, numbers and comments in spans; every token is escaped. */
import { html, type Html } from "./html.ts";

const KEYWORDS = new Set(`select from where and or not in is null as on join left right inner outer full cross group by order having limit offset
union all distinct case when then else end with over partition asc desc between like exists cast qualify window interval true false
insert update delete merge create drop alter table view into values set using unnest struct array except replace`.split(/\s+/));

const TOKEN = /(--[^\n]*|\/\*[\s\S]*?\*\/)|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(`[^`]*`)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)|([\s\S])/g;

/** The SQL as highlighted, escaped markup. */
export function highlightSql(sql: string): Html {
  const parts: Html[] = [];
  for (const m of sql.matchAll(TOKEN)) {
    const [t, comment, str, quoted, num, word] = m;
    if (comment) parts.push(html`<span class="c">${comment}</span>`);
    else if (str) parts.push(html`<span class="s">${str}</span>`);
    else if (quoted) parts.push(html`${quoted}`);
    else if (num) parts.push(html`<span class="n">${num}</span>`);
    else if (word) parts.push(KEYWORDS.has(word.toLowerCase()) ? html`<span class="k">${word}</span>` : html`${word}`);
    else parts.push(html`${t}`);
  }
  return html`<pre class="sql"><code>${parts}</code></pre>`;
}
