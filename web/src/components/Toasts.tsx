'use client'

// The toast region: a polite live region announcing alerts pushed on the WebSocket and the
// outcome of commands. Each toast leaves after a while or when dismissed.

import { useEffect } from 'react'
import { useApp, type Toast } from '@/store/store'

const TTL_MS = 8000

function ToastItem({ t }: { t: Toast }) {
  const dismiss = useApp((s) => s.dismissToast)
  useEffect(() => {
    const h = setTimeout(() => dismiss(t.id), t.tone === 'alert' ? TTL_MS * 2 : TTL_MS)
    return () => clearTimeout(h)
  }, [t.id, t.tone, dismiss])
  return (
    <div className={`toast toast-${t.tone}`} data-testid="toast">
      <span>{t.text}</span>
      <button type="button" className="btn-quiet" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
        ×
      </button>
    </div>
  )
}

export function Toasts() {
  const toasts = useApp((s) => s.toasts)
  return (
    <div className="toasts" role="status" aria-live="polite">
      {toasts.map((t) => (
        <ToastItem key={t.id} t={t} />
      ))}
    </div>
  )
}
