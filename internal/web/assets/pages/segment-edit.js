// The segment editor (/segments/new, /segments/:id/edit): a visual rule
// builder and the rule's text form side by side, each editable, with a
// live count and sample (and, for a saved segment, who would enter and
// leave) a moment after the last edit.
import { html, useState, useEffect, useRef, useMemo, api, navigate, ErrorBox, Spinner, fmtNum } from '../lib.js';
import {
  OPS, opsFor, valueKind, defaultValue, UNITS, splitDuration, MEASURES, COUNTS, KINDS, CHANNELS,
  newNode, nodeKind, setAt, pointer, errorNode, parseList, listText, fixErr,
} from '../components/seg-rules.js';

const DEBOUNCE_MS = 100;

// fieldTypes: computed fields the engine knows when the vocabulary has not
// answered yet (the same list as docs/API.md).
const FALLBACK_COMPUTED = [
  ['average_order_value', 'number'], ['days_since_last_order', 'number'], ['days_since_last_seen', 'number'],
  ['event_count', 'number'], ['first_order', 'time'], ['first_seen', 'time'], ['last_order', 'time'],
  ['last_seen', 'time'], ['lifecycle', 'string'], ['orders', 'number'], ['rfm', 'number'],
  ['rfm_frequency', 'number'], ['rfm_monetary', 'number'], ['rfm_recency', 'number'],
  ['spend_tier', 'string'], ['total_spend', 'number'],
].map(([name, type]) => ({ name, type }));

// Known values of the models' string fields, offered as list choices.
const MODEL_VALUES = {
  spend_tier: ['low', 'mid', 'high'],
  lifecycle: ['prospect', 'new', 'active', 'at_risk', 'lapsed'],
};

const CSS = `
.seg-edit { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1rem; align-items: start; }
@media (max-width: 900px) { .seg-edit { grid-template-columns: minmax(0, 1fr); } }
.seg-edit > * { min-width: 0; }
.seg-node { border: 1px solid var(--border, #ccd); border-radius: 6px; padding: .5rem; margin: .35rem 0; background: var(--bg, #fff); }
.seg-node.group { border-left: 4px solid var(--accent, #4a6cf7); }
.seg-node.negated { border-style: dashed; }
.seg-node.bad { border-color: var(--danger, #c0392b); box-shadow: 0 0 0 2px rgba(192,57,43,.2); }
.seg-row { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; }
.seg-row label { display: inline-flex; flex-wrap: wrap; gap: .25rem; align-items: center; font-size: .9em; max-width: 100%; }
.seg-row select, .seg-row input { max-width: 100%; min-width: 0; }
.seg-row input[type=number] { width: 6.5em; }
.seg-children { list-style: none; margin: 0; padding: 0 0 0 .8rem; }
.seg-tools { margin-left: auto; display: inline-flex; gap: .2rem; }
.seg-tools .btn { padding: .1rem .45rem; }
.seg-err { color: var(--danger, #c0392b); font-size: .9em; margin: .25rem 0 0; }
.seg-text textarea { width: 100%; min-height: 9em; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; box-sizing: border-box; }
.seg-count { font-size: 2rem; font-weight: 600; }
.seg-diff .plus { color: var(--ok, #1e8449); } .seg-diff .minus { color: var(--danger, #c0392b); }
.seg-sample { font-size: .9em; padding-left: 1.1rem; word-break: break-all; }
.seg-filter { padding-left: .8rem; border-left: 2px solid var(--border, #ccd); margin: .3rem 0; }
`;

function Options({ items, value }) {
  const list = items.some((x) => (Array.isArray(x) ? x[0] : x) === value) || value === undefined || value === ''
    ? items : [value, ...items];
  return list.map((x) => {
    const [v, label] = Array.isArray(x) ? x : [x, x];
    return html`<option value=${v} selected=${v === value}>${label}</option>`;
  });
}

function NumInput({ value, onChange, label }) {
  return html`<label>${label}<input type="number" step="any" value=${value ?? ''}
    onInput=${(e) => { const n = e.currentTarget.valueAsNumber; if (!Number.isNaN(n)) onChange(n); }} /></label>`;
}

// ListInput keeps what is typed ("a, b,") while the list it means is the
// value; a value changed from outside (the text form) replaces the text.
function ListInput({ value, type, onChange, label, suggestions }) {
  const [text, setText] = useState(listText(value));
  useEffect(() => {
    if (JSON.stringify(parseList(text, type)) !== JSON.stringify(value)) setText(listText(value));
  }, [JSON.stringify(value)]);
  const toggle = (s) => {
    const has = (value || []).includes(s);
    onChange(has ? value.filter((x) => x !== s) : [...(value || []), s]);
  };
  return html`<label>${label}<input type="text" value=${text} placeholder="a, b, c"
      onInput=${(e) => { setText(e.currentTarget.value); onChange(parseList(e.currentTarget.value, type)); }} /></label>
    ${suggestions && suggestions.map((s) => html`<label><input type="checkbox" checked=${(value || []).includes(s)}
      onChange=${() => toggle(s)} />${s}</label>`)}`;
}

function DurationInput({ value, onChange, label }) {
  const [n, u] = splitDuration(value);
  return html`<label>${label}<input type="number" min="1" step="1" value=${n}
      onInput=${(e) => { const v = e.currentTarget.valueAsNumber; if (v >= 1) onChange(`${Math.round(v)}${u}`); }} /></label>
    <label>unit<select onChange=${(e) => onChange(`${n}${e.currentTarget.value}`)}>
      <${Options} items=${UNITS} value=${u} /></select></label>`;
}

// Value is the operand input an operator needs, by the field's type.
function Value({ op, type, value, onChange, suggestions }) {
  const kind = valueKind(op, type);
  switch (kind) {
    case 'none': return null;
    case 'number': return html`<${NumInput} label="value" value=${value} onChange=${onChange} />`;
    case 'pair': {
      const [lo, hi] = Array.isArray(value) ? value : [0, 0];
      return html`<${NumInput} label="from" value=${lo} onChange=${(v) => onChange([v, hi])} />
        <${NumInput} label="to" value=${hi} onChange=${(v) => onChange([lo, v])} />`;
    }
    case 'list': return html`<${ListInput} label="values" value=${value} type=${type} onChange=${onChange} suggestions=${suggestions} />`;
    case 'date': return html`<label>date<input type="date" value=${String(value || '').slice(0, 10)}
      onInput=${(e) => e.currentTarget.value && onChange(e.currentTarget.value)} /></label>`;
    case 'duration': return html`<${DurationInput} label="amount" value=${value} onChange=${onChange} />`;
    case 'text': return html`<label>value<input type="text" value=${value ?? ''} onInput=${(e) => onChange(e.currentTarget.value)} /></label>`;
  }
  // scalar: an untyped eq/neq (a trait or property), typed by choice.
  const t = typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'boolean' : 'string';
  const retype = (nt) => onChange(nt === 'number' ? Number(value) || 0 : nt === 'boolean' ? true : String(value ?? ''));
  return html`<label>as<select onChange=${(e) => retype(e.currentTarget.value)}>
      <${Options} items=${[['string', 'text'], ['number', 'number'], ['boolean', 'yes/no']]} value=${t} /></select></label>
    ${t === 'number' ? html`<${NumInput} label="value" value=${value} onChange=${onChange} />`
      : t === 'boolean' ? html`<label>value<select onChange=${(e) => onChange(e.currentTarget.value === 'true')}>
          <${Options} items=${[['true', 'yes'], ['false', 'no']]} value=${String(value)} /></select></label>`
      : html`<label>value<input type="text" value=${value ?? ''} onInput=${(e) => onChange(e.currentTarget.value)} /></label>`}`;
}

// Cmp edits an operator, its value and the case toggle of a comparison;
// onChange gets the fields to merge into the node.
function Cmp({ node, type, filter, onChange, suggestions }) {
  const ops = opsFor(type, filter);
  const stringy = ['eq', 'neq', 'in', 'not_in', 'contains', 'starts_with'].includes(node.op) && type !== 'number' && type !== 'time';
  const setOp = (op) => onChange({ op, value: defaultValue(op, type, node.value), case_sensitive: undefined });
  return html`<label>operator<select onChange=${(e) => setOp(e.currentTarget.value)}>
      <${Options} items=${ops.map((o) => [o, OPS[o]])} value=${node.op} /></select></label>
    <${Value} op=${node.op} type=${type} value=${node.value} suggestions=${suggestions} onChange=${(value) => onChange({ value })} />
    ${stringy && html`<label><input type="checkbox" checked=${!!node.case_sensitive}
      onChange=${(e) => onChange({ case_sensitive: e.currentTarget.checked || undefined })} />case-sensitive</label>`}`;
}

function merge(node, fields) {
  const out = { ...node, ...fields };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

function TraitNode({ node, set, ctx }) {
  const traits = ctx.vocab?.traits || [];
  return html`<div class="seg-row"><strong>trait</strong>
    <label>name<select onChange=${(e) => set(merge(node, { trait: e.currentTarget.value }))}>
      <${Options} items=${traits} value=${node.trait} /></select></label>
    <${Cmp} node=${node} type=${undefined} onChange=${(f) => set(merge(node, f))} /></div>`;
}

function ComputedNode({ node, set, ctx }) {
  const fields = ctx.vocab?.computed || FALLBACK_COMPUTED;
  const type = (fields.find((f) => f.name === node.computed) || {}).type;
  const setField = (name) => {
    const t = (fields.find((f) => f.name === name) || {}).type;
    const op = opsFor(t).includes(node.op) ? node.op : opsFor(t)[0];
    set(merge(node, { computed: name, op, value: defaultValue(op, t, opsFor(t).includes(node.op) ? node.value : undefined) }));
  };
  return html`<div class="seg-row"><strong>field</strong>
    <label>computed field<select onChange=${(e) => setField(e.currentTarget.value)}>
      <${Options} items=${fields.map((f) => [f.name, f.name.replace(/_/g, ' ')])} value=${node.computed} /></select></label>
    <${Cmp} node=${node} type=${type} suggestions=${MODEL_VALUES[node.computed]} onChange=${(f) => set(merge(node, f))} /></div>`;
}

function Window({ within, onChange }) {
  const form = !within ? 'any' : within.last ? 'last' : within.since ? 'since' : 'between';
  const day = (ago) => new Date(Date.now() - ago * 86400e3).toISOString().slice(0, 10);
  const setForm = (f) => onChange({ any: undefined, last: { last: '30d' }, since: { since: day(30) }, between: { from: day(30), to: day(0) } }[f]);
  return html`<label>when<select onChange=${(e) => setForm(e.currentTarget.value)}>
      <${Options} items=${[['any', 'at any time'], ['last', 'in the last'], ['since', 'since'], ['between', 'between']]} value=${form} /></select></label>
    ${form === 'last' && html`<${DurationInput} label="window" value=${within.last} onChange=${(v) => onChange({ last: v })} />`}
    ${form === 'since' && html`<label>since date<input type="date" value=${within.since.slice(0, 10)} onInput=${(e) => e.currentTarget.value && onChange({ since: e.currentTarget.value })} /></label>`}
    ${form === 'between' && html`<label>from<input type="date" value=${within.from.slice(0, 10)} onInput=${(e) => e.currentTarget.value && onChange({ ...within, from: e.currentTarget.value })} /></label>
      <label>to (exclusive)<input type="date" value=${within.to.slice(0, 10)} onInput=${(e) => e.currentTarget.value && onChange({ ...within, to: e.currentTarget.value })} /></label>`}`;
}

function EventNode({ node, set, ctx }) {
  const events = (ctx.vocab?.events || []);
  const ev = events.find((e) => e.name === node.event);
  const props = ev?.properties || [];
  const measure = node.measure || 'count';
  const where = node.where || [];
  const setWhere = (i, f) => set(merge(node, { where: where.length === 1 && f === undefined ? undefined : setAt(where, [i], f) }));
  const addFilter = () => set(merge(node, { where: [...where, { property: props.includes('category') ? 'category' : props[0] || 'category', op: 'exists' }] }));
  const setMeasure = (m) => {
    const base = { measure: m === 'count' ? undefined : m, of: undefined, op: undefined, value: undefined };
    if (['sum', 'avg', 'min', 'max'].includes(m)) Object.assign(base, { of: node.of || props.find((p) => p === 'revenue') || props.find((p) => /revenue|total|price|value/.test(p)) || props[0] || 'revenue', op: 'gte', value: 0 });
    if (m === 'first' || m === 'last') Object.assign(base, { op: 'more_than_ago', value: '30d' });
    set(merge(node, base));
  };
  const countOp = !node.op ? 'once' : node.op;
  return html`<div class="seg-row"><strong>did</strong>
      <label>event<select onChange=${(e) => set(merge(node, { event: e.currentTarget.value, where: undefined }))}>
        <${Options} items=${events.map((e) => [e.name, `${e.name} (${fmtNum(e.count)})`])} value=${node.event} /></select></label>
      <label>measure<select onChange=${(e) => setMeasure(e.currentTarget.value)}>
        <${Options} items=${Object.entries(MEASURES)} value=${measure} /></select></label>
      ${['sum', 'avg', 'min', 'max'].includes(measure) && html`<label>of property<select onChange=${(e) => set(merge(node, { of: e.currentTarget.value }))}>
        <${Options} items=${props} value=${node.of} /></select></label>`}
      ${measure === 'count' ? html`<label>how often<select onChange=${(e) => {
          const op = e.currentTarget.value;
          set(merge(node, op === 'once' ? { op: undefined, value: undefined } : { op, value: typeof node.value === 'number' ? node.value : 1 }));
        }}><${Options} items=${[['once', 'at least once'], ...COUNTS]} value=${countOp} /></select></label>
        ${node.op && html`<${NumInput} label="times" value=${node.value} onChange=${(v) => set(merge(node, { value: Math.max(0, Math.round(v)) }))} />`}`
      : html`<${Cmp} node=${node} type=${measure === 'first' || measure === 'last' ? 'time' : 'number'} onChange=${(f) => set(merge(node, f))} />`}
      <${Window} within=${node.within} onChange=${(w) => set(merge(node, { within: w }))} />
    </div>
    ${where.map((f, i) => html`<div class="seg-row seg-filter" key=${i}>
      <span>where</span>
      <label>property<select onChange=${(e) => setWhere(i, { ...f, property: e.currentTarget.value })}>
        <${Options} items=${props} value=${f.property} /></select></label>
      <${Cmp} node=${f} type=${undefined} filter=${true} onChange=${(x) => setWhere(i, merge(f, x))} />
      <button type="button" class="btn" aria-label=${`remove filter ${i + 1}`} onClick=${() => setWhere(i, undefined)}>✕</button>
    </div>`)}
    <div class="seg-row"><button type="button" class="btn" onClick=${addFilter}>+ property filter</button></div>`;
}

function SegmentNode({ node, set, ctx }) {
  const segs = (ctx.segments || []).filter((s) => s.id !== ctx.selfID);
  return html`<div class="seg-row"><strong>member of</strong>
    <label>segment<select onChange=${(e) => set({ segment: e.currentTarget.value })}>
      <${Options} items=${segs.map((s) => [s.id, s.name || s.id])} value=${node.segment} /></select></label></div>`;
}

// ReachableNode: the channel a profile may get marketing messages on now
// (consent given, not suppressed, an address to send to).
function ReachableNode({ node, set, ctx }) {
  const known = ctx.vocab?.channels || CHANNELS.map(([c]) => c);
  const label = (c) => (CHANNELS.find(([k]) => k === c) || [c, c])[1];
  return html`<div class="seg-row"><strong>reachable</strong>
    <label>on channel<select onChange=${(e) => set({ reachable: e.currentTarget.value })}>
      <${Options} items=${known.map((c) => [c, label(c)])} value=${node.reachable} /></select></label>
    <span class="muted small">consent for marketing, not suppressed, an address or token</span></div>`;
}

// Node edits one node at path; a "not" node is shown as its child with
// "negate" ticked. tools are the move/remove buttons its group gives it.
function Node({ node, path, ctx, tools }) {
  const set = (v) => ctx.change(path, v);
  if (nodeKind(node) === 'not') {
    return html`<${Node} node=${node.not} path=${[...path, 'not']} ctx=${ctx} tools=${tools}
      negated=${true} unNegate=${() => set(node.not)} notPtr=${pointer(path)} />`;
  }
  return html`<${Inner} node=${node} path=${path} ctx=${ctx} tools=${tools} set=${set} />`;
}

function Inner({ node, path, ctx, tools, set }) {
  const ptr = pointer(path);
  const negated = path[path.length - 1] === 'not';
  const outerPath = negated ? path.slice(0, -1) : path;
  const outerPtr = pointer(outerPath);
  const bad = ctx.errPtr !== null && (ctx.errPtr === ptr || (negated && ctx.errPtr === outerPtr));
  const kind = nodeKind(node);
  const group = kind === 'and' || kind === 'or';
  const toggleNegate = (on) => ctx.change(outerPath, on ? { not: node } : node);
  const body = {
    trait: TraitNode, computed: ComputedNode, event: EventNode, segment: SegmentNode, reachable: ReachableNode,
  }[kind];
  return html`<div class=${`seg-node${group ? ' group' : ''}${negated ? ' negated' : ''}${bad ? ' bad' : ''}`}
      data-node=${outerPtr || '/'} role="group" aria-label=${`condition ${outerPtr || 'root'}`}>
    <div class="seg-row">
      ${group && html`<label>match<select onChange=${(e) => set({ [e.currentTarget.value]: node[kind] })}>
        <${Options} items=${[['and', 'all of'], ['or', 'any of']]} value=${kind} /></select></label>`}
      <label><input type="checkbox" checked=${negated} onChange=${(e) => toggleNegate(e.currentTarget.checked)} />not</label>
      <span class="seg-tools">${tools}</span>
    </div>
    ${group ? html`<${Group} node=${node} kind=${kind} path=${path} ctx=${ctx} />`
      : body ? html`<${body} node=${node} set=${set} ctx=${ctx} />`
      : html`<p class="seg-err">This node is not one the builder knows: ${JSON.stringify(node)}</p>`}
    ${bad && html`<p class="seg-err" role="alert">${ctx.errMsg}</p>`}
  </div>`;
}

function Group({ node, kind, path, ctx }) {
  const children = node[kind] || [];
  const [add, setAdd] = useState('computed');
  const move = (i, d) => {
    const next = children.slice();
    [next[i], next[i + d]] = [next[i + d], next[i]];
    ctx.change([...path, kind], next);
  };
  return html`<ol class="seg-children">
      ${children.map((c, i) => html`<li key=${i}><${Node} node=${c} path=${[...path, kind, i]} ctx=${ctx} tools=${html`
        <button type="button" class="btn" aria-label=${`move condition ${i + 1} up`} disabled=${i === 0} onClick=${() => move(i, -1)}>↑</button>
        <button type="button" class="btn" aria-label=${`move condition ${i + 1} down`} disabled=${i === children.length - 1} onClick=${() => move(i, 1)}>↓</button>
        <button type="button" class="btn danger" aria-label=${`remove condition ${i + 1}`} onClick=${() => ctx.change([...path, kind], children.filter((_, j) => j !== i))}>✕</button>`} /></li>`)}
    </ol>
    ${children.length === 0 && html`<p class="muted">No conditions yet: add one.</p>`}
    <div class="seg-row">
      <label>add<select data-add=${pointer(path) || '/'} onChange=${(e) => setAdd(e.currentTarget.value)}>
        <${Options} items=${KINDS} value=${add} /></select></label>
      <button type="button" class="btn" data-add-button=${pointer(path) || '/'}
        onClick=${() => ctx.change([...path, kind], [...children, newNode(add, ctx.vocab, ctx.segments)])}>+ Add condition</button>
    </div>`;
}

// parseErrorAt reads "1:17: expected …" from a /text error.
function textError(err) {
  const msg = String(err?.message || '').replace(/^\/text: /, '');
  const m = /^(\d+):(\d+): (.*)$/s.exec(msg);
  return m ? { line: +m[1], col: +m[2], msg: m[3] } : { msg };
}

function Preview({ state, saved }) {
  const p = state.result;
  return html`<section class="card" aria-live="polite" data-testid="preview" data-pending=${state.pending ? '1' : '0'}>
    <h2>Live preview</h2>
    ${p ? html`<div><span class="seg-count" id="live-count" data-count=${p.count}>${fmtNum(p.count)}</span> profiles
        <span class="muted"> · ${p.millis?.toFixed?.(1)} ms</span>${state.pending && html` <${Spinner} label="updating" />`}</div>
      ${state.error && html`<p class="muted">The rule as edited has a problem (shown beside it): these figures are of the last rule that worked.</p>`}
      ${saved && p.entering && html`<p class="seg-diff">Compared with the saved rule:
        <span class="plus" id="entering">+${fmtNum(p.entering.count)} entering</span>,
        <span class="minus" id="leaving">−${fmtNum(p.leaving.count)} leaving</span></p>`}
      ${p.sample?.length > 0 && html`<h3>Sample members</h3><ul class="seg-sample">
        ${p.sample.map((id) => html`<li><a href=${`/profiles/${encodeURIComponent(id)}`}>${id}</a></li>`)}</ul>`}`
    : state.pending ? html`<${Spinner} label="counting" />` : html`<p class="muted">Add a condition to see who matches.</p>`}
  </section>`;
}

export default function Page({ params = {}, query = {} }) {
  const editing = params.id || null;
  const from = query.from || null;
  const [rule, setRule] = useState(null);
  const [text, setText] = useState('');
  const [meta, setMeta] = useState({ id: '', name: '', description: '' });
  const [vocab, setVocab] = useState(null);
  const [segments, setSegments] = useState([]);
  const [loadErr, setLoadErr] = useState(null);
  // q is the last edit to evaluate: the tree (builder) or the text.
  const [q, setQ] = useState(null);
  const [pv, setPv] = useState({ pending: false, result: null, error: null });
  const [saveErr, setSaveErr] = useState(null);
  const [saving, setSaving] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const textFocused = useRef(false);
  const ctrl = useRef(null);

  useEffect(() => {
    let live = true;
    api('/api/segments/vocabulary').then((v) => live && setVocab(v)).catch((e) => live && setLoadErr(fixErr(e)));
    api('/api/segments').then((r) => live && setSegments(r.segments)).catch((e) => live && setLoadErr(fixErr(e)));
    const src = editing || from;
    if (src) {
      api(`/api/segments/${encodeURIComponent(src)}`).then((s) => {
        if (!live) return;
        setRule(s.rule);
        setText(s.text || '');
        setMeta(editing ? { id: s.id, name: s.name, description: s.description || '' }
          : { id: `${s.id}-copy`.slice(0, 64), name: `Copy of ${s.name}`, description: s.description || '' });
        setQ({ kind: 'rule', rule: s.rule });
      }).catch((e) => live && setLoadErr(fixErr(e)));
    } else {
      setRule({ and: [] });
      setText('');
    }
    return () => { live = false; };
  }, [editing, from]);

  // The preview: DEBOUNCE_MS after the last edit, aborting the one before.
  useEffect(() => {
    if (!q) return undefined;
    const empty = q.kind === 'text' ? q.text.trim() === '' : (q.rule?.and && q.rule.and.length === 0);
    if (empty) {
      ctrl.current?.abort();
      setPv({ pending: false, result: null, error: null });
      if (q.kind === 'rule' && !textFocused.current) setText('');
      return undefined;
    }
    setPv((s) => ({ ...s, pending: true }));
    const timer = setTimeout(() => {
      ctrl.current?.abort();
      const c = new AbortController();
      ctrl.current = c;
      const body = { sample: 12, ...(q.kind === 'text' ? { text: q.text } : { rule: q.rule }), ...(editing ? { against: editing } : {}) };
      api('/api/segments/preview', { method: 'POST', body, signal: c.signal }).then((res) => {
        if (c.signal.aborted) return;
        setPv({ pending: false, result: res, error: null });
        if (q.kind === 'text') setRule(res.rule);
        else if (!textFocused.current) setText(res.text);
      }).catch((e) => {
        if (c.signal.aborted || e?.name === 'AbortError') return;
        setPv((s) => ({ pending: false, result: s.result, error: fixErr(e) }));
      });
    }, DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [q]);

  const changeRule = (path, v) => {
    setRule((r) => {
      const next = setAt(r, path, v);
      setQ({ kind: 'rule', rule: next });
      return next;
    });
    setSaveErr(null);
  };
  const onText = (e) => {
    const t = e.currentTarget.value;
    setText(t);
    setQ({ kind: 'text', text: t });
    setSaveErr(null);
  };

  const err = saveErr || pv.error;
  const errPath = err?.body?.path || null;
  const errPtr = rule ? errorNode(rule, errPath) : null;
  const ctx = useMemo(() => ({
    vocab, segments, selfID: editing, change: changeRule,
    errPtr, errMsg: String(err?.message || '').replace(/^\/rule[^:]*: /, ''),
  }), [vocab, segments, editing, errPtr, err]);
  const tErr = errPath === '/text' ? textError(err) : null;
  const metaErr = errPath && ['/id', '/name', '/description'].includes(errPath) ? err : null;
  const otherErr = err && errPtr === null && !tErr && !metaErr && err?.body?.path !== '/against' ? err : null;

  const save = async (e) => {
    e.preventDefault();
    setSaving(true);
    setSaveErr(null);
    const body = { name: meta.name, description: meta.description, ...(q?.kind === 'text' ? { text } : { rule }) };
    try {
      const s = editing
        ? await api(`/api/segments/${encodeURIComponent(editing)}`, { method: 'PUT', body })
        : await api('/api/segments', { method: 'POST', body: { id: meta.id, ...body } });
      navigate(`/segments/${encodeURIComponent(s.id)}`);
    } catch (x) {
      setSaveErr(fixErr(x));
    } finally {
      setSaving(false);
    }
  };
  const del = async () => {
    try {
      await api(`/api/segments/${encodeURIComponent(editing)}`, { method: 'DELETE' });
      navigate('/segments');
    } catch (x) {
      setSaveErr(fixErr(x));
      setConfirmDelete(false);
    }
  };

  if (loadErr) return html`<${ErrorBox} error=${loadErr} />`;
  if (rule === null) return html`<${Spinner} label="Loading the segment" />`;
  const rootGroup = ['and', 'or'].includes(nodeKind(rule)) || (nodeKind(rule) === 'not' && ['and', 'or'].includes(nodeKind(rule.not)));
  return html`<style>${CSS}</style>
    <h1>${editing ? `Edit segment ${meta.name || editing}` : 'New segment'}</h1>
    <form class="card" onSubmit=${save} aria-label="segment details">
      <div class="seg-row">
        ${!editing && html`<label for="seg-id">Id</label><input id="seg-id" required maxlength="64" title="1 to 64 of a-z, 0-9, - and _, starting with a letter or a digit"
          value=${meta.id} onInput=${(e) => setMeta({ ...meta, id: e.currentTarget.value })} />`}
        <label for="seg-name">Name</label><input id="seg-name" value=${meta.name} onInput=${(e) => setMeta({ ...meta, name: e.currentTarget.value })} />
        <label for="seg-desc">Description</label><input id="seg-desc" size="40" value=${meta.description} onInput=${(e) => setMeta({ ...meta, description: e.currentTarget.value })} />
      </div>
      ${metaErr && html`<${ErrorBox} error=${metaErr} />`}
      <div class="seg-row" style="margin-top:.5rem">
        <button class="btn primary" type="submit" disabled=${saving}>${saving ? 'Saving…' : editing ? 'Save changes' : 'Create segment'}</button>
        ${editing && html`<a class="btn" href=${`/segments/new?from=${encodeURIComponent(editing)}`}>Duplicate</a>
          <a class="btn" href=${`/segments/${encodeURIComponent(editing)}`}>Cancel</a>
          ${confirmDelete ? html`<span role="alert">Delete segment “${meta.name || editing}”?
              <button type="button" class="btn danger" onClick=${del}>Yes, delete</button>
              <button type="button" class="btn" onClick=${() => setConfirmDelete(false)}>No</button></span>`
            : html`<button type="button" class="btn danger" onClick=${() => setConfirmDelete(true)}>Delete…</button>`}`}
      </div>
    </form>
    <div class="seg-edit">
      <section class="card" aria-label="rule builder">
        <h2>Rule</h2>
        <${Node} node=${rule} path=${[]} ctx=${ctx} />
        ${!rootGroup && html`<button type="button" class="btn" onClick=${() => changeRule([], { and: [rule] })}>Put in a group</button>`}
        ${otherErr && html`<${ErrorBox} error=${otherErr} />`}
      </section>
      <div>
        <section class="card seg-text">
          <h2><label for="seg-text">Rule as text</label></h2>
          <textarea id="seg-text" spellcheck="false" value=${text} onInput=${onText}
            onFocus=${() => { textFocused.current = true; }} onBlur=${() => { textFocused.current = false; }}
            aria-invalid=${tErr ? 'true' : 'false'} aria-describedby="seg-text-err"></textarea>
          <div id="seg-text-err">${tErr && html`<p class="seg-err" role="alert">${tErr.line ? `Line ${tErr.line}, column ${tErr.col}: ` : ''}${tErr.msg}</p>`}</div>
          <p class="muted">Edit either side: the other follows.</p>
        </section>
        <${Preview} state=${pv} saved=${!!editing} />
      </div>
    </div>`;
}
