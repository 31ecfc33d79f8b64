// dashboard-jdash.mjs: results on the dashboard. The profile page's
// message history against GET /api/profiles/{id}/messages (the message the
// Go test sent, opened and clicked: its state, subject, open and click),
// its consent section against the consent API (and an opt-out recorded
// from it); the segment builder's
// "reachable on email" against the API's preview; the journey pages' daily
// charts, totals and step table against the journeys' stats after two carts
// entered and a welcome email was opened.
// Screenshots: jdash-profile, jdash-segment-reachable, jdash-journey
// (1280 px) and jdash-profile-390.
//
// usage: node dashboard-jdash.mjs --url BASE --email E --password P --token ADMIN_TOKEN --write-key KEY --customer USER_ID --key MESSAGE_KEY
// Prints a JSON summary; exits 1 with the reason on the first failure.
import { parseArgs } from 'node:util'
import { launch, login, shot, phone, check } from './dashboard-lib.mjs'

const names = ['url', 'email', 'password', 'token', 'write-key', 'customer', 'key']
const { values: opts } = parseArgs({ options: Object.fromEntries(names.map((k) => [k, { type: 'string' }])) })
for (const k of names) {
  if (!opts[k]) {
    console.error(`usage: node dashboard-jdash.mjs --url BASE --email E --password P --token ADMIN_TOKEN --write-key KEY --customer USER_ID --key MESSAGE_KEY (missing --${k})`)
    process.exit(2)
  }
}
const base = opts.url.replace(/\/$/, '')
const who = encodeURIComponent(opts.customer)

async function apiCall(method, path, body) {
  const res = await fetch(base + path, {
    method, headers: { Authorization: `Bearer ${opts.token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`)
  return text ? JSON.parse(text) : null
}
const digits = (s) => Number(String(s).replace(/[^0-9]/g, ''))

const summary = { steps: [] }
const step = (name, extra = {}) => summary.steps.push({ name, ...extra })
const { browser, page, problems } = await launch()
try {
  await login(page, base, opts.email, opts.password)
  step('logged in')

  // 1. The profile page: the message history, row by row as the API says.
  const profile = await apiCall('GET', `/api/profiles/${who}`)
  const hist = await apiCall('GET', `/api/profiles/${encodeURIComponent(profile.id)}/messages?limit=50`)
  const mine = hist.messages.find((m) => m.key === opts.key)
  check(mine && mine.state === 'sent' && mine.opened_at && mine.clicked_at, `the API's history lacks the sent, opened and clicked message: ${JSON.stringify(mine)}`)
  await page.goto(`${base}/profiles/${who}`)
  const section = page.locator('[data-testid=profile-messages]')
  const row = section.locator(`tr[data-key="${opts.key}"]`)
  await row.waitFor()
  const rows = await section.locator('tbody tr').count()
  check(rows === hist.messages.length, `the page lists ${rows} messages, the API ${hist.messages.length}`)
  check(await row.getAttribute('data-state') === 'sent' && (await row.locator('.msg-state').innerText()).trim() === 'sent', 'the message is not shown as sent')
  const subject = (await row.locator('.msg-subject').innerText()).trim()
  check(subject === mine.subject && subject.startsWith('Your receipt o-9'), `subject "${subject}" on the page, "${mine.subject}" in the API`)
  for (const col of ['opened', 'clicked']) {
    const cell = (await row.locator(`.msg-${col}`).innerText()).trim()
    check(cell !== '' && cell !== '–', `the ${col} cell is empty ("${cell}") though the API has ${mine[col + '_at']}`)
  }
  for (const m of hist.messages) {
    const state = await section.locator(`tr[data-key="${m.key}"]`).getAttribute('data-state')
    check(state === m.state, `message ${m.key}: ${state} on the page, ${m.state} in the API`)
  }
  step('message history matches the API', { messages: rows, subject })

  // 2. The consent section: a row per channel the API has something for,
  // with the API's yes or no for marketing.
  const consent = await apiCall('GET', `/api/profiles/${who}/consent`)
  const shownChannels = consent.channels.filter((c) => c.reachable || c.marketing || c.suppressed)
  const box = page.locator('[data-testid=profile-consent]')
  await box.locator('tbody tr').first().waitFor()
  check(await box.locator('tbody tr').count() === shownChannels.length, `consent rows ${await box.locator('tbody tr').count()}, API channels ${shownChannels.length}`)
  for (const c of shownChannels) {
    const cell = (await box.locator(`tr[data-channel="${c.channel}"] td`).first().innerText()).trim()
    check(cell.startsWith(c.allowed.marketing.ok ? 'yes' : 'no'), `consent ${c.channel}: "${cell}" on the page, marketing ok=${c.allowed.marketing.ok} in the API`)
  }
  step('consent matches the API', { channels: shownChannels.map((c) => `${c.channel}:${c.allowed.marketing.ok}`) })
  await shot(page, 'jdash-profile')

  // An admin (as an editor may) records the person's wish to stop the
  // marketing email: the page and the API say no, with source dashboard.
  const email = consent.channels.find((c) => c.channel === 'email')
  check(email.allowed.marketing.ok, 'the demo customer should start with email marketing allowed')
  await page.getByRole('button', { name: 'Opt out of marketing by email' }).click()
  const emailCell = box.locator('tr[data-channel="email"] td').first()
  await page.waitForFunction((el) => /^no/.test(el.textContent.trim()) && /dashboard/.test(el.textContent), await emailCell.elementHandle())
  const after = (await apiCall('GET', `/api/profiles/${who}/consent`)).channels.find((c) => c.channel === 'email')
  check(!after.allowed.marketing.ok && after.marketing.source === 'dashboard', `after Opt out the API says ${JSON.stringify(after)}`)
  await page.getByRole('button', { name: 'Opt in to marketing by email' }).waitFor()
  step('opted the customer out of email from the profile page', { reason: after.allowed.marketing.reason })

  // 3. The segment builder: a "reachable on email" condition, its text
  // form and its live count as the API's preview.
  await page.goto(`${base}/segments/new`)
  await page.locator('select[data-add="/"]').selectOption('reachable')
  await page.locator('button[data-add-button="/"]').click()
  await page.locator('[data-node="/and/0"]').getByLabel('on channel').selectOption('email')
  const want = await apiCall('POST', '/api/segments/preview', { rule: { and: [{ reachable: 'email' }] }, sample: 0 })
  await page.waitForFunction((text) => document.querySelector('#seg-text')?.value === text
    && document.querySelector('[data-testid=preview]')?.dataset.pending === '0' && document.querySelector('#live-count'), want.text)
  const count = Number(await page.locator('#live-count').getAttribute('data-count'))
  check(count === want.count, `live count ${count}, the API's preview ${want.count}`)
  check(want.count > 0, `the demo has email opt-ins, yet the preview counts ${want.count}`)
  step('reachable on email in the builder', { text: want.text, count })
  await shot(page, 'jdash-segment-reachable')

  // 4. The journey page: two carts enter; the daily totals are the stats'.
  for (const userId of ['jdash-e2e-1', 'jdash-e2e-2']) {
    const res = await fetch(`${base}/v1/track`, {
      method: 'POST',
      headers: { Authorization: 'Basic ' + Buffer.from(opts['write-key'] + ':').toString('base64'), 'Content-Type': 'application/json' },
      body: JSON.stringify({ userId, event: 'Product Added', properties: { product_id: 'hat-1' } }),
    })
    check(res.ok, `track: ${res.status}`)
  }
  let stats
  for (let i = 0; ; i++) {
    stats = await apiCall('GET', '/api/journeys/abandoned-cart/stats')
    if (stats.entered >= 2) break
    check(i < 100, `the carts did not enter the journey: ${JSON.stringify(stats)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  for (const jid of ['abandoned-cart', 'welcome']) {
    await page.goto(`${base}/journeys/${jid}`)
    await page.locator('#jr-day-charts').waitFor()
    await page.waitForFunction(() => document.querySelectorAll('#jr-day-charts canvas').length >= 2)
    stats = await apiCall('GET', `/api/journeys/${jid}/stats`)
    const shownDays = Number(await page.locator('#jr-day-charts').getAttribute('data-days'))
    const firstDay = new Date(Date.now() - (shownDays - 1) * 86400000).toISOString().slice(0, 10)
    for (const k of ['entered', 'sent', 'delivered', 'opened', 'clicked', 'converted', 'unsubscribed']) {
      const want = Object.entries(stats.days).filter(([d]) => d >= firstDay).reduce((a, [, v]) => a + (v[k] || 0), 0)
      const shown = digits(await page.locator(`#jr-day-totals td[data-k="${k}"]`).innerText())
      check(shown === want, `journey ${k}: ${shown} on the page, ${want} in the stats' days`)
    }
    for (const id of stats.order) {
      for (const k of ['entered', 'sent', 'delivered', 'opened', 'clicked', 'converted']) {
        const shown = digits(await page.locator(`#jr-step-table tr[data-step="${id}"] td[data-k="${k}"]`).innerText())
        const want = stats.steps[id]?.[k] || 0
        check(shown === want, `step ${id} ${k}: ${shown} on the page, ${want} in the stats`)
      }
    }
    const entered = digits(await page.locator('#jr-day-totals td[data-k="entered"]').innerText())
    const opened = digits(await page.locator('#jr-day-totals td[data-k="opened"]').innerText())
    if (jid === 'abandoned-cart') check(entered >= 2, `the day totals show ${entered} entered, want the two carts at least`)
    else check(opened >= 1 && digits(await page.locator('#jr-step-table tr[data-step="welcome-1"] td[data-k="opened"]').innerText()) >= 1, `the welcome email's open is not on the page (${opened} opens)`)
    step(`${jid}: charts, day totals and steps match the stats`, { days: shownDays, entered, opened })
  }
  await shot(page, 'jdash-journey')

  await phone(page)
  await page.goto(`${base}/profiles/${who}`)
  await page.locator(`[data-testid=profile-messages] tr[data-key="${opts.key}"]`).waitFor()
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  check(overflow <= 0, `the profile page fits 390 px (overflows by ${overflow} px)`)
  // The viewport at the message history (the page is as long as a timeline).
  await page.locator('[data-testid=profile-messages]').evaluate((el) => el.scrollIntoView({ block: 'start' }))
  await shot(page, 'jdash-profile-390', { fullPage: false })

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
