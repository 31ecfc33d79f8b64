// dashboard-decide.mjs: the placement pages as a marketer uses them: the
// list of the demo placements with their figures (against the API), a
// placement's rules, its chart of impressions and clicks, adding and
// reordering a rule, previewing a new visitor and a returning customer,
// creating a placement, and a content mistake shown in words. Screenshots:
// decide-placements and decide-placement at 1280 px, decide-placement-390.
//
// usage: node dashboard-decide.mjs --url BASE --email E --password P --token ADMIN_TOKEN --write-key KEY
// Prints a JSON summary; exits 1 with the reason on the first failure.
import { parseArgs } from 'node:util'
import { launch, login, shot, phone, check } from './dashboard-lib.mjs'

const { values: opts } = parseArgs({
  options: { url: { type: 'string' }, email: { type: 'string' }, password: { type: 'string' }, token: { type: 'string' }, 'write-key': { type: 'string' } },
})
for (const k of ['url', 'email', 'password', 'token', 'write-key']) {
  if (!opts[k]) {
    console.error(`usage: node dashboard-decide.mjs --url BASE --email E --password P --token ADMIN_TOKEN --write-key KEY (missing --${k})`)
    process.exit(2)
  }
}
const base = opts.url.replace(/\/$/, '')
const basic = 'Basic ' + Buffer.from(opts['write-key'] + ':').toString('base64')

async function call(method, path, body, auth = `Bearer ${opts.token}`) {
  const res = await fetch(base + path, {
    method, headers: { Authorization: auth, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  return res.status === 204 ? null : res.json()
}
const num = (s) => Number(String(s).replace(/[^0-9]/g, ''))
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

const summary = { steps: [] }
const step = (name, extra = {}) => summary.steps.push({ name, ...extra })
const { browser, page, problems } = await launch()
try {
  // Traffic: six new visitors see the exit offer, two click it.
  for (let i = 0; i < 6; i++) {
    const d = await call('POST', '/v1/decide', { anonymousId: `dash-decide-${i}`, placements: ['exit_offer'] }, basic)
    const events = [{ token: d.placements[0].token, type: 'impression' }]
    if (i < 2) events.push({ token: d.placements[0].token, type: 'click' })
    await call('POST', '/v1/decide/events', { events }, basic)
  }
  // A returning customer: one small order.
  await call('POST', '/v1/track', { userId: 'dash-decide-buyer', event: 'Order Completed', properties: { order_id: 'dd-1', revenue: 40 } }, basic)
  step('traffic sent')

  await login(page, base, opts.email, opts.password)
  const { placements } = await call('GET', '/api/placements')
  check(placements.length >= 3, `the demo has 3 placements, the API lists ${placements.length}`)
  await page.goto(`${base}/placements`)
  await page.locator('#placements tbody tr').first().waitFor()
  const rows = await page.locator('#placements tbody tr').count()
  check(rows === placements.length, `the list shows ${rows} rows, the API ${placements.length}`)
  // The figures come from the log through the processor: wait for them.
  let apiImp = 0, apiClicks = 0
  for (let i = 0; i < 100 && (apiImp < 6 || apiClicks < 2); i++) {
    const stats = await call('GET', '/api/placements/exit_offer/stats?days=30')
    apiImp = stats.days.reduce((a, d) => a + d.impressions, 0)
    apiClicks = stats.days.reduce((a, d) => a + d.clicks, 0)
    if (apiImp < 6 || apiClicks < 2) await sleep(100)
  }
  check(apiImp >= 6 && apiClicks >= 2, `the API counts ${apiImp} impressions and ${apiClicks} clicks`)
  const row = page.locator('tr[data-placement="exit_offer"]')
  await page.waitForFunction(() => !document.querySelector('tr[data-placement="exit_offer"] .impressions').textContent.includes('…'))
  check(num(await row.locator('.impressions').textContent()) === apiImp, 'impressions on the list = the API')
  check(num(await row.locator('.clicks').textContent()) === apiClicks, 'clicks on the list = the API')
  check(num(await row.locator('.rules').textContent()) === 3, 'exit_offer has 3 rules')
  step('list matches the API', { placements: rows, impressions: apiImp, clicks: apiClicks })
  await shot(page, 'decide-placements')

  // One placement: rules in order and the chart.
  await page.goto(`${base}/placements/exit_offer`)
  await page.locator('#rules [data-rule-row]').first().waitFor()
  check(await page.locator('#rules [data-rule-row]').count() === 3, 'the form shows the 3 rules')
  await page.locator('#figures canvas').first().waitFor()
  check(num(await page.locator('#figures .tot-clicks').textContent()) === apiClicks, 'the figures show the API clicks')

  // Add a rule (country = DE → fifteen_off), move it first, save.
  await page.getByRole('button', { name: 'Add rule' }).click()
  await page.getByLabel('4. When').selectOption('trait')
  await page.locator('#r-field-3').fill('country')
  await page.locator('#r-op-3').selectOption('eq')
  await page.locator('#r-value-3').fill('DE')
  await page.locator('#r-variant-3').selectOption('fifteen_off')
  for (let i = 0; i < 3; i++) await page.getByRole('button', { name: `Move rule ${4 - i} up` }).click()
  await page.locator('#pl-save').click()
  await page.locator('#pl-saved').filter({ hasText: 'Saved' }).waitFor()
  const saved = await call('GET', '/api/placements/exit_offer')
  check(saved.rules.length === 4 && saved.rules[0].trait === 'country' && saved.rules[0].value === 'DE' && saved.rules[0].variant === 'fifteen_off',
    `after saving, the API's first rule is ${JSON.stringify(saved.rules[0])}`)
  check(saved.rules[1].segment === 'tier-high', 'the other rules keep their order')
  step('rule added and moved first')

  // Preview: a new visitor, then the returning customer, as the API answers.
  await page.locator('#pv-who').fill('')
  await page.getByRole('button', { name: 'Preview' }).click()
  await page.locator('#preview-result .pv-variant').waitFor()
  check((await page.locator('#preview-result .pv-variant').textContent()) === 'free_shipping', 'a new visitor is offered free shipping')
  let want = null
  for (let i = 0; i < 50 && want !== 'ten_off'; i++) {
    want = (await call('POST', '/api/placements/exit_offer/preview', { profile: 'dash-decide-buyer' })).placements[0].variant.id
    if (want !== 'ten_off') await sleep(100)
  }
  check(want === 'ten_off', `the API offers the returning customer ${want}`)
  await page.locator('#pv-who').fill('dash-decide-buyer')
  await page.getByRole('button', { name: 'Preview' }).click()
  await page.locator('#preview-result .pv-variant', { hasText: 'ten_off' }).waitFor()
  step('preview matches the API')
  await shot(page, 'decide-placement')

  // A mistake in a variant's content is shown in words and nothing is saved.
  await page.locator('#v-content-0').fill('{"headline": ')
  await page.locator('#pl-save').click()
  await page.getByRole('alert').filter({ hasText: 'not valid JSON' }).waitFor()
  check((await call('GET', '/api/placements/exit_offer')).variants[0].content.code === 'FREESHIP', 'the bad content was not saved')
  step('bad content refused')

  // A new placement.
  await page.goto(`${base}/placements/new`)
  await page.locator('#pl-id').fill('dash_banner')
  await page.locator('#pl-name').fill('Dashboard banner')
  await page.locator('#pl-save').click()
  await page.waitForURL(`${base}/placements/dash_banner`)
  const created = await call('GET', '/api/placements/dash_banner')
  check(created.name === 'Dashboard banner' && created.default === 'default', `created: ${JSON.stringify(created)}`)
  step('placement created')

  await phone(page)
  await page.goto(`${base}/placements/exit_offer`)
  await page.locator('#rules [data-rule-row]').first().waitFor()
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  check(overflow <= 0, `the placement page fits 390 px (overflows by ${overflow} px)`)
  await shot(page, 'decide-placement-390')

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
