// The template editor: the parts of the chosen channel, locale variants and
// default values, with a live preview rendered by the server against a
// chosen profile (and optional event data). Parse errors show the part,
// line and column; saving makes a new version.
import { html, useState, useEffect, api, navigate, ErrorBox, Spinner, useDebounced } from '../lib.js';

const CHANNELS = ['email', 'sms', 'push', 'webpush', 'inapp', 'webhook', 'mail'];
const PARTS = {
  email: [['subject', 'Subject', 1], ['html', 'HTML body', 10], ['text', 'Text body', 5]],
  sms: [['body', 'Message', 4]],
  push: [['title', 'Title', 1], ['body', 'Body', 3], ['url', 'Link', 1]],
  webpush: [['title', 'Title', 1], ['body', 'Body', 3], ['url', 'Link', 1]],
  inapp: [['title', 'Title', 1], ['body', 'Body', 4], ['url', 'Link', 1]],
  webhook: [['url', 'Endpoint URL', 1], ['json', 'JSON body', 8]],
  mail: [['title', 'Heading', 1], ['body', 'Letter', 8]],
};
const STARTER = {
  id: '', name: '', channel: 'email',
  subject: 'Hello {{ profile.traits.first_name }}',
  html: '<p>Hi {{ profile.traits.first_name }},</p>\n<p>Thanks for shopping with us.</p>\n<p><a href="{{ preferences_url }}">Preferences</a> · <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
  text: 'Hi {{ profile.traits.first_name }}, thanks for shopping with us.',
};

const css = `
.tpl-cols { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: var(--gap); }
@media (max-width: 900px) { .tpl-cols { grid-template-columns: 1fr; } }
.tpl-form label { display: block; font-weight: 600; margin: .6rem 0 .2rem; }
.tpl-form input, .tpl-form select, .tpl-form textarea { width: 100%; font: inherit; padding: .35rem .5rem;
  border: 1px solid var(--border); border-radius: 6px; background: var(--card); color: var(--fg); }
.tpl-form textarea { font-family: var(--mono); font-size: .85rem; }
.tpl-form textarea.bad { border-color: var(--danger); }
.tpl-err { color: var(--danger); margin: .2rem 0 0; }
.tpl-preview iframe { width: 100%; min-height: 320px; border: 1px solid var(--border); border-radius: 6px; background: #fff; }
.tpl-preview dt { font-weight: 600; margin-top: .5rem; }
.tpl-preview dd { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
`;

function parseJSONField(text, name) {
  if (!text.trim()) return [undefined, null];
  try {
    return [JSON.parse(text), null];
  } catch (e) {
    return [undefined, `${name}: not valid JSON (${e.message})`];
  }
}

export default function Page({ params, query }) {
  const isNew = !params.id;
  const [tpl, setTpl] = useState(isNew ? STARTER : null);
  const [locales, setLocales] = useState('');
  const [defaults, setDefaults] = useState('{\n  "first_name": "there"\n}');
  const [loadError, setLoadError] = useState(null);
  const [profile, setProfile] = useState((query && query.profile) || '');
  const [data, setData] = useState('');
  const [preview, setPreview] = useState(null);
  const [previewError, setPreviewError] = useState(null);
  const [saveError, setSaveError] = useState(null);
  const [saved, setSaved] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (isNew) return;
    const c = new AbortController();
    api(`/api/templates/${encodeURIComponent(params.id)}`, { signal: c.signal }).then((t) => {
      setTpl(t);
      setLocales(t.locales ? JSON.stringify(t.locales, null, 2) : '');
      setDefaults(t.defaults ? JSON.stringify(t.defaults, null, 2) : '');
    }, (e) => { if (!c.signal.aborted) setLoadError(e); });
    return () => c.abort();
  }, [params.id]);

  const body = () => {
    const [loc, le] = parseJSONField(locales, 'Locales');
    const [def, de] = parseJSONField(defaults, 'Defaults');
    if (le || de) return [null, le || de];
    const t = { id: tpl.id, name: tpl.name, channel: tpl.channel };
    for (const [k] of PARTS[tpl.channel]) if (tpl[k]) t[k] = tpl[k];
    if (loc) t.locales = loc;
    if (def) t.defaults = def;
    return [t, null];
  };

  const live = useDebounced(JSON.stringify([tpl, locales, defaults, profile, data]), 400);
  useEffect(() => {
    if (!tpl || !profile) return;
    const [t, err] = body();
    if (err) { setPreviewError({ message: err }); return; }
    const [d, de] = parseJSONField(data, 'Event data');
    if (de) { setPreviewError({ message: de }); return; }
    const c = new AbortController();
    api('/api/templates/preview', { method: 'POST', body: { template: { ...t, id: t.id || 'preview' }, profile, data: d }, signal: c.signal })
      .then((r) => { setPreview(r); setPreviewError(null); }, (e) => { if (!c.signal.aborted) setPreviewError(e); });
    return () => c.abort();
  }, [live]);

  if (loadError) return html`<h1>Template</h1><${ErrorBox} error=${loadError} /><p><a href="/templates">Back to templates</a></p>`;
  if (!tpl) return html`<h1>Template</h1><${Spinner} label="Loading template…" />`;

  const set = (k) => (e) => setTpl({ ...tpl, [k]: e.target.value });
  const pos = previewError && previewError.body && previewError.body.field ? previewError.body : null;

  const save = async (e) => {
    e.preventDefault();
    const [t, err] = body();
    if (err) { setSaveError({ message: err }); return; }
    setBusy(true);
    setSaveError(null);
    try {
      const r = isNew ? await api('/api/templates', { method: 'POST', body: t })
        : await api(`/api/templates/${encodeURIComponent(t.id)}`, { method: 'PUT', body: t });
      setSaved(`Saved as version ${r.version}.`);
      setTpl({ ...tpl, version: r.version });
      if (isNew) navigate(`/templates/${encodeURIComponent(r.id)}`, { replace: true });
    } catch (e2) {
      setSaveError(e2);
    } finally {
      setBusy(false);
    }
  };

  return html`<style>${css}</style>
  <p class="small"><a href="/templates">Templates</a> /</p>
  <h1>${isNew ? 'New template' : (tpl.name || tpl.id)} ${!isNew && html`<span class="muted small">version ${tpl.version}</span>`}</h1>
  <div class="tpl-cols">
    <form class="card tpl-form" onSubmit=${save} aria-label="template">
      <label for="tpl-id">Id</label>
      <input id="tpl-id" value=${tpl.id} onInput=${set('id')} disabled=${!isNew} required pattern="[a-z0-9][a-z0-9_\\-]*" placeholder="welcome-email" />
      <label for="tpl-name">Name</label>
      <input id="tpl-name" value=${tpl.name} onInput=${set('name')} placeholder="Welcome email" />
      <label for="tpl-channel">Channel</label>
      <select id="tpl-channel" value=${tpl.channel} onChange=${set('channel')} disabled=${!isNew}>
        ${CHANNELS.map((c) => html`<option value=${c}>${c}</option>`)}
      </select>
      ${PARTS[tpl.channel].map(([k, label, rows]) => html`
        <label for=${`tpl-${k}`}>${label}</label>
        ${rows === 1 ? html`<input id=${`tpl-${k}`} value=${tpl[k] || ''} onInput=${set(k)} class=${pos && pos.field === k ? 'bad' : ''} />`
          : html`<textarea id=${`tpl-${k}`} rows=${rows} value=${tpl[k] || ''} onInput=${set(k)} spellcheck="false"
              class=${pos && pos.field === k ? 'bad' : ''} aria-invalid=${pos && pos.field === k ? 'true' : 'false'}></textarea>`}
        ${pos && pos.field === k && html`<p class="tpl-err small" data-testid="position-error">line ${pos.line}, column ${pos.column}: ${pos.message}</p>`}`)}
      <label for="tpl-locales">Locale variants (JSON, e.g. {"fr": {"subject": "Bonjour"}})</label>
      <textarea id="tpl-locales" rows="4" value=${locales} onInput=${(e) => setLocales(e.target.value)} spellcheck="false"></textarea>
      <label for="tpl-defaults">Default trait values (JSON)</label>
      <textarea id="tpl-defaults" rows="3" value=${defaults} onInput=${(e) => setDefaults(e.target.value)} spellcheck="false"></textarea>
      <p style="margin-top:1rem;display:flex;gap:.6rem;align-items:center">
        <button class="btn primary" type="submit" disabled=${busy}>${isNew ? 'Create' : 'Save new version'}</button>
        ${saved && html`<span role="status" class="muted">${saved}</span>`}
      </p>
      <${ErrorBox} error=${saveError} />
    </form>
    <section class="card tpl-preview" aria-labelledby="pv-title">
      <h2 id="pv-title">Preview</h2>
      <div class="tpl-form">
        <label for="pv-profile">Profile (id, userId or email)</label>
        <input id="pv-profile" value=${profile} onInput=${(e) => setProfile(e.target.value.trim())} />
        <label for="pv-data">Event data (JSON, visible as event.* and data.*)</label>
        <textarea id="pv-data" rows="2" value=${data} onInput=${(e) => setData(e.target.value)} spellcheck="false" placeholder='{"order_id": "A100"}'></textarea>
      </div>
      ${previewError ? html`<div data-testid="preview-error"><${ErrorBox} error=${previewError} /></div>`
        : !profile ? html`<p class="muted">Choose a profile to preview with.</p>`
        : !preview ? html`<${Spinner} label="Rendering…" />`
        : html`<${Rendered} r=${preview} />`}
    </section>
  </div>`;
}

function Rendered({ r }) {
  const rows = [['To', r.to], ['Locale', r.locale || 'default'], ['Subject', r.subject], ['Title', r.title],
    ['Body', r.body], ['Link', r.url], ['Text', r.text], ['JSON', r.json]].filter(([, v]) => v);
  return html`<div data-testid="preview">
    <dl>${rows.map(([k, v]) => html`<dt>${k}</dt><dd data-part=${k.toLowerCase()}>${v}</dd>`)}</dl>
    ${r.html && html`<h3 style="margin-top:.8rem">HTML</h3>
      <iframe title="HTML preview" sandbox="" srcdoc=${r.html}></iframe>`}
    ${r.headers && html`<details><summary class="small">Headers</summary>
      <dl class="small">${Object.entries(r.headers).map(([k, v]) => html`<dt>${k}</dt><dd class="mono">${v}</dd>`)}</dl></details>`}
  </div>`;
}
