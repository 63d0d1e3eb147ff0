// Supabase Auth through supabase-js: sign up, sign in, token refresh (supabase-js refreshes the
// session before it expires, and getSession refreshes an expired one), sign out. The access
// token feeds the API client and the WebSocket.

import { createClient, type Session, type SupabaseClient } from '@supabase/supabase-js'
import type { AppConfig } from './config'

export type { Session }

export function createAuth(cfg: AppConfig): SupabaseClient {
  return createClient(cfg.supabaseUrl, cfg.supabaseAnonKey, {
    auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: false, storageKey: `pt-auth-${cfg.stage}` },
  })
}

/** accessToken is a current access token (refreshed when needed), or null when signed out. */
export async function accessToken(client: SupabaseClient): Promise<string | null> {
  const { data, error } = await client.auth.getSession()
  if (error) return null
  return data.session?.access_token ?? null
}

const AUTH_WORDS: [RegExp, string][] = [
  [/invalid login credentials|invalid_grant|invalid_credentials/i, 'That e-mail and password do not match an account.'],
  [/already registered|already exists|user_already_exists/i, 'An account with that e-mail already exists. Sign in instead.'],
  [/password.*(short|least|weak)/i, 'Please choose a longer password (at least 8 characters).'],
  [/email.*(invalid|format)/i, 'Please enter a valid e-mail address.'],
  [/fetch|network/i, 'We cannot reach the sign-in service. Check your connection and try again.'],
]

/** authMessage turns a Supabase Auth error into words a person understands. */
export function authMessage(err: { message?: string; code?: string } | null | undefined): string {
  const text = `${err?.code ?? ''} ${err?.message ?? ''}`
  for (const [re, words] of AUTH_WORDS) if (re.test(text)) return words
  return err?.message ? err.message : 'Sign-in failed. Please try again.'
}
