// Supabase Auth: sign up, sign in, token refresh (the client refreshes the session before it
// expires, and getSession refreshes an expired one), sign out. The access token feeds the API
// client and the WebSocket.
//
// The app uses @supabase/auth-js, the Auth client supabase-js wraps as `supabase.auth`, set up
// as supabase-js sets it up (GoTrue under /auth/v1, the anon key as apikey): the app needs
// nothing else of supabase-js (no PostgREST, Realtime or Storage), and those would add about
// 40 KB compressed to every page's first load.

import { GoTrueClient as AuthClient, type Session } from '@supabase/auth-js'
import type { AppConfig } from './config'

export type { Session }
export type Auth = AuthClient

export function createAuth(cfg: AppConfig): AuthClient {
  return new AuthClient({
    url: `${cfg.supabaseUrl}/auth/v1`,
    headers: { apikey: cfg.supabaseAnonKey, Authorization: `Bearer ${cfg.supabaseAnonKey}` },
    storageKey: `pt-auth-${cfg.stage}`,
    persistSession: true,
    autoRefreshToken: true,
    detectSessionInUrl: false,
  })
}

/** accessToken is a current access token (refreshed when needed), or null when signed out. */
export async function accessToken(client: AuthClient): Promise<string | null> {
  const { data, error } = await client.getSession()
  if (error) return null
  return data.session?.access_token ?? null
}

const AUTH_WORDS: [RegExp, string][] = [
  [/invalid login credentials|invalid_grant|invalid_credentials/i, 'That e-mail and password do not match an account.'],
  [/already registered|already exists|user_already_exists/i, 'An account with that e-mail already exists. Sign in instead.'],
  [/email.*(invalid|format)/i, 'Please enter a valid e-mail address.'],
  [/fetch|network/i, 'We cannot reach the sign-in service. Check your connection and try again.'],
]

/** authMessage turns a Supabase Auth error into words a person understands. */
export function authMessage(err: { message?: string; code?: string } | null | undefined): string {
  const text = `${err?.code ?? ''} ${err?.message ?? ''}`
  // The service says how strong a password must be (its own rules): pass that on.
  if (/weak_password/.test(text) && err?.message) return err.message
  for (const [re, words] of AUTH_WORDS) if (re.test(text)) return words
  return err?.message ? err.message : 'Sign-in failed. Please try again.'
}
