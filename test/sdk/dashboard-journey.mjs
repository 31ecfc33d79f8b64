// dashboard-journey.mjs: the journey pages as a marketer uses them: the
// list of the demo journeys (against GET /api/journeys), a journey's graph
// with its counts per step (against its stats), publishing a draft, and a
// dry run whose figures match the API's. Screenshots: journeys and
// journey at 1280 px, journey at 390 px.
//
// usage: node dashboard-journey.mjs --url BASE --email E --password P --token ADMIN_TOKEN --write-key KEY
// Prints a JSON summary; exits 1 with the reason on the first failure.
import { parseArgs } from 'node:util'
import { launch, login, shot, phone, check } from './dashboard-lib.mjs'

const { values: opts } = parseArgs({
  options: { url: { type: 'string' }, email: { type: 'string' }, password: { type: 'string' }, token: { type: 'string' }, 'write-key': { type: 'string' } },
})
for (const k of ['url', 'email', 'password', 'token', 'write-key']) {
  if (!opts[k]) {
    console.error(`usage: node dashboard-journey.mjs --url BASE --email E --password P --token ADMIN_TOKEN --write-key KEY (missing --${k})`)
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

const summary = { steps: [] }
const step = (name, extra = {}) => summary.steps.push({ name, ...extra })
const { browser, page, problems } = await launch()
try {
  await login(page, base, opts.email, opts.password)
  step('logged in')

  // The list: one row per journey, with the API's status and figures.
  const { journeys } = await apiCall('GET', '/api/journeys')
  check(journeys.length >= 6, `the demo has 6 journeys, the API lists ${journeys.length}`)
  await page.goto(`${base}/journeys`)
  await page.locator('#journeys tbody tr').first().waitFor()
  const rows = await page.locator('#journeys tbody tr').count()
  check(rows === journeys.length, `the list shows ${rows} rows, the API ${journeys.length}`)
  for (const j of journeys) {
    const row = page.locator(`tr[data-journey="${j.id}"]`)
    const status = (await row.locator('.jr-status').textContent()).trim()
    check(status === j.status, `${j.id}: status ${status} on the page, ${j.status} in the API`)
  }
  step('list matches the API', { journeys: journeys.length })
  await shot(page, 'journeys')

  // Two carts let two profiles into the live cart journey.
  for (const userId of ['journey-e2e-1', 'journey-e2e-2']) {
    const res = await fetch(`${base}/v1/track`, {
      method: 'POST',
      headers: { Authorization: 'Basic ' + Buffer.from(opts['write-key'] + ':').toString('base64'), 'Content-Type': 'application/json' },
      body: JSON.stringify({ userId, event: 'Product Added', properties: { product_id: 'hat-1' } }),
    })
    check(res.ok, `track: ${res.status}`)
  }
  for (let i = 0; ; i++) {
    const st = await apiCall('GET', '/api/journeys/abandoned-cart/stats')
    if (st.entered >= 2) break
    check(i < 100, `the carts did not enter the journey: ${JSON.stringify(st)}`)
    await new Promise((r) => setTimeout(r, 100))
  }

  // A journey: one box per step, and the counts of its stats.
  await page.reload()
  await page.locator('tr[data-journey="abandoned-cart"] a').click()
  await page.locator('#journey-graph').waitFor()
  const j = await apiCall('GET', '/api/journeys/abandoned-cart')
  const stats = await apiCall('GET', '/api/journeys/abandoned-cart/stats')
  const boxes = await page.locator('#journey-graph .jr-step').count()
  check(boxes === j.steps.length, `the graph has ${boxes} boxes, the journey ${j.steps.length} steps`)
  for (const s of j.steps) {
    const shown = Number(await page.locator(`.jr-step[data-step="${s.id}"]`).getAttribute('data-entered'))
    const want = stats.steps[s.id]?.entered || 0
    check(shown === want, `step ${s.id}: ${shown} entered on the page, ${want} in the stats`)
  }
  const shownTotal = Number((await page.locator('#jr-entered').textContent()).replace(/[^0-9]/g, ''))
  check(shownTotal === 2 && j.entered === 2, `entered: ${shownTotal} on the page, ${j.entered} in the API, want 2`)
  const arrows = await page.locator('#journey-graph path[marker-end]').count()
  check(arrows === j.steps.length - 1, `the cart graph has ${arrows} arrows, want ${j.steps.length - 1}`)
  step('graph matches the journey and its stats', { boxes, arrows })

  // The dry run shows what the API answers for the same days.
  await page.getByLabel('Replay the last … days of events').fill('7')
  await page.locator('#jr-dry-run').click()
  await page.locator('#dry-run-result').waitFor()
  const dr = await apiCall('POST', '/api/journeys/abandoned-cart/dry-run', { days: 7 })
  const shownEntered = Number((await page.locator('#dry-run-result .dr-entered').textContent()).replace(/[^0-9]/g, ''))
  check(shownEntered === dr.entered, `dry run: ${shownEntered} entered on the page, ${dr.entered} from the API`)
  check(dr.entered > 0, 'the demo has carts in the last 7 days, so the dry run lets some in')
  step('dry run', { entered: dr.entered, converted: dr.converted, messages: dr.messages })
  await shot(page, 'journey')

  // Publishing a draft from its page.
  await page.goto(`${base}/journeys/browse-abandonment`)
  await page.locator('#jr-publish').click()
  await page.locator('#jr-pause').waitFor()
  const after = await apiCall('GET', '/api/journeys/browse-abandonment')
  check(after.status === 'live', `after Publish the API says ${after.status}`)
  step('published a draft')

  await phone(page)
  await page.goto(`${base}/journeys/abandoned-cart`)
  await page.locator('#journey-graph').waitFor()
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  check(overflow <= 0, `the journey page fits 390 px (overflows by ${overflow} px)`)
  await shot(page, 'journey-390')

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
