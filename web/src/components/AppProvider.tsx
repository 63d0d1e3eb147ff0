'use client'

// Boots the app once per page load: /config.json, then Supabase Auth (the session), the API
// client and the WebSocket, all shared through one context. The WebSocket runs while signed
// in and feeds the store.

import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react'
import { ApiClient } from '@/lib/api'
import { accessToken, createAuth, type Auth, type Session } from '@/lib/auth'
import { loadConfig, type AppConfig } from '@/lib/config'
import { earlyFetch } from '@/lib/early'
import { LiveSocket } from '@/lib/ws'
import { appStore } from '@/store/store'

export interface AppServices {
  config: AppConfig
  auth: Auth
  api: ApiClient
  live: LiveSocket
}

type Boot =
  | { state: 'loading' }
  | { state: 'error'; message: string }
  | { state: 'ready'; services: AppServices; session: Session | null }

const Ctx = createContext<Boot>({ state: 'loading' })

export function useBoot(): Boot {
  return useContext(Ctx)
}

/** useServices is the services of a ready app (pages render it only when ready). */
export function useServices(): AppServices & { session: Session | null } {
  const b = useContext(Ctx)
  if (b.state !== 'ready') throw new Error('the app is not ready')
  return { ...b.services, session: b.session }
}

let booted: Promise<AppServices> | null = null

function boot(): Promise<AppServices> {
  booted ??= loadConfig().then((config) => {
    const auth = createAuth(config)
    const token = () => accessToken(auth)
    const api = new ApiClient(config.apiUrl, token, earlyFetch, async () => {
      // A 401 with a session: refresh it; when that fails the session is over, and signing
      // out sends every page to the sign-in page.
      const { data, error } = await auth.refreshSession()
      if (error || !data.session) {
        await auth.signOut({ scope: 'local' })
        return false
      }
      return true
    })
    const live = new LiveSocket({
      url: config.wsUrl,
      token,
      onMessage: (m) => appStore.getState().applyMessage(m),
      onStatus: (s) => appStore.getState().setLiveStatus(s),
    })
    return { config, auth, api, live }
  })
  booted.catch(() => {
    booted = null
  })
  return booted
}

export function AppProvider({ children }: { children: ReactNode }) {
  const [services, setServices] = useState<AppServices | null>(null)
  const [session, setSession] = useState<Session | null | undefined>(undefined)
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    let cancelled = false
    let unsubscribe: (() => void) | undefined
    boot()
      .then(async (s) => {
        if (cancelled) return
        const { data } = await s.auth.getSession()
        if (cancelled) return
        setServices(s)
        setSession(data.session)
        const sub = s.auth.onAuthStateChange((_event, next) => setSession(next))
        unsubscribe = () => sub.data.subscription.unsubscribe()
      })
      .catch((e: unknown) => {
        if (!cancelled) setError(e instanceof Error ? e.message : String(e))
      })
    return () => {
      cancelled = true
      unsubscribe?.()
    }
  }, [])

  const signedIn = !!session
  useEffect(() => {
    if (!services) return
    if (signedIn) {
      services.live.start()
      return () => services.live.stop()
    }
    appStore.getState().reset()
    return undefined
  }, [services, signedIn])

  const value = useMemo<Boot>(() => {
    if (error) return { state: 'error', message: error }
    if (!services || session === undefined) return { state: 'loading' }
    return { state: 'ready', services, session }
  }, [services, session, error])

  return <Ctx.Provider value={value}>{children}</Ctx.Provider>
}
