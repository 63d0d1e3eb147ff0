import { describe, expect, it } from 'vitest'
import { loadConfig, parseConfig } from './config'
import { authMessage } from './auth'

const good = { apiUrl: 'http://localhost:3000/', wsUrl: 'ws://localhost:3001/local', supabaseUrl: 'http://localhost:54321', supabaseAnonKey: 'k', stage: 'local' }

describe('config.json', () => {
  it('takes the five keys and drops trailing slashes', () => {
    expect(parseConfig(good)).toEqual({ ...good, apiUrl: 'http://localhost:3000' })
  })
  it('names what is missing', () => {
    expect(() => parseConfig({ ...good, wsUrl: '', supabaseAnonKey: undefined })).toThrow('config.json lacks wsUrl, supabaseAnonKey')
    expect(() => parseConfig(null)).toThrow('not an object')
  })
  it('is fetched once, and again after a failure', async () => {
    let calls = 0
    const failing = (async () => {
      calls++
      return new Response('', { status: 404 })
    }) as unknown as typeof fetch
    await expect(loadConfig(failing)).rejects.toThrow('config.json answered 404')
    const ok = (async () => {
      calls++
      return new Response(JSON.stringify(good))
    }) as unknown as typeof fetch
    await loadConfig(ok)
    await loadConfig(ok)
    expect(calls).toBe(2)
  })
})

describe('authMessage', () => {
  it('says what went wrong in plain words', () => {
    expect(authMessage({ code: 'invalid_credentials', message: 'Invalid login credentials' })).toBe('That e-mail and password do not match an account.')
    expect(authMessage({ code: 'user_already_exists', message: 'User already registered' })).toMatch(/already exists/)
    expect(authMessage({ code: 'weak_password', message: 'Password should be at least 6 characters.' })).toBe('Password should be at least 6 characters.')
    expect(authMessage(null)).toBe('Sign-in failed. Please try again.')
  })
})
