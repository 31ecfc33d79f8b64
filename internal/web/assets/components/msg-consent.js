// The consent section of the profile page: per channel, whether marketing
// and transactional messages may be sent now (and why not), with the source
// and time of the last choice, and a link to the person's preference center.
// Editors and admins may record the person's choice here (source
// "dashboard"), as when they ask support to stop or start the emails.
import { html, useState, useEffect, api, ErrorBox, fmtAgo, fmtTime, useMe } from '../lib.js';

const why = {
  no_consent: 'no opt-in', opted_out: 'opted out', no_address: 'no address',
  pending_confirmation: 'waiting for confirmation', suppressed_hard_bounce: 'suppressed: hard bounce',
  suppressed_complaint: 'suppressed: complaint',
};

function Cell({ d, e }) {
  return html`<td class=${d.ok ? 'consent-ok' : 'consent-no'}>${d.ok ? 'yes' : `no (${why[d.reason] || d.reason})`}
    ${e && html`<div class="muted small" title=${fmtTime(e.at)}>${e.source}, ${fmtAgo(e.at)}</div>`}</td>`;
}

export function ConsentSection({ ident }) {
  const [v, setV] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState('');
  const me = useMe();
  const canChange = me && (me.role === 'editor' || me.role === 'admin');
  const change = async (channel, granted) => {
    setBusy(channel); setError(null);
    try {
      setV(await api(`/api/profiles/${encodeURIComponent(ident)}/consent`, { method: 'PUT', body: { channel, purpose: 'marketing', granted, source: 'dashboard' } }));
    } catch (e) { setError(e); }
    setBusy('');
  };
  useEffect(() => {
    const c = new AbortController();
    api(`/api/profiles/${encodeURIComponent(ident)}/consent`, { signal: c.signal })
      .then(setV, (e) => { if (!c.signal.aborted) setError(e); });
    return () => c.abort();
  }, [ident]);
  return html`<section class="card" aria-labelledby="consent-title" data-testid="profile-consent">
    <style>.consent-ok { color: var(--ok); } .consent-no { color: var(--muted); }</style>
    <h2 id="consent-title">Consent</h2>
    <${ErrorBox} error=${error} />
    ${v && html`<div style="overflow-x:auto"><table>
      <thead><tr><th scope="col">Channel</th><th scope="col">Marketing</th><th scope="col">Transactional</th>${canChange && html`<th scope="col">Change</th>`}</tr></thead>
      <tbody>${v.channels.filter((c) => c.reachable || c.marketing || c.suppressed).map((c) => html`<tr key=${c.channel} data-channel=${c.channel}>
        <th scope="row">${c.channel}</th>
        <${Cell} d=${c.allowed.marketing} e=${c.marketing} />
        <${Cell} d=${c.allowed.transactional} e=${c.transactional} />
        ${canChange && html`<td>${(() => {
          const on = c.allowed.marketing.ok || (c.marketing && c.marketing.granted) || !!c.pending_confirmation;
          return html`<button type="button" class="btn consent-change" disabled=${busy === c.channel}
            aria-label=${`${on ? 'Opt out of' : 'Opt in to'} marketing by ${c.channel}`}
            onClick=${() => change(c.channel, !on)}>${on ? 'Opt out' : 'Opt in'}</button>`;
        })()}</td>`}
      </tr>`)}</tbody></table></div>
      <p class="small"><a href=${v.preferences_url} target="_blank" rel="noopener">Open this person's preference center</a></p>`}
  </section>`;
}
