// Why a profile is or is not in a segment: the rule tree as the engine
// decided it for that profile, each node with its result, the figure it
// compared and when it changes by itself (a window or a date moving on).
import { html, useState, useEffect, api, ErrorBox, Spinner, fmtTime, fmtAgo } from '../lib.js';
import { describe, fixErr } from '../components/seg-rules.js';

const CSS = `
.why-tree, .why-tree ul { list-style: none; padding-left: 1.1rem; margin: 0; }
.why-tree { padding-left: 0; }
.why-node { border-left: 3px solid var(--border, #ccd); padding: .3rem .6rem; margin: .3rem 0; }
.why-node.t { border-left-color: var(--ok, #1e8449); }
.why-node.f { border-left-color: var(--danger, #c0392b); }
.badge { display: inline-block; min-width: 3.2em; text-align: center; border-radius: 999px; padding: 0 .5em; font-size: .8em; font-weight: 600; color: #fff; }
.badge.t { background: var(--ok, #1e8449); } .badge.f { background: var(--danger, #c0392b); }
.why-detail { font-size: .9em; }
`;

function Badge({ value }) {
  return html`<span class=${`badge ${value ? 't' : 'f'}`} data-result=${String(value)}>${value ? 'true' : 'false'}</span>`;
}

function fmtFigure(v) {
  if (v === null || v === undefined) return 'missing';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function WhyNode({ n }) {
  const label = n.group ? { and: 'All of', or: 'Any of', not: 'Not' }[n.group] || n.group : describe(n.rule);
  return html`<li>
    <div class=${`why-node ${n.result ? 't' : 'f'}`} data-path=${n.path || '/'} data-result=${String(n.result)}>
      <${Badge} value=${n.result} /> <strong>${label}</strong>
      ${!n.group && html`<div class="why-detail">
        <span class="muted">value:</span> <code>${fmtFigure(n.value)}</code>
        ${n.detail && html` — ${n.detail}`}</div>`}
      ${n.group && n.detail && html`<div class="why-detail muted">${n.detail}</div>`}
      ${n.next_change && html`<div class="why-detail">Changes by itself <time datetime=${n.next_change}>${fmtTime(n.next_change)}</time>${' '}(${fmtAgo(n.next_change)})</div>`}
    </div>
    ${n.children?.length > 0 && html`<ul>${n.children.map((c) => html`<${WhyNode} key=${c.path} n=${c} />`)}</ul>`}
  </li>`;
}

export default function Page({ params }) {
  const { id, identifier } = params;
  const [ex, setEx] = useState(null);
  const [seg, setSeg] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const c = new AbortController();
    api(`/api/segments/${encodeURIComponent(id)}/explain/${encodeURIComponent(identifier)}`, { signal: c.signal })
      .then(setEx).catch((e) => { if (!c.signal.aborted) setError(fixErr(e)); });
    api(`/api/segments/${encodeURIComponent(id)}`, { signal: c.signal }).then(setSeg).catch(() => {});
    return () => c.abort();
  }, [id, identifier]);
  const name = seg?.name || id;
  return html`<style>${CSS}</style>
    <p><a href=${`/segments/${encodeURIComponent(id)}`}>← ${name}</a></p>
    <h1>Why ${identifier} ${ex ? (ex.result ? 'is' : 'is not') : 'is or is not'} in “${name}”</h1>
    <${ErrorBox} error=${error} />
    ${!ex && !error && html`<${Spinner} label="Explaining" />`}
    ${ex && html`<section class="card">
      <p id="why-summary">Profile <a href=${`/profiles/${encodeURIComponent(ex.profile)}`}>${ex.profile}</a>:
        rule now <${Badge} value=${ex.result} />, stored membership <${Badge} value=${ex.member} />
        ${ex.member !== ex.result && html`<span class="muted"> (a window's change is about to be applied)</span>`}</p>
      <ul class="why-tree" id="why-tree"><${WhyNode} n=${ex.explanation} /></ul>
    </section>`}`;
}
