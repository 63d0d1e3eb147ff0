'use client'

// The sign-in and sign-up form (Supabase Auth, e-mail and password).

import Link from 'next/link'
import { useRouter } from 'next/navigation'
import { useEffect, useState, type FormEvent } from 'react'
import { authMessage } from '@/lib/auth'
import { useBoot } from './AppProvider'
import { BootError, Loading, TopNav } from './Shell'

export function AuthForm({ mode }: { mode: 'sign-in' | 'sign-up' }) {
  const boot = useBoot()
  const router = useRouter()
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [info, setInfo] = useState<string | null>(null)
  const signedIn = boot.state === 'ready' && !!boot.session
  useEffect(() => {
    if (signedIn) router.replace('/portfolios/')
  }, [signedIn, router])

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    if (boot.state !== 'ready') return
    setBusy(true)
    setError(null)
    setInfo(null)
    const auth = boot.services.auth
    const res = mode === 'sign-in' ? await auth.signInWithPassword({ email, password }) : await auth.signUp({ email, password })
    setBusy(false)
    if (res.error) {
      setError(authMessage(res.error))
      return
    }
    if (!res.data.session) {
      setInfo('Check your e-mail to confirm your account, then sign in.')
      return
    }
    router.replace('/portfolios/')
  }

  const title = mode === 'sign-in' ? 'Sign in' : 'Create your account'
  return (
    <>
      <TopNav signedIn={false} />
      <main className="main narrow" id="main">
        <h1>{title}</h1>
        {boot.state === 'loading' ? (
          <Loading />
        ) : boot.state === 'error' ? (
          <BootError />
        ) : (
          <form onSubmit={submit} className="card stack">
            <label>
              E-mail
              <input type="email" name="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
            </label>
            <label>
              Password
              <input
                type="password"
                name="password"
                autoComplete={mode === 'sign-in' ? 'current-password' : 'new-password'}
                required
                minLength={mode === 'sign-up' ? 6 : undefined}
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            </label>
            {error && (
              <p role="alert" className="error">
                {error}
              </p>
            )}
            {info && <p role="status">{info}</p>}
            <button type="submit" className="btn-primary" disabled={busy}>
              {busy ? 'Please wait…' : mode === 'sign-in' ? 'Sign in' : 'Sign up'}
            </button>
            <p className="muted">
              {mode === 'sign-in' ? (
                <>
                  New here? <Link href="/sign-up/">Create an account</Link>
                </>
              ) : (
                <>
                  Already have an account? <Link href="/sign-in/">Sign in</Link>
                </>
              )}
            </p>
          </form>
        )}
      </main>
    </>
  )
}
