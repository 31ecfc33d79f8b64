// offers-client.mjs opens a shop page (served by test/e2e on its own origin)
// that loads Tailor's offers snippet (/v1/snippet.js), once as a new visitor
// and once as a returning customer (?userId=), in headless Chromium. For each
// it waits for the placements to render, moves the pointer out through the
// top of the window (exit intent), clicks the offer, and prints a JSON
// summary on stdout for TestOffersSnippetBrowser.
//
// usage: node offers-client.mjs --shop SHOP_URL --user USER_ID [--chromium PATH] [--shots]
import { chromium } from 'playwright-core'
import { parseArgs } from 'node:util'
import { mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const { values: opts } = parseArgs({
  options: {
    shop: { type: 'string' },
    user: { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
    shots: { type: 'boolean', default: false },
  },
})
const here = dirname(fileURLToPath(import.meta.url))
const shotDir = process.env.TAILOR_SCREENSHOT_DIR || join(here, '..', '..', 'docs', 'screenshots')
const summary = { visitors: [], errors: [], console: [] }
const local = new Set(['127.0.0.1', 'localhost'])

const browser = await chromium.launch({ executablePath: opts.chromium, headless: true, args: ['--no-sandbox', '--disable-gpu'] })
try {
  for (const v of [{ name: 'new', url: opts.shop + '/' }, { name: 'returning', url: opts.shop + '/?userId=' + encodeURIComponent(opts.user) }]) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    ctx.setDefaultTimeout(10000)
    const out = { name: v.name, calls: [] }
    await ctx.route('**/*', (route) => {
      const u = new URL(route.request().url())
      if (u.protocol.startsWith('http') && !local.has(u.hostname)) {
        summary.errors.push(`request to another host: ${u.href}`)
        return route.abort()
      }
      return route.continue()
    })
    const page = await ctx.newPage()
    page.on('pageerror', (e) => summary.errors.push(`${v.name}: page error: ${e.message}`))
    page.on('console', (m) => summary.console.push(`${v.name}: ${m.type()}: ${m.text()}`))
    page.on('response', async (r) => {
      if (!r.url().includes('/v1/decide')) return
      out.calls.push({ method: r.request().method(), path: new URL(r.url()).pathname, status: r.status(),
        allowOrigin: r.headers()['access-control-allow-origin'] || null, body: r.request().postData() })
    })
    await page.goto(v.url)
    await page.waitForSelector('#hero[data-variant]')
    await page.waitForSelector('#recs[data-variant]')
    out.hero = await page.$eval('#hero', (e) => ({ variant: e.dataset.variant, text: e.textContent }))
    out.recs = await page.$$eval('#recs li', (els) => els.map((e) => e.textContent))
    out.anonymousId = await page.evaluate(() => JSON.parse(localStorage.getItem('tailor_anonymous_id') || 'null'))
    out.exitBefore = await page.$$eval('.tailor-exit', (els) => els.length)
    // Exit intent: the pointer goes up and out through the top edge.
    await page.mouse.move(640, 400)
    await page.mouse.move(640, 100, { steps: 5 })
    await page.mouse.move(640, -10, { steps: 3 })
    await page.waitForSelector('.tailor-exit [data-variant]')
    out.exit = await page.$eval('.tailor-exit [data-variant]', (e) => ({ variant: e.dataset.variant, text: e.textContent }))
    if (opts.shots) {
      await mkdir(shotDir, { recursive: true })
      await page.screenshot({ path: join(shotDir, `decide-exit-${v.name}.png`) })
    }
    const clicked = page.waitForResponse((r) => r.url().endsWith('/v1/decide/events') && (r.request().postData() || '').includes('"click"'))
    await page.click('.tailor-exit .tailor-cta')
    out.clickStatus = (await clicked).status()
    out.exitAfterClick = await page.$$eval('.tailor-exit', (els) => els.length)
    // The shop reports that the visitor used the offer (its code at checkout).
    out.converted = await page.evaluate(() => window.TailorOffers.convert('exit_offer').then(() => true))
    // A second exit in the same session shows nothing.
    await page.mouse.move(640, 300, { steps: 3 })
    await page.mouse.move(640, -10, { steps: 3 })
    await page.waitForTimeout(300)
    out.exitAgain = await page.$$eval('.tailor-exit', (els) => els.length)
    summary.visitors.push(out)
    await ctx.close()
  }
} catch (e) {
  summary.errors.push(String(e && e.stack || e))
} finally {
  await browser.close()
}
process.stdout.write(JSON.stringify(summary) + '\n')
process.exit(summary.errors.length ? 1 : 0)
