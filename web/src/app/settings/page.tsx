'use client'

// Settings: the profile, notification preferences, the phone number for SMS, and deleting the
// account.

import { useRouter } from 'next/navigation'
import { useEffect, useState, type FormEvent, type ReactNode } from 'react'
import { useServices } from '@/components/AppProvider'
import { ErrorNote, Loading, Page } from '@/components/Shell'
import { friendlyError } from '@/lib/api'
import { setDisplayLocale } from '@/lib/format'
import type { Channel, Me, NotificationPreferences } from '@/lib/types'
import { useLoad } from '@/lib/useLoad'
import { appStore } from '@/store/store'

export default function SettingsPage() {
  return (
    <Page>
      <h1>Settings</h1>
      <SettingsView />
    </Page>
  )
}

function SettingsView() {
  const { api } = useServices()
  const me = useLoad(() => api.getMe(), [api])
  const [current, setCurrent] = useState<Me | null>(null)
  const shown = current ?? me.data
  // The profile's locale is how every page shows amounts and dates (remembered in this browser).
  const locale = shown?.locale
  useEffect(() => setDisplayLocale(locale), [locale])
  if (me.loading && !shown) return <Loading label="Loading your settings" />
  if (me.error && !shown) return <ErrorNote message={me.error} onRetry={me.reload} />
  if (!shown) return null
  return (
    <>
      <Profile me={shown} onSaved={setCurrent} />
      <Notifications me={shown} onSaved={setCurrent} />
      <Phone me={shown} onSaved={setCurrent} />
      <DeleteAccount />
    </>
  )
}

function useSubmit() {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const run = async (fn: () => Promise<void>, done: string) => {
    setBusy(true)
    setError(null)
    try {
      await fn()
      appStore.getState().pushToast({ tone: 'success', text: done })
    } catch (err) {
      setError(friendlyError(err))
    } finally {
      setBusy(false)
    }
  }
  return { busy, error, run }
}

function FormError({ error }: { error: string | null }) {
  return error ? (
    <p role="alert" className="error">
      {error}
    </p>
  ) : null
}

function Section({ id, title, children }: { id: string; title: string; children: ReactNode }) {
  return (
    <section aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  )
}

function Profile({ me, onSaved }: { me: Me; onSaved: (m: Me) => void }) {
  const { api } = useServices()
  const [displayName, setDisplayName] = useState(me.displayName)
  const [timeZone, setTimeZone] = useState(me.timeZone)
  const [locale, setLocale] = useState(me.locale)
  const [baseCurrency, setBaseCurrency] = useState(me.baseCurrency)
  const { busy, error, run } = useSubmit()
  const submit = (e: FormEvent) => {
    e.preventDefault()
    void run(async () => onSaved(await api.updateMe({ displayName, timeZone, locale, baseCurrency })), 'Profile saved.')
  }
  return (
    <Section id="profile-h" title="Profile">
      <form className="card stack" onSubmit={submit}>
        <p className="muted">Signed in as {me.email}</p>
        <div className="row">
          <label>
            Display name
            <input maxLength={100} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
          </label>
          <label>
            Time zone
            <input value={timeZone} placeholder="Europe/Berlin" onChange={(e) => setTimeZone(e.target.value)} />
          </label>
        </div>
        <div className="row">
          <label>
            Language and region
            <input value={locale} placeholder="en-US" onChange={(e) => setLocale(e.target.value)} />
          </label>
          <label>
            Base currency of new portfolios
            <input value={baseCurrency} maxLength={3} onChange={(e) => setBaseCurrency(e.target.value.toUpperCase())} />
          </label>
        </div>
        <FormError error={error} />
        <div>
          <button type="submit" className="btn-primary" disabled={busy}>
            {busy ? 'Saving…' : 'Save profile'}
          </button>
        </div>
      </form>
    </Section>
  )
}

const CHANNELS: { id: Channel; label: string }[] = [
  { id: 'websocket', label: 'In the app' },
  { id: 'email', label: 'E-mail' },
  { id: 'sms', label: 'SMS' },
]

function Notifications({ me, onSaved }: { me: Me; onSaved: (m: Me) => void }) {
  const { api } = useServices()
  const n = me.notifications ?? {}
  const [channels, setChannels] = useState<Channel[]>(n.channels ?? ['websocket', 'email'])
  const [quiet, setQuiet] = useState(!!n.quietHours)
  const [start, setStart] = useState(n.quietHours?.start ?? '22:00')
  const [end, setEnd] = useState(n.quietHours?.end ?? '07:00')
  const [digest, setDigest] = useState<NonNullable<NotificationPreferences['digest']>>(n.digest ?? 'off')
  const [weekly, setWeekly] = useState(!!n.weeklySummary)
  const { busy, error, run } = useSubmit()
  const toggle = (c: Channel) => setChannels((cs) => (cs.includes(c) ? cs.filter((x) => x !== c) : [...cs, c]))
  const submit = (e: FormEvent) => {
    e.preventDefault()
    const prefs: NotificationPreferences = { ...n, channels, quietHours: quiet ? { start, end } : null, digest, weeklySummary: weekly }
    void run(async () => onSaved(await api.updateMe({ notifications: prefs })), 'Notification preferences saved.')
  }
  return (
    <Section id="notifications-h" title="Notifications">
      <form className="card stack" onSubmit={submit}>
        <fieldset>
          <legend>Send alerts by</legend>
          {CHANNELS.map((c) => (
            <label key={c.id} className="inline">
              <input type="checkbox" checked={channels.includes(c.id)} onChange={() => toggle(c.id)} />
              {c.label}
            </label>
          ))}
        </fieldset>
        <label className="inline">
          <input type="checkbox" checked={quiet} onChange={(e) => setQuiet(e.target.checked)} />
          Quiet hours (e-mail and SMS wait until they end)
        </label>
        {quiet && (
          <div className="row">
            <label>
              Quiet from
              <input type="time" value={start} onChange={(e) => setStart(e.target.value)} />
            </label>
            <label>
              Quiet until
              <input type="time" value={end} onChange={(e) => setEnd(e.target.value)} />
            </label>
          </div>
        )}
        <label>
          Digest
          <select value={digest} onChange={(e) => setDigest(e.target.value as typeof digest)}>
            <option value="off">Send each alert at once</option>
            <option value="daily">One e-mail a day</option>
            <option value="weekly">One e-mail a week</option>
          </select>
        </label>
        <label className="inline">
          <input type="checkbox" checked={weekly} onChange={(e) => setWeekly(e.target.checked)} />
          Weekly summary by e-mail
        </label>
        <FormError error={error} />
        <div>
          <button type="submit" className="btn-primary" disabled={busy}>
            {busy ? 'Saving…' : 'Save preferences'}
          </button>
        </div>
      </form>
    </Section>
  )
}

function Phone({ me, onSaved }: { me: Me; onSaved: (m: Me) => void }) {
  const { api } = useServices()
  const [phone, setPhone] = useState(me.phone ?? '')
  const [sent, setSent] = useState(false)
  const [code, setCode] = useState('')
  const { busy, error, run } = useSubmit()
  const start = (e: FormEvent) => {
    e.preventDefault()
    void run(async () => {
      await api.startPhoneVerification(phone.trim())
      setSent(true)
    }, 'We sent a code to your phone.')
  }
  const verify = (e: FormEvent) => {
    e.preventDefault()
    void run(async () => {
      onSaved(await api.verifyPhone(code.trim()))
      setSent(false)
      setCode('')
    }, 'Phone number verified.')
  }
  return (
    <Section id="phone-h" title="Phone for SMS alerts">
      <div className="card stack">
        <p className="muted">
          {me.phone ? `${me.phone} — ${me.phoneVerified ? 'verified' : 'not verified yet'}` : 'No phone number yet.'}
        </p>
        <form className="row" onSubmit={start}>
          <label>
            Phone number (international, e.g. +14155550100)
            <input type="tel" autoComplete="tel" value={phone} onChange={(e) => setPhone(e.target.value)} required />
          </label>
          <button type="submit" disabled={busy}>
            Send a code
          </button>
        </form>
        {sent && (
          <form className="row" onSubmit={verify}>
            <label>
              Code from the SMS
              <input inputMode="numeric" pattern="[0-9]{6}" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} required />
            </label>
            <button type="submit" className="btn-primary" disabled={busy}>
              Verify
            </button>
          </form>
        )}
        <FormError error={error} />
      </div>
    </Section>
  )
}

function DeleteAccount() {
  const { api, auth } = useServices()
  const router = useRouter()
  const [confirm, setConfirm] = useState('')
  const { busy, error, run } = useSubmit()
  const submit = (e: FormEvent) => {
    e.preventDefault()
    void run(async () => {
      await api.deleteMe()
      await auth.signOut().catch(() => undefined)
      router.replace('/sign-in/')
    }, 'Your account and all its data were deleted.')
  }
  return (
    <Section id="delete-h" title="Delete your account">
      <form className="card stack" onSubmit={submit}>
        <p>This deletes your portfolios, transactions, alerts and sign-in for good. It cannot be undone.</p>
        <label>
          Type DELETE to confirm
          <input value={confirm} onChange={(e) => setConfirm(e.target.value)} autoComplete="off" />
        </label>
        <FormError error={error} />
        <div>
          <button type="submit" className="btn-danger" disabled={busy || confirm !== 'DELETE'}>
            {busy ? 'Deleting…' : 'Delete my account'}
          </button>
        </div>
      </form>
    </Section>
  )
}
