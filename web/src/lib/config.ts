// The runtime configuration: /config.json, written next to the static files at deploy (the
// CDK) or served by the local stack. Nothing stage-specific is baked into the build.

import { takeEarlyConfig } from './early'

export interface AppConfig {
  apiUrl: string
  wsUrl: string
  supabaseUrl: string
  supabaseAnonKey: string
  stage: string
}

const KEYS = ['apiUrl', 'wsUrl', 'supabaseUrl', 'supabaseAnonKey', 'stage'] as const

/** parseConfig checks the file's shape: every key a non-empty string, URLs without a trailing slash. */
export function parseConfig(raw: unknown): AppConfig {
  if (typeof raw !== 'object' || raw === null) throw new Error('config.json is not an object')
  const r = raw as Record<string, unknown>
  const missing = KEYS.filter((k) => typeof r[k] !== 'string' || r[k] === '')
  if (missing.length > 0) throw new Error(`config.json lacks ${missing.join(', ')}`)
  const trim = (s: string) => s.replace(/\/+$/, '')
  return {
    apiUrl: trim(r.apiUrl as string),
    wsUrl: trim(r.wsUrl as string),
    supabaseUrl: trim(r.supabaseUrl as string),
    supabaseAnonKey: r.supabaseAnonKey as string,
    stage: r.stage as string,
  }
}

let loading: Promise<AppConfig> | null = null

/**
 * loadConfig fetches /config.json once per page load; the head's early script (lib/early.ts)
 * has usually fetched it already, while the JavaScript loaded.
 */
export function loadConfig(fetchImpl: typeof fetch = fetch): Promise<AppConfig> {
  loading ??= (
    takeEarlyConfig() ??
    fetchImpl('/config.json', { cache: 'no-store' }).then((res) => {
      if (!res.ok) throw new Error(`config.json answered ${res.status}`)
      return res.json() as Promise<unknown>
    })
  )
    .then(parseConfig)
    .catch((err: unknown) => {
      loading = null
      throw err
    })
  return loading
}
