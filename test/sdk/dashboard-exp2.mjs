// dashboard-exp2.mjs: a fresh `serve --demo` store's experiment page. The
// demo ships a running subject-line test of the abandoned-cart email; its
// page must show the API's verdict, both variants with exposed units,
// the metric tables and the effect chart, with no setup. Screenshot:
// exp2-demo-experiment at 1280 px.
//
// usage: node dashboard-exp2.mjs --url BASE --email E --password P --token ADMIN_TOKEN
// Prints a JSON summary; exits 1 with the reason on the first failure.
import { parseArgs } from 'node:util'
import { launch, login, shot, check } from './dashboard-lib.mjs'

const { values: opts } = parseArgs({
  options: { url: { type: 'string' }, email: { type: 'string' }, password: { type: 'string' }, token: { type: 'string' } },
})
for (const k of ['url', 'email', 'password', 'token']) {
  if (!opts[k]) {
    console.error(`usage: node dashboard-exp2.mjs --url BASE --email E --password P --token ADMIN_TOKEN (missing --${k})`)
    process.exit(2)
  }
}
const base = opts.url.replace(/\/$/, '')

async function apiCall(method, path) {
  const res = await fetch(base + path, { method, headers: { Authorization: `Bearer ${opts.token}` } })
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  return res.json()
}

const summary = { steps: [] }
const { browser, page, problems } = await launch()
try {
  const res = await apiCall('GET', '/api/experiments/cart-subject-line/results')
  check(res.variants.every((v) => v.units > 0), `demo experiment without units: ${JSON.stringify(res.variants)}`)
  await login(page, base, opts.email, opts.password)
  await page.goto(`${base}/experiments`)
  await page.locator('tr[data-experiment="cart-subject-line"] a').click()
  await page.locator('#ex-verdict').waitFor()
  const verdict = (await page.locator('#ex-verdict').textContent()).trim()
  check(verdict === res.verdict, `verdict on the page «${verdict}», API «${res.verdict}»`)
  for (const v of res.variants) {
    const units = Number((await page.locator(`#ex-variants tr[data-variant="${v.id}"] .units`).textContent()).replace(/[^0-9]/g, ''))
    check(units === v.units, `variant ${v.id}: ${units} units on the page, ${v.units} in the API`)
  }
  const tables = await page.locator('table.ex-metric').count()
  check(tables === res.metrics.length, `${tables} metric tables, ${res.metrics.length} metrics`)
  // The chart draws the days with a lift (control has conversions by then).
  const charted = res.daily.filter((d) => d.effects && d.effects.length).length
  check(charted > 0, `no day with a lift to chart: ${JSON.stringify(res.metrics[0].variants.map((v) => [v.id, v.total]))}`)
  await page.locator('#ex-chart .uplot').waitFor()
  summary.steps.push({ name: 'demo experiment page matches its results', verdict, units: res.variants.map((v) => v.units), daily: res.daily.length, charted })
  await shot(page, 'exp2-demo-experiment')
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
