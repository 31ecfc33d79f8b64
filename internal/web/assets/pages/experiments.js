// The experiments list: each experiment's kind, status, variants with their
// exposure counts and primary metric, from GET /api/experiments.
import { html, useState, useEffect, api, ErrorBox, Spinner, fmtNum, fmtAgo, fmtTime } from '../lib.js';

export function ExpStatus({ status }) {
  const colour = { running: '#1a7f37', stopped: '#6e7781', draft: '#57606a' }[status] || '#57606a';
  return html`<span class="ex-status" style=${`border:1px solid ${colour};color:${colour};border-radius:1em;padding:0 .5em;font-size:.85em;white-space:nowrap`}>${status}</span>`;
}

/** metricText says in words what a goal metric counts. */
export function metricText(m) {
  const where = m.where && Object.keys(m.where).length
    ? ` where ${Object.entries(m.where).map(([k, v]) => `${k} = ${v}`).join(', ')}` : '';
  switch (m.kind) {
    case 'conversion': return `did “${m.event}”${where}`;
    case 'revenue': return `revenue (${m.property} of “${m.event}”)${where}`;
    default: return `sum of ${m.property} of “${m.event}”${where}`;
  }
}

export default function Page() {
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const c = new AbortController();
    api('/api/experiments', { signal: c.signal })
      .then((r) => setList(r.experiments))
      .catch((e) => { if (!c.signal.aborted) setError(e); });
    return () => c.abort();
  }, []);
  return html`<div>
    <h1>Experiments</h1>
    <${ErrorBox} error=${error} />
    ${list === null && !error ? html`<${Spinner} label="Loading experiments" />`
      : list && list.length === 0 ? html`<p class="card muted">No experiments yet: create one with POST /api/experiments (variants with weights, goal metrics), then start it.</p>`
      : list && html`<div class="card" style="overflow-x:auto"><table id="experiments">
        <caption class="muted" style="text-align:left">${list.length} experiments</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Status</th>
          <th scope="col">Variants (exposed units)</th><th scope="col">Primary metric</th><th scope="col">Started</th></tr></thead>
        <tbody>${list.map((x) => html`<tr key=${x.id} data-experiment=${x.id}>
          <td><a href=${`/experiments/${encodeURIComponent(x.id)}`}>${x.name || x.id}</a>
            ${x.description && html`<div class="muted" style="font-size:.85em">${x.description}</div>`}</td>
          <td>${x.kind}${x.bandit ? ' · bandit' : ''}</td>
          <td><${ExpStatus} status=${x.status} /></td>
          <td class="ex-units">${x.variants.map((v, i) => html`<span style="white-space:nowrap">${i ? ' · ' : ''}${v.name}: <b data-units=${x.units[i]}>${fmtNum(x.units[i])}</b></span>`)}</td>
          <td>${x.metrics.length ? metricText(x.metrics[0]) : ''}</td>
          <td>${x.started ? html`<span title=${fmtTime(x.started)}>${fmtAgo(x.started)}</span>` : html`<span class="muted">not started</span>`}</td>
        </tr>`)}</tbody></table></div>`}
  </div>`;
}
