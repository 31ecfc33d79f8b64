// The placements: each one's variants, rules, experiment and products, and
// its impressions, clicks and conversions over the last 30 days.
import { html, useState, useEffect, api, ErrorBox, Spinner, Sparkline, fmtNum, fmtAgo, fmtTime } from '../lib.js';
import { loadStats, ctr, ruleText } from '../components/decide-common.js';

export default function Page() {
  const [list, setList] = useState(null);
  const [stats, setStats] = useState({});
  const [error, setError] = useState(null);
  useEffect(() => {
    const c = new AbortController();
    api('/api/placements', { signal: c.signal })
      .then((r) => {
        setList(r.placements);
        for (const p of r.placements) {
          loadStats(p.id, 30, c.signal).then((s) => setStats((old) => ({ ...old, [p.id]: s }))).catch(() => {});
        }
      })
      .catch((e) => { if (!c.signal.aborted) setError(e); });
    return () => c.abort();
  }, []);
  return html`<div>
    <div style="display:flex;align-items:center;gap:1rem;flex-wrap:wrap">
      <h1 style="margin-right:auto">Placements</h1>
      <a class="btn primary" href="/placements/new">New placement</a>
    </div>
    <p class="muted">What <code>POST /v1/decide</code> and the offers snippet show each visitor: rules choose a variant, an experiment may test them, a slot adds products.</p>
    <${ErrorBox} error=${error} />
    ${list === null && !error ? html`<${Spinner} label="Loading placements" />`
      : list && list.length === 0 ? html`<p class="card muted">No placements yet. <a href="/placements/new">Create the first one</a>.</p>`
      : list && html`<div class="card" style="overflow-x:auto"><table id="placements">
        <caption class="muted" style="text-align:left">${list.length} placements; figures of the last 30 days</caption>
        <thead><tr><th scope="col">Name</th><th scope="col" style="text-align:right">Variants</th><th scope="col" style="text-align:right">Rules</th>
          <th scope="col">Default</th><th scope="col">Products</th>
          <th scope="col" style="text-align:right">Impressions</th><th scope="col" style="text-align:right">Clicks</th>
          <th scope="col" style="text-align:right">CTR</th><th scope="col" style="text-align:right">Conversions</th><th scope="col">Clicks by day</th><th scope="col">Changed</th></tr></thead>
        <tbody>${list.map((p) => {
          const s = stats[p.id];
          return html`<tr key=${p.id} data-placement=${p.id}>
          <td><a href=${`/placements/${encodeURIComponent(p.id)}`}>${p.name}</a> <span class="muted small mono">${p.id}</span>
            ${p.experiment && html`<div class="muted small">experiment ${p.experiment}</div>`}</td>
          <td style="text-align:right" class="variants">${p.variants.length}</td>
          <td style="text-align:right" class="rules" title=${(p.rules || []).map((r) => `${ruleText(r)} → ${r.variant}`).join('\n')}>${(p.rules || []).length}</td>
          <td>${p.default}</td>
          <td>${p.recommendations ? `${p.recommendations.strategy} × ${p.recommendations.limit}` : html`<span class="muted">none</span>`}${p.geo ? ' · geo' : ''}</td>
          <td style="text-align:right" class="impressions">${s ? fmtNum(s.totals.impressions) : '…'}</td>
          <td style="text-align:right" class="clicks">${s ? fmtNum(s.totals.clicks) : '…'}</td>
          <td style="text-align:right">${s ? ctr(s.totals) : ''}</td>
          <td style="text-align:right" class="conversions">${s ? fmtNum(s.totals.conversions) : '…'}</td>
          <td>${s && html`<${Sparkline} values=${s.series[1].values} />`}</td>
          <td><time datetime=${p.updated} title=${fmtTime(p.updated)}>${fmtAgo(p.updated)}</time></td>
        </tr>`;
        })}</tbody></table></div>`}
  </div>`;
}
