// The message history of the profile page: the profile's newest messages
// from the outbox, each with its state, the send policy's reason when it
// was held back, and what tracking saw of it (sent, delivered, first open
// and click, unsubscribe).
import { html, useState, useEffect, api, ErrorBox, Spinner, fmtTime, fmtAgo } from '../lib.js';

// What a reason of the policy or of delivery means, in words.
const reasons = {
  no_consent: 'no opt-in', opted_out: 'opted out', no_address: 'no address', no_profile: 'profile gone',
  pending_confirmation: 'waiting for double opt-in', suppressed_hard_bounce: 'suppressed: hard bounce',
  suppressed_complaint: 'suppressed: complaint', holdout: 'in the holdout group', quiet_hours: 'quiet hours',
  frequency_cap: 'frequency cap', pacing: "waiting for the provider's pace", retry: 'retrying after an error',
};

function reason(r) {
  if (!r) return '';
  const [head] = r.split(':');
  return reasons[r] || reasons[head] || r;
}

const stateClass = { sent: 'msg-ok', queued: 'msg-wait', sending: 'msg-wait', failed: 'msg-bad', suppressed: 'msg-no', dropped: 'msg-no' };

function When({ t }) {
  if (!t) return html`<span class="muted">–</span>`;
  return html`<span title=${fmtTime(t)}>${fmtAgo(t)}</span>`;
}

export function MessageHistory({ ident }) {
  const [msgs, setMsgs] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const c = new AbortController();
    setMsgs(null); setError(null);
    api(`/api/profiles/${encodeURIComponent(ident)}/messages?limit=50`, { signal: c.signal })
      .then((r) => setMsgs(r.messages || []), (e) => { if (!c.signal.aborted) setError(e); });
    return () => c.abort();
  }, [ident]);
  return html`<section class="card" aria-labelledby="messages-title" data-testid="profile-messages">
    <style>${css}</style>
    <h2 id="messages-title">Messages ${msgs && msgs.length > 0 && html`<span class="muted small">${msgs.length === 50 ? 'the newest 50' : `${msgs.length} ${msgs.length === 1 ? 'message' : 'messages'}`}, newest first</span>`}</h2>
    <${ErrorBox} error=${error} />
    ${!msgs && !error && html`<${Spinner} label="Loading messages…" />`}
    ${msgs && msgs.length === 0 && html`<p class="muted">No message was sent to this profile.</p>`}
    ${msgs && msgs.length > 0 && html`<div class="table-wrap"><table class="msg-table">
      <thead><tr><th scope="col">Created</th><th scope="col">Message</th><th scope="col">State</th>
        <th scope="col">Opened</th><th scope="col">Clicked</th></tr></thead>
      <tbody>${msgs.map((m) => html`<tr key=${m.key} data-key=${m.key} data-state=${m.state}>
        <td><${When} t=${m.created} /></td>
        <td><div><span class="badge">${m.channel}</span> <strong class="msg-subject">${m.subject || m.template}</strong></div>
          <div class="muted small">${m.template} · ${m.purpose}${m.journey ? html` · journey <a href=${`/journeys/${encodeURIComponent(m.journey)}`}>${m.journey}</a> (${m.step})` : m.key.startsWith('optin:') ? ' · double opt-in' : ' · send API'}</div></td>
        <td><span class=${'msg-state ' + (stateClass[m.state] || '')}>${m.state}</span>
          ${m.reason && html`<div class="muted small msg-reason" title=${m.reason}>${reason(m.reason)}</div>`}
          ${m.state === 'queued' && m.due && Date.parse(m.due) > Date.now() && html`<div class="muted small">due <${When} t=${m.due} /></div>`}
          ${m.delivered_at && html`<div class="muted small">delivered <${When} t=${m.delivered_at} /></div>`}
          ${m.bounced_at && html`<div class="small msg-bad">bounced <${When} t=${m.bounced_at} /></div>`}
          ${m.unsubscribed_at && html`<div class="small msg-no">unsubscribed <${When} t=${m.unsubscribed_at} /></div>`}</td>
        <td class="msg-opened"><${When} t=${m.opened_at} />${m.opens > 1 ? html` <span class="muted small">×${m.opens}</span>` : ''}</td>
        <td class="msg-clicked"><${When} t=${m.clicked_at} />${m.clicks > 1 ? html` <span class="muted small">×${m.clicks}</span>` : ''}</td>
      </tr>`)}</tbody></table></div>`}
  </section>`;
}

const css = `
.msg-table td { vertical-align: top; }
.msg-state { font-weight: 600; }
.msg-ok { color: var(--ok); } .msg-wait { color: var(--warn); } .msg-bad { color: var(--danger); } .msg-no { color: var(--muted); }
`;
