// The journeys list: each journey's status, trigger and figures (entered,
// in progress, converted, revenue) from GET /api/journeys.
import { html, useState, useEffect, api, ErrorBox, Spinner, fmtNum, fmtAgo, fmtTime } from '../lib.js';

/** triggerText says in words what lets a profile into a journey. */
export function triggerText(t) {
  if (!t) return '';
  switch (t.type) {
    case 'event': return `event “${t.event}”${t.where && t.where.length ? ' (filtered)' : ''}`;
    case 'segment_entered': return `enters segment ${t.segment}`;
    case 'segment_exited': return `leaves segment ${t.segment}`;
    case 'schedule': return `broadcast to ${t.segment} at ${fmtTime(t.at)}${t.every ? `, every ${t.every}` : ''}`;
    case 'api': return 'API call';
    default: return t.type;
  }
}

export function StatusBadge({ status }) {
  const colour = { live: '#1a7f37', paused: '#9a6700', draft: '#57606a', archived: '#6e7781' }[status] || '#57606a';
  return html`<span class="jr-status" style=${`border:1px solid ${colour};color:${colour};border-radius:1em;padding:0 .5em;font-size:.85em;white-space:nowrap`}>${status}</span>`;
}

export default function Page() {
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const c = new AbortController();
    api('/api/journeys', { signal: c.signal })
      .then((r) => setList(r.journeys))
      .catch((e) => { if (!c.signal.aborted) setError(e); });
    return () => c.abort();
  }, []);
  return html`<div>
    <h1>Journeys</h1>
    <${ErrorBox} error=${error} />
    ${list === null && !error ? html`<${Spinner} label="Loading journeys" />`
      : list && list.length === 0 ? html`<p class="card muted">No journeys yet: create one with POST /api/journeys (see docs/API.md).</p>`
      : list && html`<div class="card" style="overflow-x:auto"><table id="journeys">
        <caption class="muted" style="text-align:left">${list.length} journeys</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Trigger</th>
          <th scope="col" style="text-align:right">Entered</th><th scope="col" style="text-align:right">In progress</th>
          <th scope="col" style="text-align:right">Converted</th><th scope="col" style="text-align:right">Revenue</th>
          <th scope="col">Version</th></tr></thead>
        <tbody>${list.map((j) => html`<tr key=${j.id} data-journey=${j.id}>
          <td><a href=${`/journeys/${encodeURIComponent(j.id)}`}>${j.name || j.id}</a>
            ${j.description && html`<div class="muted" style="font-size:.85em">${j.description}</div>`}</td>
          <td><${StatusBadge} status=${j.status} /></td>
          <td>${triggerText(j.trigger)}</td>
          <td style="text-align:right" class="entered">${fmtNum(j.entered)}</td>
          <td style="text-align:right" class="active">${fmtNum(j.active)}</td>
          <td style="text-align:right" class="converted">${fmtNum(j.converted)}</td>
          <td style="text-align:right">${fmtNum(Math.round(j.revenue || 0))}</td>
          <td>v${j.version} <span class="muted" title=${fmtTime(j.updated_at)}>${fmtAgo(j.updated_at)}</span></td>
        </tr>`)}</tbody></table></div>`}
  </div>`;
}
