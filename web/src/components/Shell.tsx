'use client'

// The frame of every signed-in page: the top navigation, the toasts, and a guard that sends a
// signed-out visitor to the sign-in page. Pages render inside it only once the app is ready.

import Link from 'next/link'
import { usePathname, useRouter } from 'next/navigation'
import { useEffect, type ReactNode } from 'react'
import { useBoot } from './AppProvider'
import { ThemeToggle } from './ThemeToggle'
import { Toasts } from './Toasts'
import { useApp } from '@/store/store'

const LINKS = [
  { href: '/portfolios/', label: 'Portfolios' },
  { href: '/alerts/', label: 'Alerts' },
  { href: '/settings/', label: 'Settings' },
]

/** isCurrent: a portfolio's own pages (/portfolio/...) belong to Portfolios. */
function isCurrent(path: string | null, href: string): boolean {
  if (!path) return false
  if (href === '/portfolios/') return path.startsWith('/portfolio')
  return path.startsWith(href.replace(/\/$/, ''))
}

export function TopNav({ signedIn }: { signedIn: boolean }) {
  const path = usePathname()
  const boot = useBoot()
  const router = useRouter()
  const liveStatus = useApp((s) => s.liveStatus)
  const signOut = async () => {
    if (boot.state === 'ready') await boot.services.auth.signOut()
    router.replace('/sign-in/')
  }
  return (
    <header className="topbar">
      <nav aria-label="Main" className="nav">
        <Link href={signedIn ? '/portfolios/' : '/sign-in/'} className="brand">
          Portfolio Tracker
        </Link>
        {signedIn && (
          <ul>
            {LINKS.map((l) => (
              <li key={l.href}>
                <Link href={l.href} aria-current={isCurrent(path, l.href) ? 'page' : undefined}>
                  {l.label}
                </Link>
              </li>
            ))}
          </ul>
        )}
        <div className="nav-tools">
          {signedIn && (
            <span className={`live-dot live-${liveStatus}`} title={`Live prices: ${liveStatus}`}>
              <span className="sr-only">Live prices: {liveStatus}</span>
            </span>
          )}
          <ThemeToggle />
          {signedIn && (
            <button type="button" className="btn-quiet" onClick={signOut}>
              Sign out
            </button>
          )}
        </div>
      </nav>
    </header>
  )
}

/** Page wraps a signed-in page: navigation, toasts, the guard, and the loading state of the boot. */
export function Page({ children }: { children: ReactNode }) {
  const boot = useBoot()
  const router = useRouter()
  const signedOut = boot.state === 'ready' && !boot.session
  useEffect(() => {
    if (signedOut) router.replace('/sign-in/')
  }, [signedOut, router])
  return (
    <>
      <TopNav signedIn={boot.state === 'ready' && !!boot.session} />
      <main className="main" id="main">
        {boot.state === 'error' ? (
          <>
            <h1>Portfolio Tracker</h1>
            <BootError />
          </>
        ) : boot.state === 'loading' || signedOut ? (
          <Loading label="Loading" heading />
        ) : (
          children
        )}
      </main>
      <Toasts />
    </>
  )
}

/**
 * BootError says the app could not start. The cause (a config.json that did not load or
 * parse, a network failure) means nothing to a person; it goes to the console for whoever
 * looks into it.
 */
export function BootError() {
  const boot = useBoot()
  const cause = boot.state === 'error' ? boot.message : ''
  useEffect(() => {
    if (cause) console.error(`the app could not start: ${cause}`)
  }, [cause])
  return (
    <p role="alert" className="error">
      The app could not start: we could not reach the server or load its settings. Check your connection and reload the page.
    </p>
  )
}

export function Loading({ label = 'Loading', heading = false }: { label?: string; heading?: boolean }) {
  return (
    <div className="loading" aria-busy="true">
      {heading ? <h1 className="sr-only">{label}</h1> : null}
      <span className="spinner" aria-hidden="true" /> {label}…
    </div>
  )
}

export function ErrorNote({ message, onRetry }: { message: string; onRetry?: () => void }) {
  return (
    <div role="alert" className="error">
      <p>{message}</p>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  )
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>
}
