// The message templates: each one's channel, current version, locales and
// when it last changed; each links to its editor.
import { html, useState, useEffect, api, ErrorBox, Spinner, fmtAgo, fmtTime } from '../lib.js';

export default function Page() {
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const c = new AbortController();
    api('/api/templates', { signal: c.signal })
      .then((r) => setList(r.templates || []))
      .catch((e) => { if (!c.signal.aborted) setError(e); });
    return () => c.abort();
  }, []);
  return html`<div>
    <div style="display:flex;align-items:center;gap:1rem;flex-wrap:wrap">
      <h1 style="margin-right:auto">Templates</h1>
      <a class="btn primary" href="/templates/new">New template</a>
    </div>
    <${ErrorBox} error=${error} />
    ${list === null && !error ? html`<${Spinner} label="Loading templates" />`
      : list && list.length === 0 ? html`<p class="card muted">No templates yet. <a href="/templates/new">Write the first one</a>.</p>`
      : list && html`<div class="card" style="overflow-x:auto"><table id="templates">
        <caption class="muted" style="text-align:left">${list.length} templates; every save is a new version, messages already queued keep theirs</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Channel</th><th scope="col" style="text-align:right">Version</th>
          <th scope="col">Locales</th><th scope="col">Changed</th></tr></thead>
        <tbody>${list.map((t) => html`<tr key=${t.id} data-template=${t.id}>
          <td><a href=${`/templates/${encodeURIComponent(t.id)}`}>${t.name || t.id}</a> <span class="muted small mono">${t.id}</span></td>
          <td>${t.channel}</td>
          <td style="text-align:right" class="version">${t.version}</td>
          <td>${t.locales.length ? t.locales.join(', ') : html`<span class="muted">default only</span>`}</td>
          <td><time datetime=${t.updated} title=${fmtTime(t.updated)}>${fmtAgo(t.updated)}</time></td>
        </tr>`)}</tbody></table></div>`}
  </div>`;
}
