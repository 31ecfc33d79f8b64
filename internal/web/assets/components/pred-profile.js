// The profile page's predictions card: the segment engine's prediction
// fields for one customer (GET /api/profiles/{id}/segments → computed), in
// figures and in words.
import { html, fmtNum, fmtTime } from '../lib.js';

/** predictionFields are the computed fields this card shows. */
export const predictionFields = ['predicted_clv', 'clv_percentile', 'predicted_orders', 'p_alive', 'churn_risk',
  'expected_order_value', 'next_order_in_days', 'next_order_date', 'replenishment_due', 'best_send_hour'];

const pct = (v) => `${Math.round(v * 100)} %`;

/** meaning says in plain words what a customer's predictions mean. */
export function meaning(m) {
  if (m.p_alive === undefined) return '';
  const parts = [];
  const top = 100 - (m.clv_percentile ?? 0);
  parts.push(`Over the next 12 months this customer is expected to bring ${fmtNum(Math.round(m.predicted_clv))} in revenue`
    + (m.clv_percentile !== undefined ? ` (top ${Math.max(top, 1)} % of customers).` : '.'));
  if (m.p_alive >= 0.999) {
    parts.push('With a single order so far, the model counts them as active until a second order shows their rhythm;');
  } else {
    parts.push(`There is a ${pct(m.p_alive)} chance they are still a customer (churn risk ${pct(m.churn_risk)}):`
      + (m.churn_risk >= 0.5 ? ' they have been quiet for much longer than their own rhythm —' : ''));
  }
  parts.push(`about ${fmtNum(Math.round(m.predicted_orders * 100) / 100)} orders are expected in the next 90 days`
    + (m.next_order_date ? `, the next one most likely around ${fmtTime(m.next_order_date).slice(0, 10)} if they are still active.` : '.'));
  return parts.join(' ');
}

/** PredictionsCard shows m's predictions (view.computed), or why there are none. */
export function PredictionsCard({ m }) {
  const has = m && m.p_alive !== undefined;
  const hour = m && m.best_send_hour !== undefined;
  return html`<section class="card" aria-labelledby="pred-title" data-testid="profile-predictions">
    <h2 id="pred-title">Predictions</h2>
    ${(hour || (m && m.replenishment_due)) && html`<dl class="kv">
      ${hour && html`<dt>Best time to send</dt><dd data-field="best_send_hour">${String(m.best_send_hour).padStart(2, '0')}:00
        <span class="muted small">their time, from when they open, click and visit</span></dd>`}
      ${m && m.replenishment_due && html`<dt>Due to reorder</dt><dd data-field="replenishment_due">${fmtTime(m.replenishment_due).slice(0, 10)}
        <span class="muted small">at their usual gap between orders</span></dd>`}
    </dl>`}
    ${!has ? html`<p class="muted">No predictions: they need an order from this customer and a fit of the models
      (at least 50 customers, 10 with a second order; see <a href="/predictions">Predictions</a>).</p>`
    : html`<dl class="kv">
        <dt>Predicted value, 12 months</dt><dd data-field="predicted_clv">${fmtNum(m.predicted_clv)}</dd>
        <dt>CLV percentile</dt><dd data-field="clv_percentile">${m.clv_percentile ?? '–'}</dd>
        <dt>Chance still a customer</dt><dd data-field="p_alive">${pct(m.p_alive)}</dd>
        <dt>Churn risk</dt><dd data-field="churn_risk">${pct(m.churn_risk)}</dd>
        <dt>Orders expected, 90 days</dt><dd data-field="predicted_orders">${fmtNum(m.predicted_orders)}</dd>
        <dt>Expected order value</dt><dd data-field="expected_order_value">${fmtNum(m.expected_order_value)}</dd>
        <dt>Next order, if active</dt><dd data-field="next_order_date">${m.next_order_date ? fmtTime(m.next_order_date).slice(0, 10) : '–'}
          <span class="muted small">(${fmtNum(Math.round(m.next_order_in_days))} days after the last refresh)</span></dd>
      </dl>
      <p class="small" data-testid="pred-meaning"><strong>What this means: </strong>${meaning(m)}</p>
      <p class="muted small">From BG/NBD (orders, P(alive)) and Gamma-Gamma (order value) models fitted on every
        customer's order history, refit hourly; a new order updates this customer's figures at once.
        Rules can use these fields, e.g. <code>clv_percentile >= 90</code> or <code>churn_risk > 0.7</code>.</p>`}
  </section>`;
}
