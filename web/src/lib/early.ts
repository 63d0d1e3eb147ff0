// Early reads: what the first paint of a signed-in page waits for, started by a small inline
// script in the HTML head (earlyStart, rendered by the root layout) while the browser still
// downloads, parses and hydrates the app's JavaScript (on a loaded 2-core machine that alone
// takes most of a second). The script fetches /config.json and, on /portfolio/?id= with a
// stored session that is still fresh (the one Supabase Auth keeps in localStorage), the
// portfolio and its positions with that session's token. The app then takes these answers
// instead of asking again (takeEarlyConfig, takeEarlyRead): the same requests, only sent
// sooner. Each is taken at most once and only shortly after the page loaded; anything else
// (no fresh session, another page, a failure, a 401) goes the ordinary way.

/** How long an early answer may wait to be taken: after that the app asks again. */
export const EARLY_MAX_AGE_MS = 10_000

/** A stored session must stay valid this long to be used by the early script. */
export const EARLY_TOKEN_MARGIN_S = 60

interface Early {
  at: number
  config?: Promise<unknown>
  reads: Record<string, Promise<Response>>
}

declare global {
  interface Window {
    __ptEarly?: Early
  }
}

/**
 * earlyStart runs as an inline script (its source is rendered into the head), so it is
 * self-contained: no imports, no helpers, nothing the compiler would rewrite into a reference
 * to another module. The key is Supabase Auth's storage key (lib/auth.ts: pt-auth-<stage>).
 */
export function earlyStart(maxAgeMs: number, marginS: number): void {
  try {
    const early: Early = { at: Date.now(), reads: {} }
    const config = fetch('/config.json', { cache: 'no-store' }).then((res) => {
      if (!res.ok) throw new Error(`config.json answered ${res.status}`)
      return res.json() as Promise<unknown>
    })
    config.catch(() => {})
    early.config = config
    window.__ptEarly = early
    const id = location.pathname === '/portfolio/' ? new URLSearchParams(location.search).get('id') : null
    if (!id) return
    config
      .then((raw) => {
        const c = raw as { apiUrl?: unknown; stage?: unknown }
        if (typeof c.apiUrl !== 'string' || typeof c.stage !== 'string') return
        const stored = localStorage.getItem(`pt-auth-${c.stage}`)
        const s = stored ? (JSON.parse(stored) as { access_token?: unknown; expires_at?: unknown }) : null
        if (!s || typeof s.access_token !== 'string' || typeof s.expires_at !== 'number') return
        if (s.expires_at - marginS < Date.now() / 1000 || Date.now() - early.at > maxAgeMs) return
        const base = `${c.apiUrl.replace(/\/+$/, '')}/portfolios/${encodeURIComponent(id)}`
        for (const url of [base, `${base}/positions`]) {
          const read = fetch(url, { headers: { Accept: 'application/json', Authorization: `Bearer ${s.access_token}` } })
          read.catch(() => {})
          early.reads[new URL(url).toString()] = read
        }
      })
      .catch(() => {})
  } catch {
    // Early reads are an optimisation: the app does everything itself without them.
  }
}

/** The inline script's source, for the root layout's head. */
export const earlyScript = `(${earlyStart.toString()})(${EARLY_MAX_AGE_MS},${EARLY_TOKEN_MARGIN_S})`

function fresh(): Early | undefined {
  if (typeof window === 'undefined') return undefined
  const early = window.__ptEarly
  if (!early || Date.now() - early.at > EARLY_MAX_AGE_MS) return undefined
  return early
}

/** takeEarlyConfig is the early /config.json (the parsed JSON), once. */
export function takeEarlyConfig(): Promise<unknown> | undefined {
  const early = fresh()
  const config = early?.config
  if (early) early.config = undefined
  return config
}

/** takeEarlyRead is the early answer to a GET of url, once; a failed early fetch is no answer. */
export function takeEarlyRead(url: string): Promise<Response> | undefined {
  const early = fresh()
  if (!early) return undefined
  const key = new URL(url).toString()
  const read = early.reads[key]
  if (!read) return undefined
  delete early.reads[key]
  return read
}

/**
 * earlyFetch is fetch that answers a plain GET with its early answer when there is one (the
 * same request, sent before the app started); a failed early fetch is sent again.
 */
export const earlyFetch: typeof fetch = (input, init) => {
  const method = (init?.method ?? 'GET').toUpperCase()
  if (method === 'GET' && !init?.body && !init?.signal && typeof input === 'string') {
    const read = takeEarlyRead(input)
    if (read) return read.catch(() => fetch(input, init))
  }
  return fetch(input, init)
}
