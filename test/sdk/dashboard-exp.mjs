// dashboard-exp.mjs: the experiment pages as a marketer uses them. Two
// experiments are created and started through the admin API; exposures
// ("Experiment Viewed") and orders go in through the Tracking API, spread
// over the last days; one more exposure goes through POST
// /api/experiments/{id}/expose. Then: the list against GET
// /api/experiments, an experiment page against its results (verdict,
// variants, metric rows, chart), the sample-ratio warning on the
// unbalanced experiment only, and Stop. Screenshots: exp-list, exp-detail,
// exp-srm at 1280 px, exp-detail-390 at 390 px.
//
// usage: node dashboard-exp.mjs --url BASE --email E --password P --token ADMIN_TOKEN --write-key KEY
// Prints a JSON summary; exits 1 with the reason on the first failure.
import { parseArgs } from 'node:util'
import { launch, login, shot, phone, check } from './dashboard-lib.mjs'

const { values: opts } = parseArgs({
  options: { url: { type: 'string' }, email: { type: 'string' }, password: { type: 'string' }, token: { type: 'string' }, 'write-key': { type: 'string' } },
})
for (const k of ['url', 'email', 'password', 'token', 'write-key']) {
  if (!opts[k]) {
    console.error(`usage: node dashboard-exp.mjs --url BASE --email E --password P --token ADMIN_TOKEN --write-key KEY (missing --${k})`)
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

async function batch(msgs) {
  for (let i = 0; i < msgs.length; i += 250) {
    const res = await fetch(`${base}/v1/batch`, {
      method: 'POST',
      headers: { Authorization: 'Basic ' + Buffer.from(opts['write-key'] + ':').toString('base64'), 'Content-Type': 'application/json' },
      body: JSON.stringify({ batch: msgs.slice(i, i + 250) }),
    })
    check(res.ok, `batch: ${res.status} ${await res.text()}`)
  }
}

const day = 86400e3
const now = Date.now()
// A deterministic pseudo-random stream, so the figures are the same every run.
let seed = 12345
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648)

/** traffic sends n units' exposures over the last 8 days, picking the
 * variant with pick(i), and an order for a unit with probability rate[v]. */
async function traffic(expId, prefix, n, variants, pick, rates) {
  const msgs = []
  const counts = Object.fromEntries(variants.map((v) => [v, 0]))
  for (let i = 0; i < n; i++) {
    const userId = `${prefix}-${i}`
    const v = variants[pick(i)]
    counts[v]++
    const at = now - 8 * day + Math.floor((i / n) * 8 * day)
    msgs.push({ type: 'track', userId, event: 'Experiment Viewed', timestamp: new Date(at).toISOString(),
      properties: { experiment_id: expId, variant: v } })
    if (rnd() < rates[v]) {
      msgs.push({ type: 'track', userId, event: 'Order Completed', timestamp: new Date(at + 3600e3).toISOString(),
        properties: { order_id: `${userId}-o`, revenue: Math.round(20 + 60 * rnd()) } })
    }
  }
  await batch(msgs)
  return counts
}

const summary = { steps: [] }
const step = (name, extra = {}) => summary.steps.push({ name, ...extra })
const { browser, page, problems } = await launch()
try {
  const metrics = [{ id: 'purchase', kind: 'conversion', event: 'Order Completed' }, { id: 'revenue', kind: 'revenue' }]
  await apiCall('POST', '/api/experiments', { id: 'checkout-button', name: 'Checkout button colour', kind: 'placement',
    description: 'Green "Buy now" against the blue control', metrics,
    variants: [{ id: 'blue', name: 'Blue', weight: 50 }, { id: 'green', name: 'Green', weight: 50 }] })
  await apiCall('POST', '/api/experiments', { id: 'subject-line', name: 'Welcome subject line', kind: 'message', metrics,
    variants: [{ id: 'a', name: 'Plain', weight: 50 }, { id: 'b', name: 'Emoji', weight: 50 }] })
  await apiCall('POST', '/api/experiments/checkout-button/start')
  await apiCall('POST', '/api/experiments/subject-line/start')
  const good = await traffic('checkout-button', 'exp-e2e-cb', 3000, ['blue', 'green'], (i) => i % 2, { blue: 0.10, green: 0.15 })
  // 60/40 on 50/50 weights: assignment "broken" on purpose.
  const skew = await traffic('subject-line', 'exp-e2e-sl', 1000, ['a', 'b'], (i) => (i % 5 < 3 ? 0 : 1), { a: 0.1, b: 0.1 })
  // One exposure assigned and logged by the engine itself.
  await batch([{ type: 'identify', userId: 'exp-e2e-api-1', traits: { name: 'Exposed through the API' } }])
  let exposed
  for (let i = 0; ; i++) {
    try {
      exposed = await apiCall('POST', '/api/experiments/checkout-button/expose', { identifier: 'user_id:exp-e2e-api-1' })
      break
    } catch (err) {
      check(i < 100, `expose never found the profile: ${err}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  good[exposed.variant]++
  const want = good.blue + good.green
  for (let i = 0; ; i++) {
    const x = await apiCall('GET', '/api/experiments/checkout-button')
    const s = await apiCall('GET', '/api/experiments/subject-line')
    if (x.units[0] + x.units[1] === want && s.units[0] + s.units[1] === 1000) break
    check(i < 150, `exposures not all counted: ${x.units} (want ${want}), ${s.units} (want 1000)`)
    await new Promise((r) => setTimeout(r, 100))
  }
  step('traffic counted', { checkout: good, subject: skew })

  await login(page, base, opts.email, opts.password)
  const { experiments } = await apiCall('GET', '/api/experiments')
  await page.goto(`${base}/experiments`)
  await page.locator('#experiments tbody tr').first().waitFor()
  const rows = await page.locator('#experiments tbody tr').count()
  check(rows === experiments.length, `the list shows ${rows} rows, the API ${experiments.length}`)
  for (const x of experiments) {
    const shown = await page.locator(`tr[data-experiment="${x.id}"] [data-units]`).evaluateAll((els) => els.map((e) => Number(e.dataset.units)))
    check(JSON.stringify(shown) === JSON.stringify(x.units), `${x.id}: units ${shown} on the page, ${x.units} in the API`)
  }
  step('list matches the API', { experiments: experiments.length })
  await shot(page, 'exp-list')

  // The balanced experiment: verdict, variants, metrics and chart as the API says; no SRM warning.
  await page.locator('tr[data-experiment="checkout-button"] a').click()
  await page.locator('#ex-verdict').waitFor()
  const res = await apiCall('GET', '/api/experiments/checkout-button/results')
  const verdict = (await page.locator('#ex-verdict').textContent()).trim()
  check(verdict === res.verdict, `verdict on the page «${verdict}», API «${res.verdict}»`)
  check(/Green is better than Blue with/.test(verdict), `a 10 % → 15 % conversion lift on 3000 units should make Green the winner: «${verdict}»`)
  for (const v of res.variants) {
    const units = Number((await page.locator(`#ex-variants tr[data-variant="${v.id}"] .units`).textContent()).replace(/[^0-9]/g, ''))
    check(units === v.units, `variant ${v.id}: ${units} units on the page, ${v.units} in the API`)
  }
  check(await page.locator('#ex-srm').count() === 0, 'an SRM warning on a balanced experiment')
  const tables = await page.locator('table.ex-metric').count()
  check(tables === res.metrics.length, `${tables} metric tables, ${res.metrics.length} metrics`)
  const chance = (await page.locator('table[data-metric="purchase"] tr[data-variant="green"] .chance').textContent()).trim()
  const wantChance = `${(100 * res.metrics[0].variants[1].bayes.chance_to_beat).toFixed(1)} %`
  check(chance === wantChance, `chance to beat on the page ${chance}, API ${wantChance}`)
  await page.locator('#ex-chart .uplot').waitFor()
  check(res.daily.length >= 8, `daily points ${res.daily.length}, want ≥ 8 for 8 days of traffic`)
  step('experiment page matches its results', { verdict, daily: res.daily.length })
  await shot(page, 'exp-detail')

  // The unbalanced one warns.
  await page.goto(`${base}/experiments/subject-line`)
  await page.locator('#ex-verdict').waitFor()
  const srm = await apiCall('GET', '/api/experiments/subject-line/results')
  check(srm.srm.mismatch, `60/40 on 50/50 weights should be a mismatch: ${JSON.stringify(srm.srm)}`)
  const warning = (await page.locator('#ex-srm').textContent()).trim()
  check(warning.includes('Sample ratio mismatch'), `SRM warning on the page: «${warning}»`)
  step('SRM warning shown', { p: srm.srm.p_value })
  await shot(page, 'exp-srm')

  // Stop from the page.
  await page.locator('#ex-stop').click()
  await page.locator('#ex-stop').waitFor({ state: 'detached' })
  const stopped = await apiCall('GET', '/api/experiments/subject-line')
  check(stopped.status === 'stopped', `after Stop the API says ${stopped.status}`)
  step('stopped from the page')

  await phone(page)
  await page.goto(`${base}/experiments/checkout-button`)
  await page.locator('#ex-verdict').waitFor()
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  check(overflow <= 0, `the experiment page fits 390 px (overflows by ${overflow} px)`)
  await shot(page, 'exp-detail-390')

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
