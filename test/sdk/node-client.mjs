// node-client.mjs sends the e2e "SDK story" to a Tailor server with Segment's
// @segment/analytics-node, changing nothing but the host, and prints a JSON
// summary on stdout for test/e2e (TestAnalyticsNode) to check.
//
// usage: node node-client.mjs '{"host":"http://127.0.0.1:PORT","writeKey":"...",
//          "userId":"...","anonymousId":"...","email":"...","name":"...",
//          "oldUserId":"...","viewedAnon":"sku","purchased":"sku",
//          "category":"Shoes","revenue":99.5}'
//    or: node node-client.mjs '{"host":"...","writeKey":"...",
//          "calls":[["identify",{"userId":"...","traits":{...}}],["alias",{...}],...]}'
//        sends the given calls (SDK method and its parameters) instead of the story.
//
// Exit status 0 when every call was delivered, 1 otherwise.
import { Analytics } from '@segment/analytics-node'

const cfg = JSON.parse(process.argv[2] ?? '{}')
const required = cfg.calls ? ['host', 'writeKey'] : ['host', 'writeKey', 'userId', 'anonymousId', 'email', 'purchased']
for (const k of required) {
  if (!cfg[k]) {
    console.error(`node-client: missing config field ${k}`)
    process.exit(2)
  }
}

const analytics = new Analytics({
  writeKey: cfg.writeKey,
  host: cfg.host,
  flushAt: 3, // several /v1/batch requests
  flushInterval: 200,
  maxRetries: 2,
  httpRequestTimeout: 10000,
})

const summary = { messageIds: [], delivered: [], errors: [], requests: [] }
analytics.on('http_request', (r) => summary.requests.push({ method: r.method, url: r.url }))
analytics.on('http_response', (r) => {
  if (r.status >= 300) summary.errors.push(`HTTP ${r.status} ${r.url}: ${r.body}`)
})
analytics.on('error', (err) => summary.errors.push(`error event: ${err?.reason ?? err?.message ?? JSON.stringify(err)}`))

const pending = []
let n = 0
// send calls one SDK method with a known messageId and records its delivery.
function send(method, params) {
  const messageId = `node-msg-${++n}`
  summary.messageIds.push(messageId)
  pending.push(
    new Promise((resolve) => {
      analytics[method]({ ...params, messageId }, (err) => {
        if (err) summary.errors.push(`${method} ${messageId}: ${err?.message ?? err}`)
        else summary.delivered.push(messageId)
        resolve()
      })
    }),
  )
}

const product = (sku) => ({
  product_id: sku,
  sku,
  name: `Runner ${sku}`,
  category: cfg.category,
  price: 49.75,
  currency: 'USD',
})
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

const anon = { anonymousId: cfg.anonymousId }
const user = { userId: cfg.userId, anonymousId: cfg.anonymousId }
const story = [
  ['track', { ...anon, event: 'Product Viewed', properties: product(cfg.viewedAnon) }],
  ['page', { ...anon, name: 'Home', properties: { url: 'https://shop.example.com/', path: '/' } }],
  ['identify', { ...user, traits: { email: cfg.email, name: cfg.name, plan: 'pro' } }],
  ['track', { ...user, event: 'Product Viewed', properties: product(cfg.purchased) }],
  [
    'track',
    {
      userId: cfg.userId,
      event: 'Order Completed',
      properties: {
        order_id: 'node-order-1',
        revenue: cfg.revenue,
        total: cfg.revenue + 5.5, // with shipping and tax: revenue is what counts
        currency: 'USD',
        products: [{ ...product(cfg.purchased), quantity: 2 }],
      },
    },
  ],
  ['page', { userId: cfg.userId, name: 'Checkout', properties: { url: 'https://shop.example.com/checkout', path: '/checkout' } }],
  ['alias', { previousId: cfg.oldUserId, userId: cfg.userId }],
  ['group', { userId: cfg.userId, groupId: 'acme-inc', traits: { name: 'Acme Inc', plan: 'enterprise' } }],
]
for (const [method, params] of cfg.calls ?? story) {
  send(method, params)
  await sleep(2) // keep the story's timestamps in order
}

await analytics.closeAndFlush({ timeout: 20000 })
await Promise.all(pending)

const bad = summary.requests.filter((r) => !r.url.startsWith(cfg.host))
if (bad.length) summary.errors.push(`requests to hosts other than ${cfg.host}: ${JSON.stringify(bad)}`)
if (summary.delivered.length !== summary.messageIds.length) {
  summary.errors.push(`delivered ${summary.delivered.length} of ${summary.messageIds.length} messages`)
}
process.stdout.write(JSON.stringify(summary, null, 2) + '\n')
process.exit(summary.errors.length ? 1 : 0)
