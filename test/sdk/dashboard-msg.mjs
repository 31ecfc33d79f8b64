// dashboard-msg.mjs: the msg helper's scenario, as a marketer and a
// customer would do it: set a customer's consent through the API, write a
// template in the editor (a parse error shows its line and column, the live
// preview renders the customer's name), find it in the list, then open the
// customer's preference center as the customer (no login), change a choice
// and see the new state through the API and on the profile page.
// Screenshots: template-editor, templates, preference-center (1280 px) and
// preference-center-390.
//
// usage: node dashboard-msg.mjs --url BASE --email E --password P --token ADMIN_TOKEN --customer USER_ID
// Prints a JSON summary; exits 1 with the reason on the first failure.
import { parseArgs } from 'node:util'
import { launch, login, shot, phone, check } from './dashboard-lib.mjs'

const { values: opts } = parseArgs({
  options: {
    url: { type: 'string' }, email: { type: 'string' }, password: { type: 'string' },
    token: { type: 'string' }, customer: { type: 'string' },
  },
})
for (const k of ['url', 'email', 'password', 'token', 'customer']) {
  if (!opts[k]) {
    console.error(`usage: node dashboard-msg.mjs --url BASE --email E --password P --token ADMIN_TOKEN --customer USER_ID (missing --${k})`)
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
const channel = (v, ch) => v.channels.find((c) => c.channel === ch)

const summary = { steps: [] }
const step = (name, extra = {}) => summary.steps.push({ name, ...extra })
const { browser, page, problems } = await launch()
try {
  const profile = await apiCall('GET', `/api/profiles/${who}`)
  const first = profile.traits.first_name
  check(typeof first === 'string' && first.length > 0, `customer ${opts.customer} has no first_name trait`)

  // 1. Consent through the API: email yes, sms no.
  let v = await apiCall('PUT', `/api/profiles/${who}/consent`, {
    consents: [{ channel: 'email', granted: true }, { channel: 'sms', granted: false }],
  })
  check(channel(v, 'email').allowed.marketing.ok === true, `email marketing not allowed after the grant: ${JSON.stringify(channel(v, 'email'))}`)
  check(channel(v, 'sms').allowed.marketing.ok === false && channel(v, 'sms').marketing.source === 'api', 'sms not refused after the API said no')
  step('consent set through the API', { email: channel(v, 'email').allowed.marketing, sms: channel(v, 'sms').allowed.marketing })

  // 2. The template editor: an error at line:column, then a live preview.
  await login(page, base, opts.email, opts.password)
  await page.goto(`${base}/templates/new?profile=${who}`)
  await page.getByLabel('Id', { exact: true }).fill('welcome-e2e')
  await page.getByLabel('Name', { exact: true }).fill('Welcome (e2e)')
  await page.getByLabel('Subject', { exact: true }).fill('Welcome, {{ profile.traits.first_name }}!')
  await page.getByLabel('HTML body', { exact: true }).fill('<p>Hello</p>\n<p>{% if %}</p>')
  const pos = page.getByTestId('position-error')
  await pos.waitFor()
  const posText = await pos.textContent()
  check(/line 2, column 4/.test(posText), `position error: ${posText}`)
  step('parse error shown at its position', { text: posText })
  await page.getByLabel('HTML body', { exact: true }).fill('<p>Hello {{ profile.traits.first_name }}, <a href="https://shop.example/new">see what is new</a>.</p>\n<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>')
  const subj = page.locator('[data-testid="preview"] dd[data-part="subject"]')
  await subj.waitFor()
  await page.waitForFunction((want) => document.querySelector('[data-testid="preview"] dd[data-part="subject"]')?.textContent === want,
    `Welcome, ${first}!`)
  step('live preview renders the customer', { subject: await subj.textContent() })
  await shot(page, 'template-editor')
  await page.getByRole('button', { name: 'Create' }).click()
  await page.waitForURL(`${base}/templates/welcome-e2e`)
  const saved = await apiCall('GET', '/api/templates/welcome-e2e')
  check(saved.version === 1 && saved.subject.includes('first_name'), `saved template: ${JSON.stringify(saved)}`)
  await page.goto(`${base}/templates`)
  const row = page.locator('tr[data-template="welcome-e2e"]')
  await row.waitFor()
  check((await row.locator('.version').textContent()).trim() === String(saved.version), 'list shows another version than the API')
  await shot(page, 'templates')
  step('template saved and listed', { version: saved.version })

  // 3. The preference center, as the customer: no login, no JavaScript needed.
  v = await apiCall('GET', `/api/profiles/${who}/consent`)
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, javaScriptEnabled: false })
  const cust = await ctx.newPage()
  await cust.goto(v.preferences_url)
  check(await cust.getByLabel('Email').isChecked(), 'email is not ticked though it is granted')
  await cust.getByLabel('Email').uncheck()
  await cust.getByLabel('Weekly').check()
  await cust.getByLabel('Sales').check()
  await shot(cust, 'preference-center')
  await cust.getByRole('button', { name: 'Save my choices' }).click()
  await cust.getByText('Your choices are saved.').waitFor()
  check(!(await cust.getByLabel('Email').isChecked()), 'email still ticked after saving')
  v = await apiCall('GET', `/api/profiles/${who}/consent`)
  const em = channel(v, 'email')
  check(em.allowed.marketing.ok === false && em.marketing.source === 'preference_center', `email after the preference center: ${JSON.stringify(em)}`)
  const after = await apiCall('GET', `/api/profiles/${who}`)
  check(after.traits.message_frequency === 'weekly', `frequency trait: ${after.traits.message_frequency}`)
  check(Array.isArray(after.traits.topics) && after.traits.topics.includes('sales'), `topics trait: ${JSON.stringify(after.traits.topics)}`)
  step('preference center changed the state', { email: em.allowed.marketing, frequency: after.traits.message_frequency, topics: after.traits.topics })
  await phone(cust)
  await shot(cust, 'preference-center-390')
  await ctx.close()

  // 4. The profile page shows the consent the API reports.
  await page.goto(`${base}/profiles/${who}`)
  const cell = page.locator('[data-testid="profile-consent"] tr[data-channel="email"] td').first()
  await cell.waitFor()
  const cellText = await cell.textContent()
  check(/no \(opted out\)/.test(cellText) && /preference_center/.test(cellText), `profile consent cell: ${cellText}`)
  step('profile page shows the consent', { email: cellText.trim() })

  const p = problems()
  check(p.length === 0, `browser problems: ${p.join('; ')}`)
  console.log(JSON.stringify(summary))
} catch (err) {
  console.error(err.stack || String(err))
  console.error(JSON.stringify(summary))
  process.exitCode = 1
} finally {
  await browser.close()
}
