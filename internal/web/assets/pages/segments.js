// The segments list: each segment's size, its size over the last 30 days
// and when its rule last changed. One request: the list answers the
// histories too (?history=30).
import { html, useState, useEffect, api, ErrorBox, Spinner, Sparkline, fmtNum, fmtAgo, fmtTime } from '../lib.js';
import { fixErr } from '../components/seg-rules.js';

const DAYS = 30;

export default function Page() {
  const [segs, setSegs] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const c = new AbortController();
    api(`/api/segments?history=${DAYS}`, { signal: c.signal })
      .then((r) => setSegs(r.segments))
      .catch((e) => { if (!c.signal.aborted) setError(fixErr(e)); });
    return () => c.abort();
  }, []);
  return html`<div class="seg-list">
    <div style="display:flex;align-items:center;gap:1rem;flex-wrap:wrap">
      <h1 style="margin-right:auto">Segments</h1>
      <a class="btn primary" href="/segments/new">New segment</a>
    </div>
    <${ErrorBox} error=${error} />
    ${segs === null && !error ? html`<${Spinner} label="Loading segments" />`
      : segs && segs.length === 0 ? html`<p class="card muted">No segments yet. <a href="/segments/new">Create the first one</a>.</p>`
      : segs && html`<div class="card" style="overflow-x:auto"><table id="segments">
        <caption class="muted" style="text-align:left">${segs.length} segments; the line is each one's size over the last ${DAYS} days</caption>
        <thead><tr><th scope="col">Name</th><th scope="col" style="text-align:right">Members</th>
          <th scope="col">Last ${DAYS} days</th><th scope="col">Rule changed</th><th scope="col"><span class="muted">Actions</span></th></tr></thead>
        <tbody>${segs.map((s) => {
          const sizes = (s.history || []).map((d) => d.size);
          const today = (s.history || [])[sizes.length - 1];
          return html`<tr key=${s.id} data-segment=${s.id}>
            <td><a href=${`/segments/${encodeURIComponent(s.id)}`}>${s.name || s.id}</a>
              ${s.description && html`<div class="muted" style="font-size:.85em">${s.description}</div>`}</td>
            <td style="text-align:right" class="size">${fmtNum(s.size)}
              ${today && (today.entered || today.exited) ? html`<div class="muted" style="font-size:.85em">today +${fmtNum(today.entered)} −${fmtNum(today.exited)}</div>` : null}</td>
            <td aria-label=${`size over the last ${sizes.length} days: ${sizes.join(', ')}`}>
              ${sizes.length > 0 ? html`<${Sparkline} values=${sizes.length === 1 ? [sizes[0], sizes[0]] : sizes} />` : html`<span class="muted">—</span>`}</td>
            <td><time datetime=${s.updated_at} title=${fmtTime(s.updated_at)}>${fmtAgo(s.updated_at)}</time></td>
            <td><a class="btn" href=${`/segments/${encodeURIComponent(s.id)}/edit`} aria-label=${`edit ${s.name || s.id}`}>Edit</a></td>
          </tr>`;
        })}</tbody></table></div>`}
  </div>`;
}
