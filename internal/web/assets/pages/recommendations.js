// Recommendations: preview any strategy for a product or a profile, with the
// business filters applied and the reason each item was chosen
// (GET /api/recommendations), a product's bundle with its price and saving
// (GET /api/recommendations/bundle), and the published offline evaluation
// (GET /api/recommendations/evaluation, the table of docs/recommendations.md).
// The form lives in the address (?strategy=&item=&profile=…), so a preview
// can be linked to.
import { html, useState, useEffect, api, navigate, ErrorBox, Spinner } from '../lib.js';

const money = (v) => new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD' }).format(v || 0);

// The form's fields, as named in the API's query string.
const fields = ['strategy', 'item', 'profile', 'limit', 'segment', 'trait', 'exclude_purchased', 'exclude_category_days',
  'in_stock', 'min_price', 'max_price', 'category', 'exclude_category', 'max_per_category'];

function fromQuery(query) {
  const f = { strategy: 'for_you', limit: '10' };
  for (const k of fields) if (query[k] !== undefined && query[k] !== '') f[k] = query[k];
  return f;
}

function toParams(f) {
  const p = new URLSearchParams();
  for (const k of fields) {
    const v = f[k];
    if (v === undefined || v === '' || v === false) continue;
    p.set(k, v === true ? 'true' : String(v));
  }
  return p;
}

function Items({ answer }) {
  if (answer.items.length === 0) {
    return html`<p data-testid="rec-empty">Nothing to recommend${answer.profile ? '' : ' (no history for this visitor yet)'} with these filters.</p>`;
  }
  return html`<div class="table-wrap"><table data-testid="rec-items">
    <caption class="visually-hidden">Recommended products</caption>
    <thead><tr><th scope="col" class="right">#</th><th scope="col">Product</th><th scope="col">Category</th>
      <th scope="col" class="right">Price</th><th scope="col" class="right">Score</th><th scope="col">Why</th></tr></thead>
    <tbody>${answer.items.map((it, i) => html`<tr key=${it.id} data-item=${it.id}>
      <td class="right">${i + 1}</td>
      <td><a href=${'/catalog/' + encodeURIComponent(it.id)}>${it.name || it.id}</a><div class="muted small mono">${it.id}</div></td>
      <td class="small rec-cat">${it.category || '–'}</td>
      <td class="right nowrap rec-price">${money(it.price)}</td>
      <td class="right mono small">${it.score.toFixed(3)}</td>
      <td class="small rec-reason">${it.reason}</td></tr>`)}</tbody>
  </table></div>`;
}

function Bundle({ item }) {
  const [state, setState] = useState({ b: null, error: null });
  useEffect(() => {
    setState({ b: null, error: null });
    api(`/api/recommendations/bundle?item=${encodeURIComponent(item)}`).then((b) => setState({ b, error: null }), (error) => setState({ b: null, error }));
  }, [item]);
  if (state.error) return html`<${ErrorBox} error=${state.error} />`;
  if (!state.b) return html`<${Spinner} />`;
  const b = state.b;
  return html`<section class="card" data-testid="rec-bundle" aria-labelledby="rb-h">
    <h2 id="rb-h">Bundle <span class="badge">${b.rule}</span></h2>
    <p>${b.seed.name || b.seed.id} + ${b.items.map((it) => it.name || it.id).join(' + ') || 'no complements yet'}</p>
    <div class="grid">
      <div><div class="small muted">Separately</div><div class="stat" data-testid="rb-total">${money(b.total)}</div></div>
      <div><div class="small muted">Bundle price</div><div class="stat" data-testid="rb-price">${money(b.price)}</div></div>
      <div><div class="small muted">Saving</div><div class="stat" data-testid="rb-saving">${money(b.saving)}</div></div>
    </div>
  </section>`;
}

function Evaluation() {
  const [state, setState] = useState({ runs: null, error: null });
  useEffect(() => {
    api('/api/recommendations/evaluation').then((r) => setState({ runs: r.runs || [], error: null }), (error) => setState({ runs: null, error }));
  }, []);
  return html`<section class="card" data-testid="rec-eval" aria-labelledby="re-h">
    <h2 id="re-h">Offline evaluation</h2>
    <p class="muted small">Time-split evaluation of the strategies against baselines (docs/recommendations.md).</p>
    <${ErrorBox} error=${state.error} />
    ${!state.runs && !state.error ? html`<${Spinner} />` : null}
    ${(state.runs || []).map((run) => html`<div key=${run.name}>
      <h3>${run.name}</h3><p class="muted small mono">${run.command}</p>
      <div class="table-wrap"><table class="rec-eval-table">
        <thead><tr><th scope="col">Strategy</th>${run.columns.map((c) => html`<th scope="col" class="right">${c}</th>`)}</tr></thead>
        <tbody>${run.rows.map((r) => html`<tr key=${r.strategy} data-strategy=${r.strategy}>
          <th scope="row">${r.strategy}</th>${r.values.map((v) => html`<td class="right mono">${v < 1 ? v.toFixed(4) : v.toFixed(2)}</td>`)}</tr>`)}</tbody>
      </table></div></div>`)}
  </section>`;
}

export default function Recommendations({ query }) {
  const [form, setForm] = useState(() => fromQuery(query));
  const [meta, setMeta] = useState({ strategies: [], item_strategies: [] });
  const [res, setRes] = useState({ answer: null, error: null, loading: false });
  const set = (k) => (e) => {
    const t = e.currentTarget;
    setForm((f) => ({ ...f, [k]: t.type === 'checkbox' ? t.checked : t.value }));
  };
  useEffect(() => { api('/api/recommendations/strategies').then(setMeta, () => {}); }, []);
  // The query string is what is previewed: submitting writes the form into it.
  const asked = toParams(fromQuery(query)).toString();
  useEffect(() => {
    setForm(fromQuery(query));
    const ctl = new AbortController();
    setRes({ answer: null, error: null, loading: true });
    api(`/api/recommendations?${asked}`, { signal: ctl.signal }).then(
      (answer) => setRes({ answer, error: null, loading: false }),
      (error) => { if (error.name !== 'AbortError') setRes({ answer: null, error, loading: false }); });
    return () => ctl.abort();
  }, [asked]);
  const submit = (e) => {
    e.preventDefault();
    navigate('/recommendations?' + toParams(form).toString(), { replace: true });
  };
  const needsItem = meta.item_strategies.includes(form.strategy);
  const cur = fromQuery(query);
  return html`<h1>Recommendations</h1>
  <style>
    .rec-form { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: var(--gap); align-items: end; }
    .rec-form label { display: block; }
    .rec-form label > input:not([type=checkbox]), .rec-form label > select { display: block; width: 100%; margin-top: 0.25rem; }
    .rec-checks { display: flex; flex-wrap: wrap; gap: var(--gap); }
  </style>
  <section class="card" aria-labelledby="rf-h">
    <h2 id="rf-h">Preview</h2>
    <form id="rec-form" class="rec-form" onSubmit=${submit}>
      <label>Strategy<select id="rec-strategy" value=${form.strategy} onChange=${set('strategy')}>
        ${(meta.strategies.length ? meta.strategies : [form.strategy]).map((s) => html`<option value=${s}>${s}</option>`)}
      </select></label>
      <label>Product id${needsItem ? ' (needed)' : ''}<input id="rec-item" value=${form.item || ''} placeholder="sku-00042" onInput=${set('item')} /></label>
      <label>Profile (user id, email …)<input id="rec-profile" value=${form.profile || ''} placeholder="user-1" onInput=${set('profile')} /></label>
      <label>Segment<input id="rec-segment" value=${form.segment || ''} onInput=${set('segment')} /></label>
      <label>Trait (name=value)<input id="rec-trait" value=${form.trait || ''} placeholder="city=Oslo" onInput=${set('trait')} /></label>
      <label>How many<input id="rec-limit" type="number" min="1" max="100" value=${form.limit} onInput=${set('limit')} /></label>
      <label>Min price<input id="rec-min" type="number" min="0" step="any" value=${form.min_price || ''} onInput=${set('min_price')} /></label>
      <label>Max price<input id="rec-max" type="number" min="0" step="any" value=${form.max_price || ''} onInput=${set('max_price')} /></label>
      <label>Only category<input id="rec-cat" value=${form.category || ''} placeholder="Apparel" onInput=${set('category')} /></label>
      <label>Not category<input id="rec-notcat" value=${form.exclude_category || ''} onInput=${set('exclude_category')} /></label>
      <label>Max per category<input id="rec-maxcat" type="number" min="0" value=${form.max_per_category || ''} onInput=${set('max_per_category')} /></label>
      <label>Skip categories bought in the last … days<input id="rec-catdays" type="number" min="0" step="any" value=${form.exclude_category_days || ''} onInput=${set('exclude_category_days')} /></label>
      <div class="rec-checks">
        <label><input id="rec-purchased" type="checkbox" checked=${form.exclude_purchased === true || form.exclude_purchased === 'true'} onChange=${set('exclude_purchased')} /> Not already bought</label>
        <label><input id="rec-stock" type="checkbox" checked=${form.in_stock === true || form.in_stock === 'true'} onChange=${set('in_stock')} /> In stock only</label>
      </div>
      <button class="btn primary" type="submit">Preview</button>
    </form>
  </section>
  <section class="card" aria-labelledby="rr-h">
    <h2 id="rr-h">${cur.strategy}${cur.item ? html` for <span class="mono">${cur.item}</span>` : ''}${cur.profile ? html` · ${cur.profile}` : ''}
      ${res.answer && cur.profile && !res.answer.profile ? html` <span class="badge" data-testid="rec-new">new visitor</span>` : ''}</h2>
    <${ErrorBox} error=${res.error} />
    ${res.loading ? html`<${Spinner} />` : null}
    ${res.answer && html`<${Items} answer=${res.answer} />`}
  </section>
  ${cur.strategy === 'bundle' && cur.item ? html`<${Bundle} item=${cur.item} />` : null}
  <${Evaluation} />`;
}
