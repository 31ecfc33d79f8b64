// One placement: its variants and ordered rules in a form, saved with PUT
// (POST for /placements/new); a preview of the decision for a chosen
// profile; and its impressions, clicks and conversions per day.
import { html, useState, useEffect, api, navigate, ErrorBox, Spinner, Chart, fmtNum } from '../lib.js';
import { loadStats, ctr } from '../components/decide-common.js';

const STRATEGIES = ['for_you', 'trending', 'bestsellers', 'also_bought', 'also_viewed', 'complements', 'bundle', 'upsell', 'buy_again', 'recently_viewed'];
const OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'contains', 'exists'];
// The browser compiles pattern with the v flag, where a bare "-" in a class is an error.
const ID_PATTERN = '[a-z0-9][a-z0-9_\\-]{0,63}';
const COMPUTED = ['orders', 'revenue', 'average_order_value', 'events',
  'predicted_clv', 'clv_percentile', 'predicted_orders', 'p_alive', 'churn_risk', 'expected_order_value', 'next_order_in_days'];

const blank = () => ({
  id: '', name: '', description: '', default: 'default', experiment: '', geo: false,
  variants: [{ id: 'default', name: 'Default', layout: '', content: '{"headline":""}' }], rules: [], recommendations: null,
});

/** toDraft turns a stored placement into the form's shape: content as text, rule values as text. */
function toDraft(p) {
  return {
    ...blank(), ...p,
    experiment: p.experiment || '', description: p.description || '',
    variants: p.variants.map((v) => ({ ...v, name: v.name || '', layout: v.layout || '', content: v.content === undefined ? '' : JSON.stringify(v.content, null, 1) })),
    rules: (p.rules || []).map((r) => ({
      kind: r.segment ? 'segment' : r.trait ? 'trait' : 'computed', field: r.segment || r.trait || r.computed,
      op: r.op || (r.computed ? 'gte' : 'eq'), value: r.value === undefined ? '' : Array.isArray(r.value) ? r.value.join(', ') : String(r.value), variant: r.variant,
    })),
  };
}

/** parseValue reads a rule's value as the API wants it: a list for "in", a number when it looks like one. */
function parseValue(op, text) {
  const t = text.trim();
  if (op === 'exists') return undefined;
  if (op === 'in') return t.split(',').map((s) => s.trim()).filter(Boolean);
  if (t === 'true' || t === 'false') return t === 'true';
  if (t !== '' && !Number.isNaN(Number(t))) return Number(t);
  return t;
}

/** fromDraft builds the API's placement; throws an Error naming a field that cannot be read. */
function fromDraft(d) {
  const p = { id: d.id.trim(), name: d.name.trim(), default: d.default, variants: [], rules: [] };
  if (d.description.trim()) p.description = d.description.trim();
  if (d.experiment.trim()) p.experiment = d.experiment.trim();
  if (d.geo) p.geo = true;
  d.variants.forEach((v, i) => {
    const out = { id: v.id.trim() };
    if (v.name.trim()) out.name = v.name.trim();
    if (v.layout.trim()) out.layout = v.layout.trim();
    if (v.content.trim()) {
      try { out.content = JSON.parse(v.content); } catch (e) { throw new Error(`Variant ${i + 1} (${v.id}): content is not valid JSON: ${e.message}`); }
    }
    p.variants.push(out);
  });
  for (const r of d.rules) {
    const out = { variant: r.variant };
    if (r.kind === 'segment') out.segment = r.field;
    else {
      out[r.kind] = r.field.trim();
      out.op = r.op;
      const v = parseValue(r.op, r.value);
      if (v !== undefined) out.value = v;
    }
    p.rules.push(out);
  }
  if (d.recommendations) p.recommendations = { ...d.recommendations, limit: Number(d.recommendations.limit) };
  return p;
}

export default function Page({ params }) {
  const isNew = params.id === 'new';
  const [draft, setDraft] = useState(isNew ? blank() : null);
  const [segments, setSegments] = useState([]);
  const [error, setError] = useState(null);
  const [saveError, setSaveError] = useState(null);
  const [saved, setSaved] = useState('');
  useEffect(() => {
    const c = new AbortController();
    api('/api/segments', { signal: c.signal }).then((r) => setSegments(r.segments || [])).catch(() => {});
    if (!isNew) {
      setDraft(null);
      api(`/api/placements/${encodeURIComponent(params.id)}`, { signal: c.signal })
        .then((p) => setDraft(toDraft(p)))
        .catch((e) => { if (!c.signal.aborted) setError(e); });
    }
    return () => c.abort();
  }, [params.id]);

  if (error) return html`<div><h1>Placement</h1><${ErrorBox} error=${error} /></div>`;
  if (!draft) return html`<${Spinner} label="Loading placement" />`;
  const set = (k, v) => { setDraft({ ...draft, [k]: v }); setSaved(''); };
  const setIn = (list, i, k, v) => set(list, draft[list].map((x, j) => (j === i ? { ...x, [k]: v } : x)));
  const move = (list, i, by) => {
    const a = draft[list].slice();
    const j = i + by;
    if (j < 0 || j >= a.length) return;
    [a[i], a[j]] = [a[j], a[i]];
    set(list, a);
  };
  const remove = (list, i) => set(list, draft[list].filter((_, j) => j !== i));
  const variantIds = draft.variants.map((v) => v.id).filter(Boolean);

  const save = async (e) => {
    e.preventDefault();
    setSaveError(null);
    try {
      const body = fromDraft(draft);
      const p = isNew ? await api('/api/placements', { method: 'POST', body })
        : await api(`/api/placements/${encodeURIComponent(params.id)}`, { method: 'PUT', body });
      setSaved(`Saved at ${new Date(p.updated).toLocaleTimeString()}`);
      if (isNew) navigate(`/placements/${encodeURIComponent(p.id)}`);
      else setDraft(toDraft(p));
    } catch (err) {
      setSaveError(err);
    }
  };

  return html`<div>
    <style>
      .dc-row{display:grid;gap:.5rem;align-items:end;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));padding:.5rem 0;border-bottom:1px solid rgba(128,128,128,.2)}
      .dc-row textarea{width:100%;min-height:3.2rem;font-family:ui-monospace,monospace;font-size:.85em}
      .dc-row label,.dc-field label{display:block;font-size:.85em}
      .dc-row input,.dc-row select,.dc-field input,.dc-field select{width:100%}
      .dc-actions{display:flex;gap:.25rem}
      .dc-wide{grid-column:1/-1}
      .dc-field input[type=checkbox]{width:auto;margin-right:.4rem}
      .dc-check{display:flex!important;align-items:center}
    </style>
    <p><a href="/placements">← Placements</a></p>
    <h1>${isNew ? 'New placement' : draft.name || draft.id}</h1>
    <form id="placement-form" onSubmit=${save}>
      <div class="card grid" style="grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:.75rem">
        <div class="dc-field"><label for="pl-id">Id</label>
          <input id="pl-id" value=${draft.id} disabled=${!isNew} required pattern=${ID_PATTERN} title="1-64 lower-case letters, digits, _ or -" onInput=${(e) => set('id', e.target.value)} /></div>
        <div class="dc-field"><label for="pl-name">Name</label>
          <input id="pl-name" value=${draft.name} required onInput=${(e) => set('name', e.target.value)} /></div>
        <div class="dc-field"><label for="pl-default">Default variant (no rule holds)</label>
          <select id="pl-default" value=${draft.default} onChange=${(e) => set('default', e.target.value)}>
            ${variantIds.map((id) => html`<option value=${id}>${id}</option>`)}</select></div>
        <div class="dc-field"><label for="pl-exp">Experiment id (optional)</label>
          <input id="pl-exp" value=${draft.experiment} onInput=${(e) => set('experiment', e.target.value)} /></div>
        <div class="dc-field dc-wide"><label for="pl-desc">Description</label>
          <input id="pl-desc" value=${draft.description} onInput=${(e) => set('description', e.target.value)} /></div>
      </div>

      <h2>Variants</h2>
      <div class="card" id="variants">
        ${draft.variants.map((v, i) => html`<div class="dc-row" key=${'v' + i} data-variant-row=${i}>
          <div><label for=${`v-id-${i}`}>Id</label><input id=${`v-id-${i}`} value=${v.id} required onInput=${(e) => setIn('variants', i, 'id', e.target.value)} /></div>
          <div><label for=${`v-name-${i}`}>Name</label><input id=${`v-name-${i}`} value=${v.name} onInput=${(e) => setIn('variants', i, 'name', e.target.value)} /></div>
          <div><label for=${`v-layout-${i}`}>Layout</label><input id=${`v-layout-${i}`} value=${v.layout} onInput=${(e) => setIn('variants', i, 'layout', e.target.value)} /></div>
          <div class="dc-actions"><button type="button" class="btn danger" aria-label=${`Remove variant ${v.id}`} disabled=${draft.variants.length < 2} onClick=${() => remove('variants', i)}>Remove</button></div>
          <div class="dc-wide"><label for=${`v-content-${i}`}>Content (JSON the page shows)</label>
            <textarea id=${`v-content-${i}`} value=${v.content} onInput=${(e) => setIn('variants', i, 'content', e.target.value)}></textarea></div>
        </div>`)}
        <p><button type="button" class="btn" onClick=${() => set('variants', [...draft.variants, { id: `variant_${draft.variants.length + 1}`, name: '', layout: '', content: '{}' }])}>Add variant</button></p>
      </div>

      <h2>Rules</h2>
      <div class="card" id="rules">
        <p class="muted">Tried in order; the first that holds chooses its variant. A visitor Tailor does not know is in no segment and has 0 orders.</p>
        ${draft.rules.length === 0 && html`<p class="muted">No rules: everyone sees ${draft.default}.</p>`}
        ${draft.rules.map((r, i) => html`<div class="dc-row" key=${'r' + i} data-rule-row=${i}>
          <div><label for=${`r-kind-${i}`}>${i + 1}. When</label>
            <select id=${`r-kind-${i}`} value=${r.kind} onChange=${(e) => setIn('rules', i, 'kind', e.target.value)}>
              <option value="segment">in segment</option><option value="trait">trait</option><option value="computed">computed field</option></select></div>
          <div><label for=${`r-field-${i}`}>${r.kind === 'segment' ? 'Segment' : r.kind === 'trait' ? 'Trait name' : 'Field'}</label>
            ${r.kind === 'segment' ? html`<select id=${`r-field-${i}`} value=${r.field} onChange=${(e) => setIn('rules', i, 'field', e.target.value)}>
                <option value="">choose…</option>${segments.map((s) => html`<option value=${s.id}>${s.name || s.id}</option>`)}</select>`
              : r.kind === 'computed' ? html`<select id=${`r-field-${i}`} value=${r.field} onChange=${(e) => setIn('rules', i, 'field', e.target.value)}>
                ${COMPUTED.map((c) => html`<option value=${c}>${c}</option>`)}</select>`
              : html`<input id=${`r-field-${i}`} value=${r.field} onInput=${(e) => setIn('rules', i, 'field', e.target.value)} />`}</div>
          ${r.kind !== 'segment' && html`<div><label for=${`r-op-${i}`}>Is</label>
            <select id=${`r-op-${i}`} value=${r.op} onChange=${(e) => setIn('rules', i, 'op', e.target.value)}>${OPS.map((o) => html`<option value=${o}>${o}</option>`)}</select></div>
          <div><label for=${`r-value-${i}`}>Value${r.op === 'in' ? ' (comma separated)' : ''}</label>
            <input id=${`r-value-${i}`} value=${r.value} disabled=${r.op === 'exists'} onInput=${(e) => setIn('rules', i, 'value', e.target.value)} /></div>`}
          <div><label for=${`r-variant-${i}`}>Show</label>
            <select id=${`r-variant-${i}`} value=${r.variant} onChange=${(e) => setIn('rules', i, 'variant', e.target.value)}>${variantIds.map((id) => html`<option value=${id}>${id}</option>`)}</select></div>
          <div class="dc-actions">
            <button type="button" class="btn" aria-label=${`Move rule ${i + 1} up`} disabled=${i === 0} onClick=${() => move('rules', i, -1)}>↑</button>
            <button type="button" class="btn" aria-label=${`Move rule ${i + 1} down`} disabled=${i === draft.rules.length - 1} onClick=${() => move('rules', i, 1)}>↓</button>
            <button type="button" class="btn danger" aria-label=${`Remove rule ${i + 1}`} onClick=${() => remove('rules', i)}>Remove</button></div>
        </div>`)}
        <p><button type="button" class="btn" onClick=${() => set('rules', [...draft.rules, { kind: 'computed', field: 'orders', op: 'gte', value: '1', variant: draft.default }])}>Add rule</button></p>
      </div>

      <h2>Products and geo</h2>
      <div class="card grid" style="grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:.75rem">
        <div class="dc-field"><label class="dc-check"><input type="checkbox" id="pl-recs" checked=${!!draft.recommendations}
          onChange=${(e) => set('recommendations', e.target.checked ? { strategy: 'for_you', limit: 4, filter: { exclude_purchased: true, in_stock_only: true } } : null)} /> Recommend products</label></div>
        ${draft.recommendations && html`
          <div class="dc-field"><label for="pl-strategy">Strategy</label>
            <select id="pl-strategy" value=${draft.recommendations.strategy} onChange=${(e) => set('recommendations', { ...draft.recommendations, strategy: e.target.value })}>
              ${STRATEGIES.map((s) => html`<option value=${s}>${s}</option>`)}</select></div>
          <div class="dc-field"><label for="pl-limit">How many</label>
            <input id="pl-limit" type="number" min="1" max="50" value=${draft.recommendations.limit} onInput=${(e) => set('recommendations', { ...draft.recommendations, limit: e.target.value })} /></div>`}
        <div class="dc-field"><label class="dc-check"><input type="checkbox" id="pl-geo" checked=${draft.geo} onChange=${(e) => set('geo', e.target.checked)} /> Prices in the visitor's currency, nearest store</label></div>
      </div>
      <p style="display:flex;gap:1rem;align-items:center"><button class="btn primary" type="submit" id="pl-save">${isNew ? 'Create placement' : 'Save'}</button>
        <span class="muted" role="status" id="pl-saved">${saved}</span></p>
      <${ErrorBox} error=${saveError} />
    </form>
    ${!isNew && html`<${Preview} id=${params.id} />`}
    ${!isNew && html`<${Figures} id=${params.id} />`}
  </div>`;
}

/** Preview asks what the saved placement shows a profile (empty: a new visitor). */
function Preview({ id }) {
  const [who, setWho] = useState('');
  const [country, setCountry] = useState('');
  const [res, setRes] = useState(null);
  const [error, setError] = useState(null);
  const run = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { profile: who.trim() };
      if (country.trim()) body.country = country.trim().toUpperCase();
      setRes(await api(`/api/placements/${encodeURIComponent(id)}/preview`, { method: 'POST', body }));
    } catch (err) {
      setRes(null);
      setError(err);
    }
  };
  const p = res && res.placements[0];
  return html`<section>
    <h2>Preview</h2>
    <form class="card grid" id="preview-form" style="grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:.75rem;align-items:end" onSubmit=${run}>
      <div class="dc-field"><label for="pv-who">Profile (id, userId or email; empty for a new visitor)</label><input id="pv-who" value=${who} onInput=${(e) => setWho(e.target.value)} /></div>
      <div class="dc-field"><label for="pv-country">Country (optional, e.g. DE)</label><input id="pv-country" value=${country} maxlength="2" onInput=${(e) => setCountry(e.target.value)} /></div>
      <div><button class="btn primary" type="submit">Preview</button></div>
    </form>
    <${ErrorBox} error=${error} />
    ${p && html`<div class="card" id="preview-result">
      <p><strong>Shows <span class="pv-variant">${p.variant.id}</span></strong>
        ${p.chosen_by === 'rule' ? ` because rule ${p.rule + 1} holds` : p.chosen_by === 'experiment' ? ' (experiment assignment)' : ' (the default: no rule holds)'}
        ${res.profile ? html` for profile <a href=${`/profiles/${encodeURIComponent(res.profile)}`}>${res.profile}</a>` : ' for a new visitor'}.</p>
      ${p.experiment && html`<p class="muted">Experiment ${p.experiment.id}: ${p.experiment.variant || 'not assigned'}</p>`}
      ${p.variant.content && html`<pre style="white-space:pre-wrap">${JSON.stringify(p.variant.content, null, 2)}</pre>`}
      ${res.geo && html`<p class="muted">Currency ${res.geo.currency}${res.geo.store ? `, nearest store ${res.geo.store.name}` : ''}</p>`}
      ${p.items && html`<ol>${p.items.map((it) => html`<li key=${it.id}>${it.name} — ${it.price} ${it.currency || ''} <span class="muted">${it.reason || ''}</span></li>`)}</ol>`}
    </div>`}
  </section>`;
}

/** Figures charts the placement's impressions, clicks and conversions per day. */
function Figures({ id }) {
  const [s, setS] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const c = new AbortController();
    loadStats(id, 30, c.signal).then(setS).catch((e) => { if (!c.signal.aborted) setError(e); });
    return () => c.abort();
  }, [id]);
  return html`<section>
    <h2>Impressions, clicks and conversions</h2>
    <${ErrorBox} error=${error} />
    ${!s && !error ? html`<${Spinner} label="Loading figures" />` : s && html`<div class="card" id="figures">
      <p><span class="tot-impressions">${fmtNum(s.totals.impressions)}</span> impressions,${' '}
        <span class="tot-clicks">${fmtNum(s.totals.clicks)}</span> clicks (CTR ${ctr(s.totals)}),${' '}
        <span class="tot-conversions">${fmtNum(s.totals.conversions)}</span> conversions (orders within 7 days of a click, and offers the page reported used),${' '}
        <span class="tot-revenue">${fmtNum(Math.round(s.totals.revenue))}</span> revenue from those orders, in the last 30 days</p>
      <${Chart} x=${s.x} series=${s.series} height=${220} title="Per day (UTC)" points=${true} />
    </div>`}
  </section>`;
}
