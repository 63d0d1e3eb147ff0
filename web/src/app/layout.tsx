import type { Metadata, Viewport } from 'next'
import type { ReactNode } from 'react'
import { AppProvider } from '@/components/AppProvider'
import { earlyScript } from '@/lib/early'
import './globals.css'

export const metadata: Metadata = {
  title: 'Portfolio Tracker',
  description: 'Your investments, live.',
}

export const viewport: Viewport = {
  width: 'device-width',
  initialScale: 1,
  colorScheme: 'light dark',
}

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <head>
        {/* Starts /config.json and a portfolio's first reads before the JavaScript has loaded (lib/early.ts). */}
        <script dangerouslySetInnerHTML={{ __html: earlyScript }} />
      </head>
      <body>
        <a href="#main" className="skip">
          Skip to content
        </a>
        <AppProvider>{children}</AppProvider>
      </body>
    </html>
  )
}
