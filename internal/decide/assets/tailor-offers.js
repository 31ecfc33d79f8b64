/* Tailor offers: shows what /v1/decide chooses for this visitor. No dependencies.
 * <script src="https://TAILOR/v1/snippet.js" data-write-key="KEY" async></script>
 * <div data-tailor-placement="home_hero"></div>   filled on load
 * data-exit-placement="exit_offer" on the script tag: shown once per session on exit intent.
 * See docs/decide.md. */
(function () {
  'use strict'
  var me = document.currentScript || {}
  var ds = me.dataset || {}
  var cfg = window.tailorOffers || {}
  var host = (cfg.host || ds.host || (me.src ? new URL(me.src).origin : '')).replace(/\/$/, '')
  var key = cfg.writeKey || ds.writeKey
  var exitId = cfg.exitPlacement || ds.exitPlacement
  var ls = safe(function () { return window.localStorage })

  function safe(f) { try { return f() } catch (e) { return null } }
  // analytics.js keeps its ids JSON-encoded in localStorage (and cookies):
  // reuse them so that decisions and events name the same profile.
  function stored(name) {
    var v = ls && ls.getItem(name)
    if (!v) { var m = document.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)')); v = m && decodeURIComponent(m[1]) }
    if (!v) return ''
    return safe(function () { return JSON.parse(v) }) || v
  }
  function anonymousId() {
    var id = cfg.anonymousId || stored('ajs_anonymous_id') || stored('tailor_anonymous_id')
    if (!id) {
      id = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now()
      if (ls) ls.setItem('tailor_anonymous_id', JSON.stringify(id))
    }
    return id
  }
  function who() {
    var u = cfg.userId || stored('ajs_user_id')
    return u ? { userId: String(u), anonymousId: anonymousId() } : { anonymousId: anonymousId() }
  }
  // text/plain with the key in the body: no CORS pre-flight, like analytics.js.
  function post(path, body) {
    body.writeKey = key
    return fetch(host + path, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(body), keepalive: true, credentials: 'omit' })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error((j && j.error) || r.status); return j }) })
  }
  function track(token, type) {
    if (!token) return Promise.resolve()
    return post('/v1/decide/events', { events: [{ token: token, type: type }] }).catch(function () {})
  }
  function decide(ids) {
    var b = who()
    b.placements = ids
    b.context = Object.assign({ url: location.href }, cfg.context || {})
    return post('/v1/decide', b)
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag)
    if (cls) e.className = cls
    if (text != null) e.textContent = text
    return e
  }
  // render fills box with a decision's variant and products; text only.
  function render(box, p, geo) {
    var c = (p.variant && p.variant.content) || {}
    box.textContent = ''
    box.setAttribute('data-variant', p.variant.id)
    if (c.headline) box.appendChild(el('strong', 'tailor-headline', c.headline))
    if (c.text) box.appendChild(el('p', 'tailor-text', c.text))
    if (c.code) box.appendChild(el('code', 'tailor-code', c.code))
    if (c.cta) {
      var a = el('a', 'tailor-cta', c.cta)
      a.href = c.url || '#'
      a.addEventListener('click', function (ev) { if (!c.url) ev.preventDefault(); track(p.token, 'click'); box.dispatchEvent(new CustomEvent('tailor:click', { bubbles: true })) })
      box.appendChild(a)
    }
    if (p.items && p.items.length) {
      var ul = el('ul', 'tailor-items')
      p.items.forEach(function (it) {
        var li = el('li'), a = el('a', null, it.name + ' — ' + it.price + ' ' + (it.currency || ''))
        a.href = it.url || '#'
        a.addEventListener('click', function () { track(it.token, 'click') })
        li.appendChild(a)
        ul.appendChild(li)
      })
      box.appendChild(ul)
    }
    if (geo && geo.store && p.items) box.appendChild(el('small', 'tailor-store', 'Nearest store: ' + geo.store.name))
    track(p.token, 'impression')
  }
  var style = '.tailor-exit{position:fixed;inset:0;background:rgba(0,0,0,.45);display:flex;align-items:center;justify-content:center;z-index:2147483647}' +
    '.tailor-exit>div{background:#fff;color:#111;max-width:380px;padding:24px;border-radius:10px;font:16px system-ui,sans-serif;display:grid;gap:10px}' +
    '.tailor-code{font-size:20px;letter-spacing:.08em}.tailor-close{justify-self:end;border:0;background:none;font-size:20px;cursor:pointer}'

  var api = { decide: decide, track: track, render: render, lastTokens: {} }
  // convert reports that the visitor used placement id's offer (e.g. its code at checkout).
  api.convert = function (id) { return track(api.lastTokens[id], 'conversion') }
  window.TailorOffers = api

  function start() {
    var boxes = document.querySelectorAll('[data-tailor-placement]')
    var ids = []
    boxes.forEach(function (b) { var id = b.getAttribute('data-tailor-placement'); if (ids.indexOf(id) < 0) ids.push(id) })
    var showExit = exitId && !safe(function () { return sessionStorage.getItem('tailor_exit_shown') })
    if (showExit && ids.indexOf(exitId) < 0) ids.push(exitId)
    if (!ids.length || !key) return
    api.ready = decide(ids).then(function (d) {
      var byId = {}
      d.placements.forEach(function (p) { byId[p.id] = p; api.lastTokens[p.id] = p.token })
      boxes.forEach(function (b) { var p = byId[b.getAttribute('data-tailor-placement')]; if (p) render(b, p, d.geo) })
      if (showExit && byId[exitId]) armExit(byId[exitId], d.geo)
      return d
    }).catch(function (e) { if (window.console) console.warn('tailor offers:', e.message) })
  }
  // Exit intent: the pointer leaves the page through its top edge, towards
  // the tabs and the address bar.
  function armExit(p, geo) {
    function onOut(e) {
      if (e.relatedTarget || e.clientY > 10) return
      document.removeEventListener('mouseout', onOut)
      safe(function () { sessionStorage.setItem('tailor_exit_shown', '1') })
      var s = el('style'); s.textContent = style; document.head.appendChild(s)
      var wrap = el('div', 'tailor-exit'), box = el('div')
      wrap.setAttribute('role', 'dialog')
      wrap.setAttribute('aria-label', 'Offer')
      var close = el('button', 'tailor-close', '×')
      close.setAttribute('aria-label', 'Close')
      close.onclick = function () { wrap.remove() }
      wrap.appendChild(box)
      document.body.appendChild(wrap)
      render(box, p, geo)
      box.insertBefore(close, box.firstChild)
      box.addEventListener('tailor:click', function () { wrap.remove() })
    }
    document.addEventListener('mouseout', onOut)
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start)
  else start()
})()
