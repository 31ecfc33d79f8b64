// Helpers shared by the live helper's pages (overview, events, sources,
// catalog): polling that pauses while the tab is hidden, a copy button.
import { html, useState, useEffect, useRef } from '../lib.js';

/** useVisible is false while the browser tab is hidden. */
export function useVisible() {
  const [visible, setVisible] = useState(!document.hidden);
  useEffect(() => {
    const on = () => setVisible(!document.hidden);
    document.addEventListener('visibilitychange', on);
    return () => document.removeEventListener('visibilitychange', on);
  }, []);
  return visible;
}

/** usePoll calls load(signal) now, whenever deps change, and every ms
 * milliseconds while the tab is visible (at once when it shows again).
 * Returns {data, error, loading, updated, paused}. A failed refresh keeps
 * the last data and shows the error beside it. */
export function usePoll(load, ms, deps) {
  const visible = useVisible();
  const [state, setState] = useState({ data: null, error: null, loading: true, updated: null });
  const seq = useRef(0);
  useEffect(() => {
    if (!visible) return undefined;
    let ctl = null;
    const run = () => {
      if (ctl) ctl.abort();
      ctl = new AbortController();
      const mine = ++seq.current;
      load(ctl.signal).then(
        (data) => { if (mine === seq.current) setState({ data, error: null, loading: false, updated: new Date() }); },
        (error) => {
          if (error.name === 'AbortError' || mine !== seq.current) return;
          setState((s) => ({ ...s, error, loading: false }));
        });
    };
    run();
    const t = setInterval(run, ms);
    return () => { clearInterval(t); if (ctl) ctl.abort(); };
  }, [visible, ...deps]);
  return { ...state, paused: !visible };
}

/** CopyButton copies text to the clipboard and says so. */
export function CopyButton({ text, label = 'Copy', what }) {
  const [done, setDone] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('Copied');
    } catch {
      setDone('Copy failed: select the text and copy it');
    }
    setTimeout(() => setDone(''), 2500);
  };
  return html`<button class="btn" type="button" onClick=${copy} aria-label=${what ? `${label} ${what}` : label}>${label}</button>
    <span class="muted small" role="status">${done}</span>`;
}
