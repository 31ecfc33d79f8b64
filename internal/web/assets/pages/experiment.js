// One experiment: the verdict in words, the sample-ratio check, the
// variants with their exposure counts, a table per goal metric (effect with
// its interval, chance to beat control, expected loss, always-valid
// p-value) and the primary metric's lift over time with its fixed interval
// and its always-valid confidence sequence. Start and stop buttons.
import { html, useState, useEffect, useCallback, api, ErrorBox, Spinner, Chart, fmtNum, fmtTime } from '../lib.js';
import { ExpStatus, metricText } from './experiments.js';

const pct = (x, digits = 1) => (x === undefined || x === null || !isFinite(x) ? '–' : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(digits)} %`);
const prob = (x) => (x === undefined || x === null ? '–' : `${(100 * x).toFixed(1)} %`);
const num = (x, digits = 3) => (x === undefined || x === null || !isFinite(x) ? '–'
  : Math.abs(x) >= 1000 ? fmtNum(Math.round(x)) : Number(x.toPrecision(digits)).toString());
const pval = (p) => (p === undefined || p === null ? '–' : p < 0.0001 ? '< 0.0001' : p.toFixed(4));
// A bound the sequential test has not narrowed yet comes as ±3.4e38.
const bound = (x) => (Math.abs(x) > 1e30 ? null : x);

function MetricTable({ m, names }) {
  const conv = m.kind === 'conversion';
  return html`<div class="card" style="overflow-x:auto">
    <h3 style="margin-top:0">${m.id} <span class="muted" style="font-weight:normal;font-size:.85em">${m.cuped
      ? `· CUPED: variance ${(100 * m.variance_reduction).toFixed(0)} % lower with the pre-period` : ''}</span></h3>
    <table class="ex-metric" data-metric=${m.id}>
      <thead><tr><th scope="col">Variant</th><th scope="col" style="text-align:right">Units</th>
        <th scope="col" style="text-align:right">${conv ? 'Conversions' : 'Total'}</th>
        <th scope="col" style="text-align:right">${conv ? 'Rate' : 'Per unit'}</th>
        <th scope="col" style="text-align:right">Lift (95 % interval)</th>
        <th scope="col" style="text-align:right">Absolute (interval)</th>
        <th scope="col" style="text-align:right">Chance to beat control</th>
        <th scope="col" style="text-align:right">Expected loss</th>
        <th scope="col" style="text-align:right" title="Valid at every look: safe to check daily">Always-valid p</th></tr></thead>
      <tbody>${m.variants.map((v, i) => html`<tr data-variant=${v.id}>
        <th scope="row">${names[v.id] || v.id}${i === 0 ? html` <span class="muted">(control)</span>` : ''}</th>
        <td style="text-align:right" class="units">${fmtNum(v.units)}</td>
        <td style="text-align:right">${num(v.total, 6)}</td>
        <td style="text-align:right" class="mean">${conv ? `${(100 * v.mean).toFixed(2)} %` : num(v.mean)}</td>
        <td style="text-align:right" class="lift">${v.effect && v.effect.rel_defined
          ? html`<b class=${v.effect.abs_ci.lo > 0 ? 'ex-up' : v.effect.abs_ci.hi < 0 ? 'ex-down' : ''}>${pct(v.effect.rel)}</b>
            <span class="muted"> (${pct(v.effect.rel_ci.lo)} … ${pct(v.effect.rel_ci.hi)})</span>` : '–'}</td>
        <td style="text-align:right">${v.effect ? html`${num(v.effect.abs)} <span class="muted">(${num(v.effect.abs_ci.lo)} … ${num(v.effect.abs_ci.hi)})</span>` : '–'}</td>
        <td style="text-align:right" class="chance">${v.bayes ? prob(v.bayes.chance_to_beat) : '–'}</td>
        <td style="text-align:right">${v.bayes ? num(v.bayes.loss_treatment) : '–'}</td>
        <td style="text-align:right" class="seqp">${v.sequential ? pval(v.sequential.p_value) : '–'}</td>
      </tr>`)}</tbody>
    </table>
  </div>`;
}

function EffectChart({ daily, variants }) {
  const points = (daily || []).filter((d) => d.effects && d.effects.length);
  if (points.length === 0) return html`<p class="muted">The chart appears once every variant has units on a day.</p>`;
  const x = points.map((d) => d.unix);
  const series = [];
  // The first days' intervals can be hundreds of times wider than the
  // last; values beyond a few times the last interval are left out (a gap
  // in the line) so that the scale shows what matters.
  const last = points[points.length - 1].effects;
  const limit = 100 * 3 * Math.max(0.05, ...last.map((e) => Math.max(Math.abs(e.lo), Math.abs(e.hi))));
  const clip = (y) => (y === null || Math.abs(y) > limit ? null : y);
  for (const v of variants.slice(1)) {
    const get = (d, k) => { const e = d.effects.find((e) => e.variant === v.id); return e ? clip(100 * e[k]) : null; };
    const seq = (d, k) => { const e = d.effects.find((e) => e.variant === v.id); return e && bound(e[k]) !== null ? clip(100 * e[k]) : null; };
    series.push({ label: `${v.name} lift %`, values: points.map((d) => get(d, 'rel')) });
    series.push({ label: `${v.name} 95 % low`, values: points.map((d) => get(d, 'lo')) });
    series.push({ label: `${v.name} 95 % high`, values: points.map((d) => get(d, 'hi')) });
    series.push({ label: `${v.name} always-valid low`, values: points.map((d) => seq(d, 'seq_lo')) });
    series.push({ label: `${v.name} always-valid high`, values: points.map((d) => seq(d, 'seq_hi')) });
  }
  return html`<div id="ex-chart"><${Chart} title="Lift of the primary metric over time (cumulative, by day of first exposure)" x=${x} series=${series} height=${240} points=${points.length < 3} /></div>`;
}

export default function Page({ params }) {
  const id = params.id;
  const [res, setRes] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const load = useCallback((signal) => api(`/api/experiments/${encodeURIComponent(id)}/results`, { signal })
    .then((r) => { setRes(r); setError(null); })
    .catch((e) => { if (!signal || !signal.aborted) setError(e); }), [id]);
  useEffect(() => {
    const c = new AbortController();
    load(c.signal);
    return () => c.abort();
  }, [load]);
  const act = (what) => {
    setBusy(true);
    api(`/api/experiments/${encodeURIComponent(id)}/${what}`, { method: 'POST' })
      .then(() => load()).catch(setError).finally(() => setBusy(false));
  };
  if (!res) return html`<div><h1>Experiment ${id}</h1><${ErrorBox} error=${error} />${!error && html`<${Spinner} label="Computing results" />`}</div>`;
  const x = res.experiment;
  const names = Object.fromEntries(x.variants.map((v) => [v.id, v.name]));
  return html`<div>
    <style>
      .ex-verdict { font-size: 1.15em; border-left: 4px solid var(--accent, #0969da); }
      .ex-srm { border-left: 4px solid #cf222e; }
      .ex-up { color: #1a7f37; } .ex-down { color: #cf222e; }
      .ex-metric th, .ex-metric td { padding: .3em .6em; }
      .ex-metric td { white-space: nowrap; }
    </style>
    <p><a href="/experiments">← Experiments</a></p>
    <h1>${x.name} <${ExpStatus} status=${x.status} /></h1>
    <p class="muted">${x.kind} experiment · id ${x.id} · salt ${x.salt} · attribution window ${x.window_hours} h
      ${x.started ? ` · started ${fmtTime(x.started)}` : ''}${x.stopped ? ` · stopped ${fmtTime(x.stopped)}` : ''}</p>
    ${x.description && html`<p>${x.description}</p>`}
    <${ErrorBox} error=${error} />
    <div style="display:flex;gap:.5em;margin-bottom:1em">
      ${x.status === 'draft' && html`<button class="btn primary" id="ex-start" disabled=${busy} onClick=${() => act('start')}>Start</button>`}
      ${x.status === 'running' && html`<button class="btn danger" id="ex-stop" disabled=${busy} onClick=${() => act('stop')}>Stop</button>`}
    </div>
    ${res.srm_warning && html`<div class="card ex-srm" role="alert" id="ex-srm"><b>⚠ </b>${res.srm_warning}</div>`}
    <div class="card ex-verdict" id="ex-verdict" role="status">${res.verdict}</div>
    <div class="card" style="overflow-x:auto">
      <h2 style="margin-top:0">Variants</h2>
      <table id="ex-variants">
        <thead><tr><th scope="col">Variant</th><th scope="col" style="text-align:right">Weight</th>
          <th scope="col" style="text-align:right">Exposed units</th><th scope="col" style="text-align:right">Share</th>
          <th scope="col" style="text-align:right">Planned</th>
          <th scope="col" style="text-align:right">${x.bandit ? 'New traffic (bandit)' : 'New traffic'}</th></tr></thead>
        <tbody>${res.variants.map((v, i) => html`<tr data-variant=${v.id}>
          <th scope="row">${v.name}${i === 0 ? html` <span class="muted">(control)</span>` : ''}</th>
          <td style="text-align:right">${v.weight}</td>
          <td style="text-align:right" class="units">${fmtNum(v.units)}</td>
          <td style="text-align:right">${(100 * v.share).toFixed(1)} %</td>
          <td style="text-align:right">${res.srm.expected && res.srm.expected[i] ? fmtNum(Math.round(res.srm.expected[i])) : '–'}</td>
          <td style="text-align:right" class="alloc">${res.allocation ? `${(100 * res.allocation[i]).toFixed(1)} %` : '–'}</td>
        </tr>`)}</tbody>
      </table>
      <p class="muted" style="margin-bottom:0">Sample-ratio check: χ² ${res.srm.chi_square.toFixed(2)}, p ${res.srm.p_value < 0.0001 ? '' : '= '}${pval(res.srm.p_value)}
        ${res.srm.mismatch ? ' — mismatch' : ' — the split matches the weights'}.
        ${res.conflicts ? ` ${fmtNum(res.conflicts)} exposures named another variant than the unit's first.` : ''}</p>
    </div>
    <h2>Goal metrics</h2>
    ${x.metrics.map((m) => html`<p class="muted" style="margin:.2em 0">${m.id}: ${metricText(m)}, within ${x.window_hours} h of first exposure</p>`)}
    ${res.metrics.map((m) => html`<${MetricTable} m=${m} names=${names} />`)}
    <div class="card">
      <h2 style="margin-top:0">Effect over time</h2>
      <${EffectChart} daily=${res.daily} variants=${x.variants} />
      <p class="muted" style="margin-bottom:0">The always-valid interval stays correct however often you look; the 95 % interval is only valid at the planned end.</p>
    </div>
  </div>`;
}
