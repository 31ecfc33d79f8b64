// The predictions page: the fitted customer-base models (BG/NBD for orders
// and P(alive), Gamma-Gamma for order value), the distribution of predicted
// CLV, the most valuable customers and the valuable ones at risk, and how
// well the model forecast the store's own recent orders (a CDNOW-style
// holdout check). Data: GET /api/predictions; "Refit now" is POST
// /api/predictions/refresh (the elapsed time shows while it runs, the fit's
// own time after). The at-risk customers link to a ready segment of
// churn_risk > 0.7, created on first use.
import { html, useState, useEffect, api, navigate, ErrorBox, Spinner, Chart, fmtNum, fmtTime, fmtAgo } from '../lib.js';

const pct = (v) => `${Math.round(v * 100)} %`;

/** RISK_SEGMENT is the segment the at-risk customers link to. */
export const RISK_SEGMENT = {
  id: 'churn-risk-over-70', name: 'Churn risk over 70 %',
  description: 'Customers the model says have probably stopped buying (created from the predictions page).',
  rule: { computed: 'churn_risk', op: 'gt', value: 0.7 },
};

/** openRiskSegment creates the at-risk segment unless it exists (409), then opens it. */
async function openRiskSegment(setErr) {
  setErr(null);
  try {
    await api('/api/segments', { method: 'POST', body: RISK_SEGMENT });
  } catch (e) {
    if (e.status !== 409) {
      setErr(e);
      return;
    }
  }
  navigate(`/segments/${RISK_SEGMENT.id}`);
}

export default function Page() {
  const [rep, setRep] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [refitError, setRefitError] = useState(null);
  const [elapsed, setElapsed] = useState(0);
  const [lastRefit, setLastRefit] = useState(null);
  const [segErr, setSegErr] = useState(null);
  useEffect(() => {
    if (!busy) return undefined;
    const t0 = Date.now();
    setElapsed(0);
    const t = setInterval(() => setElapsed(Math.floor((Date.now() - t0) / 1000)), 250);
    return () => clearInterval(t);
  }, [busy]);
  const load = (signal) => api('/api/predictions', { signal }).then(setRep, (e) => { if (!signal?.aborted) setError(e); });
  useEffect(() => {
    const c = new AbortController();
    load(c.signal);
    return () => c.abort();
  }, []);
  const refit = async () => {
    setBusy(true);
    setRefitError(null);
    setLastRefit(null);
    const t0 = Date.now();
    try {
      const r = await api('/api/predictions/refresh', { method: 'POST' });
      setLastRefit({ secs: (Date.now() - t0) / 1000, fit: r?.fit });
      await load();
    } catch (e) {
      setRefitError(e);
    } finally {
      setBusy(false);
    }
  };
  if (error) return html`<h1>Predictions</h1><${ErrorBox} error=${error} />`;
  if (!rep) return html`<h1>Predictions</h1><${Spinner} label="Loading predictions…" />`;
  const fit = rep.fit;
  const s = rep.settings;
  return html`<style>${css}</style>
  <h1>Predictions</h1>
  <p class="muted">Customer lifetime value and churn risk for every customer with an order, from models fitted on
    all order histories. Figures are as of <span data-testid="pred-at">${fmtTime(rep.at)}</span>;
    ${` the models refit every ${Math.round(s.refresh_every_secs / 60)} minutes, and a customer's own order updates their figures at once.`}</p>
  <div class="row">
    <button class="btn" id="pred-refit" onClick=${refit} disabled=${busy}>${busy ? 'Refitting…' : 'Refit now'}</button>
    <span class="muted small" id="pred-refit-progress" role="status" aria-live="polite">${busy
      ? `Fitting both models on every customer, then computing each one's figures: ${elapsed} s so far.`
      : lastRefit ? `Refit done in ${lastRefit.secs < 1 ? `${fmtNum(Math.round(lastRefit.secs * 1000))} ms` : `${fmtNum(Math.round(lastRefit.secs * 10) / 10)} s`}${lastRefit.fit ? ` (the fit itself ${fmtNum(lastRefit.fit.fit_ms)} ms on ${fmtNum(lastRefit.fit.customers)} customers)` : ''}.` : ''}</span>
    <${ErrorBox} error=${refitError} />
  </div>
  ${!fit ? html`<p class="card muted" data-testid="pred-none">No fit yet: the models need at least ${s.min_fit_customers}
      customers with an order, ${s.min_fit_repeaters} of them with a second one (${fmtNum(rep.customers)} customers now).</p>`
    : html`
  <div class="grid pred-stats" data-testid="pred-stats">
    <${Stat} id="customers" label="Customers" value=${fmtNum(rep.customers)} />
    <${Stat} id="total" label=${`Predicted revenue, ${s.clv_months} months`} value=${fmtNum(Math.round(rep.clv.total))} />
    <${Stat} id="median" label="Median CLV" value=${fmtNum(rep.clv.median)} />
    <${Stat} id="p90" label="CLV of the top 10 % from" value=${fmtNum(rep.clv.p90)} />
    <${Stat} id="atrisk" label="Churn risk ≥ 50 %" value=${fmtNum(rep.churn_bands[2] + rep.churn_bands[3])} />
  </div>
  <div class="pred-cols">
    <section class="card" aria-labelledby="clv-dist-title">
      <h2 id="clv-dist-title">Predicted CLV, ${s.clv_months} months</h2>
      <${Bars} id="clv-hist" bins=${rep.clv.histogram.map((b, i, all) => ({
        label: i === all.length - 1 ? `${fmtNum(Math.round(b.from))}+` : `${fmtNum(Math.round(b.from))}–${fmtNum(Math.round(b.to))}`,
        count: b.count }))} />
      <p class="muted small">Discounted at ${fmtNum(s.monthly_discount * 100)} % a month; revenue, not margin.
        Mean ${fmtNum(rep.clv.mean)}, 99th percentile ${fmtNum(rep.clv.p99)}.</p>
    </section>
    <section class="card" aria-labelledby="churn-title">
      <h2 id="churn-title">Churn risk</h2>
      <${Bars} id="churn-bands" bins=${['0–25 %', '25–50 %', '50–75 %', '75–100 %'].map((label, i) => ({ label, count: rep.churn_bands[i] }))} />
      <p class="muted small">Churn risk is 1 − P(alive), the chance the customer has stopped buying. A customer with
        one order counts as active until a second order shows their rhythm.</p>
    </section>
  </div>
  <${Customers} id="pred-top" title="Most valuable customers" list=${rep.top}
    empty="No customers." hint="Highest predicted CLV; a rule for them: clv_percentile >= 90." />
  <${Customers} id="pred-risk" title="Valuable customers at risk" list=${rep.at_risk}
    empty="No customer has a churn risk of 50 % or more." hint="Churn risk ≥ 50 %, most spent first: worth a win-back message."
    action=${html`<p class="row"><button class="btn" id="pred-risk-segment" onClick=${() => openRiskSegment(setSegErr)}>
      Segment of churn_risk > 0.7</button><span class="muted small">a ready audience for a win-back journey or offer</span></p>
      <${ErrorBox} error=${segErr} />`}
    rowLink=${(c) => c.p_alive < 0.3 ? html`<a href=${`/segments/${RISK_SEGMENT.id}`} class="small" data-risk-link
      onClick=${(e) => { e.preventDefault(); openRiskSegment(setSegErr); }}>in churn_risk > 0.7</a>` : null} />
  <${Holdout} h=${rep.holdout} />
  <${Params} fit=${fit} s=${s} />`}`;
}

const css = `
.pred-stats { grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); margin: var(--gap) 0; }
.pred-stats .stat { font-size: 1.35rem; }
.pred-cols { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: var(--gap); align-items: start; }
@media (max-width: 900px) { .pred-cols { grid-template-columns: minmax(0, 1fr); } }
.bars { display: grid; grid-template-columns: max-content minmax(0, 1fr) max-content; gap: .2rem .5rem; align-items: center; font-size: .85rem; }
.bars .bar { height: .9rem; background: var(--accent, #0969da); border-radius: 2px; min-width: 1px; }
.bars .n { text-align: right; font-variant-numeric: tabular-nums; }
.pred-cols section, .pred-section { margin-bottom: var(--gap); }
`;

function Stat({ id, label, value }) {
  return html`<div class="card"><div class="muted small" id=${`pred-${id}-label`}>${label}</div>
    <div class="stat" data-testid=${`pred-${id}`} aria-labelledby=${`pred-${id}-label`}>${value}</div></div>`;
}

/** Bars is a horizontal bar chart of counts, readable as a list. */
function Bars({ id, bins }) {
  const max = Math.max(1, ...bins.map((b) => b.count));
  return html`<div class="bars" id=${id} role="list">${bins.map((b) => html`
    <span role="listitem" aria-label=${`${b.label}: ${b.count}`}>${b.label}</span>
    <div class="bar" style=${`width:${(100 * b.count) / max}%`} aria-hidden="true"></div>
    <span class="n" data-count=${b.count}>${fmtNum(b.count)}</span>`)}</div>`;
}

function Customers({ id, title, list, empty, hint, action, rowLink }) {
  return html`<section class="card pred-section" aria-labelledby=${`${id}-title`}>
    <h2 id=${`${id}-title`}>${title}</h2>
    <p class="muted small">${hint}</p>
    ${action}
    ${list.length === 0 ? html`<p class="muted">${empty}</p>` : html`<div class="table-wrap"><table id=${id}>
      <thead><tr><th scope="col">Customer</th><th scope="col" style="text-align:right">Orders</th>
        <th scope="col" style="text-align:right">Spent</th><th scope="col">Last order</th>
        <th scope="col" style="text-align:right">Predicted CLV</th><th scope="col" style="text-align:right">P(alive)</th>
        <th scope="col" style="text-align:right">Orders, 90 days</th>${rowLink ? html`<th scope="col">Segment</th>` : null}</tr></thead>
      <tbody>${list.map((c) => html`<tr data-profile=${c.profile}>
        <td><a href=${`/profiles/${encodeURIComponent(c.profile)}`}>${c.email || c.profile}</a></td>
        <td style="text-align:right">${fmtNum(c.orders)}</td>
        <td style="text-align:right">${fmtNum(c.total_spend)}</td>
        <td title=${fmtTime(c.last_order)}>${fmtAgo(c.last_order)}</td>
        <td style="text-align:right" class="clv">${fmtNum(c.predicted_clv)}</td>
        <td style="text-align:right">${pct(c.p_alive)}</td>
        <td style="text-align:right">${fmtNum(c.predicted_orders)}</td>${rowLink ? html`<td>${rowLink(c)}</td>` : null}</tr>`)}</tbody></table></div>`}
  </section>`;
}

function Holdout({ h }) {
  return html`<section class="card pred-section" aria-labelledby="holdout-title" data-testid="pred-holdout">
    <h2 id="holdout-title">How well the model forecasts this store</h2>
    ${!h || h.reason ? html`<p class="muted">${h ? h.reason : 'No orders yet.'}</p>` : html`
      <p class="small">BG/NBD fitted on the orders up to <strong>${fmtTime(h.calibration_end).slice(0, 10)}</strong>
        (${fmtNum(h.customers)} customers), then asked for the repeat orders of the same customers since:
        it expected <strong data-testid="holdout-predicted">${fmtNum(Math.round(h.predicted_holdout))}</strong>,
        they placed <strong data-testid="holdout-actual">${fmtNum(h.actual_holdout)}</strong>
        (${fmtNum(Math.round((100 * (h.predicted_holdout - h.actual_holdout)) / Math.max(h.actual_holdout, 1)))} %).
        The same check as Fader, Hardie & Lee (2005) on CDNOW.</p>
      <${Chart} title="Cumulative repeat orders" x=${h.weeks} height=${220}
        series=${[{ label: 'Actual', values: h.actual }, { label: 'Predicted', values: h.predicted }]} />
      <div class="table-wrap"><table id="holdout-freq">
        <caption class="muted small" style="text-align:left">Orders per customer after the calibration end, by repeat orders before it</caption>
        <thead><tr><th scope="col">Repeat orders before</th><th scope="col" style="text-align:right">Customers</th>
          <th scope="col" style="text-align:right">Actual</th><th scope="col" style="text-align:right">Expected</th></tr></thead>
        <tbody>${h.by_frequency.map((r) => html`<tr><td>${r.x}</td><td style="text-align:right">${fmtNum(r.customers)}</td>
          <td style="text-align:right">${fmtNum(r.actual)}</td><td style="text-align:right">${fmtNum(r.expected)}</td></tr>`)}</tbody>
      </table></div>`}
  </section>`;
}

function Params({ fit, s }) {
  const bg = fit.bgnbd, gg = fit.gamma_gamma;
  return html`<section class="card pred-section" aria-labelledby="params-title">
    <h2 id="params-title">The fitted models</h2>
    <p class="small">Fitted ${fmtAgo(fit.fitted_at)} on ${fmtNum(fit.customers)} customers (${fmtNum(fit.repeaters)} with a
      repeat order) in ${fmtNum(fit.fit_ms)} ms; time in ${s.time_unit}s; ${s.orders_are}.</p>
    <div class="table-wrap"><table id="pred-params">
      <thead><tr><th scope="col">Parameter</th><th scope="col" style="text-align:right">Value</th><th scope="col">Meaning</th></tr></thead>
      <tbody>
        <tr><td>BG/NBD r, α</td><td style="text-align:right" data-param="r">${fmtNum(bg.r)}, ${fmtNum(bg.alpha)}</td>
          <td>order rates vary across customers as Gamma(r, α): ${fmtNum(bg.r / bg.alpha)} orders a week on average</td></tr>
        <tr><td>BG/NBD a, b</td><td style="text-align:right" data-param="a">${fmtNum(bg.a)}, ${fmtNum(bg.b)}</td>
          <td>after each order a customer stops with probability p ~ Beta(a, b): ${pct(bg.a / (bg.a + bg.b))} on average</td></tr>
        <tr><td>Gamma-Gamma p, q, γ</td><td style="text-align:right">${fmtNum(gg.p)}, ${fmtNum(gg.q)}, ${fmtNum(gg.gamma)}</td>
          <td>order values: ${fmtNum((gg.p * gg.gamma) / (gg.q - 1))} on average across customers</td></tr>
        <tr><td>Log-likelihood</td><td style="text-align:right">${fmtNum(fit.log_likelihood)}</td><td>of the BG/NBD fit</td></tr>
      </tbody></table></div>
  </section>`;
}
