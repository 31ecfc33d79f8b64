// dashboard-pred.mjs: the predictions as a marketer sees them: the
// /predictions page against GET /api/predictions (customers, top customers
// in CLV order, at-risk customers, the holdout check's figures), a top
// customer's profile page with its predictions card and "what this means"
// against the profile's computed fields, and a segment rule on
// clv_percentile. Screenshots: pred-predictions and pred-profile at 1280 px,
// pred-predictions-390 at 390 px.
//
// usage: node dashboard-pred.mjs --url BASE --email E --password P --token ADMIN_TOKEN
// Prints a JSON summary; exits 1 with the reason on the first failure.
import { parseArgs } from 'node:util'
import { launch, login, shot, phone, check } from './dashboard-lib.mjs'

const { values: opts } = parseArgs({
  options: { url: { type: 'string' }, email: { type: 'string' }, password: { type: 'string' }, token: { type: 'string' } },
})
for (const k of ['url', 'email', 'password', 'token']) {
  if (!opts[k]) {
    console.error(`usage: node dashboard-pred.mjs --url BASE --email E --password P --token ADMIN_TOKEN (missing --${k})`)
    process.exit(2)
  }
}
const base = opts.url.replace(/\/$/, '')

async function apiCall(method, path, body) {
  const res = await fetch(base + path, {
    method, headers: { Authorization: `Bearer ${opts.token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  return res.json()
}
const num = (s) => Number(String(s).replace(/[^0-9.\-]/g, ''))

const summary = { steps: [] }
const step = (name, extra = {}) => summary.steps.push({ name, ...extra })
const { browser, page, problems } = await launch()
try {
  await login(page, base, opts.email, opts.password)
  step('logged in')

  // The demo store is loaded and the models refreshed before the segments
  // are saved; the report is then the fit's.
  const rep = await apiCall('GET', '/api/predictions')
  check(rep.fit, `the demo store has a fit: ${JSON.stringify(rep).slice(0, 300)}`)
  check(rep.customers > 100 && rep.top.length === 20, `customers ${rep.customers}, top ${rep.top.length}`)

  await page.goto(`${base}/predictions`)
  await page.locator('#pred-top tbody tr').first().waitFor()
  const shownCustomers = num(await page.getByTestId('pred-customers').textContent())
  check(shownCustomers === rep.customers, `customers: ${shownCustomers} on the page, ${rep.customers} in the API`)
  const rows = page.locator('#pred-top tbody tr')
  check(await rows.count() === rep.top.length, `top table: ${await rows.count()} rows, API ${rep.top.length}`)
  for (let i = 0; i < rep.top.length; i++) {
    const id = await rows.nth(i).getAttribute('data-profile')
    check(id === rep.top[i].profile, `top row ${i}: ${id} on the page, ${rep.top[i].profile} in the API`)
  }
  const clvs = await page.locator('#pred-top td.clv').allTextContents()
  for (let i = 1; i < clvs.length; i++) check(num(clvs[i]) <= num(clvs[i - 1]), `top customers out of CLV order at row ${i}`)
  const riskRows = await page.locator('#pred-risk tbody tr').count()
  check(riskRows === rep.at_risk.length, `at-risk table: ${riskRows} rows, API ${rep.at_risk.length}`)
  const histTotal = (await page.locator('#clv-hist .n').evaluateAll((ns) => ns.map((n) => Number(n.dataset.count)))).reduce((a, b) => a + b, 0)
  check(histTotal === rep.customers, `the CLV histogram holds ${histTotal}, customers ${rep.customers}`)
  if (rep.holdout && !rep.holdout.reason) {
    const actual = num(await page.getByTestId('holdout-actual').textContent())
    check(actual === rep.holdout.actual_holdout, `holdout actual ${actual} on the page, ${rep.holdout.actual_holdout} in the API`)
    await page.locator('[data-testid="pred-holdout"] canvas').first().waitFor()
    step('holdout check', { actual, predicted: Math.round(rep.holdout.predicted_holdout), calibration_end: rep.holdout.calibration_end })
  } else {
    step('no holdout check', { reason: rep.holdout?.reason })
  }
  const shownR = num((await page.locator('#pred-params [data-param="r"]').textContent()).split(',')[0])
  check(Math.abs(shownR - rep.fit.bgnbd.r) < 0.01, `BG/NBD r ${shownR} on the page, ${rep.fit.bgnbd.r} in the API`)
  step('predictions page matches the API', { customers: rep.customers, top_clv: rep.top[0].predicted_clv, at_risk: rep.at_risk.length })
  await shot(page, 'pred-predictions')

  // A top customer's profile: the card shows the engine's fields, in words.
  const top = rep.top[0]
  await page.locator(`#pred-top tr[data-profile="${top.profile}"] a`).click()
  await page.getByTestId('profile-predictions').locator('dd[data-field="predicted_clv"]').waitFor()
  const view = await apiCall('GET', `/api/profiles/${encodeURIComponent(top.profile)}/segments`)
  const shownCLV = num(await page.locator('dd[data-field="predicted_clv"]').textContent())
  check(Math.abs(shownCLV - view.computed.predicted_clv) < 0.01, `profile CLV ${shownCLV} on the page, ${view.computed.predicted_clv} in the API`)
  const pct = (await page.locator('dd[data-field="clv_percentile"]').textContent()).trim()
  check(Number(pct) === view.computed.clv_percentile && Number(pct) >= 90, `CLV percentile ${pct}, API ${view.computed.clv_percentile}`)
  if (view.computed.best_send_hour !== undefined) {
    const hour = num((await page.locator('dd[data-field="best_send_hour"]').textContent()).split(':')[0])
    check(hour === view.computed.best_send_hour, `best send hour ${hour} on the page, ${view.computed.best_send_hour} in the API`)
  }
  const meaning = await page.getByTestId('pred-meaning').textContent()
  check(/12 months/.test(meaning) && /90 days/.test(meaning), `"what this means" reads: ${meaning}`)
  step('profile card matches the fields', { profile: top.profile, clv: view.computed.predicted_clv, p_alive: view.computed.p_alive,
    best_send_hour: view.computed.best_send_hour, replenishment_due: view.computed.replenishment_due })
  await shot(page, 'pred-profile')

  // "Predicted CLV in the top 10 %" as a segment rule: its preview holds the top customer.
  const prev = await apiCall('POST', '/api/segments/preview', { rule: { computed: 'clv_percentile', op: 'gte', value: 90 }, sample: 5 })
  const frac = prev.count / rep.customers
  check(frac > 0.05 && frac <= 0.11, `clv_percentile >= 90 holds ${prev.count} of ${rep.customers} customers`)
  step('top 10 % rule', { members: prev.count })

  // Refit now: the progress line counts while it runs and gives the fit's time after.
  await page.goto(`${base}/predictions`)
  await page.locator('#pred-top tbody tr').first().waitFor()
  await page.locator('#pred-refit').click()
  await page.locator('#pred-refit-progress', { hasText: 'Refit done in' }).waitFor({ timeout: 60000 })
  const progress = await page.locator('#pred-refit-progress').textContent()
  check(/the fit itself [0-9,]+ ms on [0-9,]+ customers/.test(progress), `refit progress reads: ${progress}`)
  step('refit progress', { text: progress })

  // The at-risk customers lead to a ready segment of churn_risk > 0.7.
  await page.locator('#pred-risk-segment').click()
  await page.waitForURL(`${base}/segments/churn-risk-over-70`)
  const seg = await apiCall('GET', '/api/segments/churn-risk-over-70')
  check(seg.rule?.computed === 'churn_risk' && seg.rule.op === 'gt' && seg.rule.value === 0.7, `risk segment: ${JSON.stringify(seg).slice(0, 300)}`)
  const risky = rep.at_risk.filter((c) => c.p_alive < 0.3)
  if (risky.length > 0) {
    const r = await apiCall('GET', `/api/profiles/${encodeURIComponent(risky[0].profile)}/segments`)
    check(r.segments.some((x) => x.id === 'churn-risk-over-70'), `${risky[0].profile} (p_alive ${risky[0].p_alive}) is not in the risk segment`)
  }
  // A second click finds the segment there and opens it again.
  await page.goto(`${base}/predictions`)
  await page.locator('#pred-risk-segment').click()
  await page.waitForURL(`${base}/segments/churn-risk-over-70`)
  step('at-risk segment', { members: seg.size ?? seg.count, risky_rows: risky.length })

  await phone(page)
  await page.goto(`${base}/predictions`)
  await page.locator('#pred-top tbody tr').first().waitFor()
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  check(overflow <= 0, `the predictions page fits 390 px (overflows by ${overflow} px)`)
  await shot(page, 'pred-predictions-390')

  const found = problems()
  check(found.length === 0, `browser problems: ${found.join('; ')}`)
  summary.ok = true
} catch (err) {
  summary.error = String(err?.stack || err)
  summary.problems = problems()
  summary.url = page.url()
} finally {
  await browser.close()
}
process.stdout.write(JSON.stringify(summary, null, 2) + '\n')
process.exit(summary.ok ? 0 : 1)
