// A revocation source: CRLs fetched from URLs (--crl-url, and with --crl-dp the
// CRL Distribution Points of the CA certificates and of each client certificate), read-only, behind
// the RevocationStore port (README "Revocation sources"). Each CRL is verified
// with parseCrl (the same code as `fleetgate crl import`) against the CAs of
// --ca and --cert's chain, kept under <data dir>/crl/ for restarts, fetched
// again every --crl-refresh and before its nextUpdate, and never replaced by an
// older one. Certificates it newly lists are announced as revocation events, so
// their live sessions end at that refresh.
//
// Failure choices (fail closed by default): a CRL not loaded yet (no fetch
// succeeded and no copy on disk) makes every answer unavailable
// (revocation_unavailable: it is not known which CA it covers); a CRL past its
// nextUpdate with no newer one makes answers about certificates under its CA
// unavailable with --crl-stale refuse, or keeps answering from it with use. A
// certificate it lists is revoked either way. A client certificate's own
// distribution point is needed only by the certificates that name it: one that is
// unreachable, stale or does not cover the certificate's issuer makes their
// answers unavailable, not everyone's.
import { X509Certificate } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fgError, isFleetgateError } from '../contract/errors.js'
import type { AuditLogger } from '../audit/index.js'
import { parseCertificate, sha256Hex } from '../identity/index.js'
import { bounded, StoreTimeoutError, type RevocationEvent, type RevocationQuery, type RevocationStatus, type RevocationStore, type RevokedRecord } from '../stores/index.js'
import { crlIsStale, parseCrl, type CrlEntry } from './crl.js'
import { fetchBounded } from './fetch.js'

/** a CRL larger than this is refused (about a million entries) */
export const MAX_CRL_BYTES = 64 * 1024 * 1024
const FETCH_TIMEOUT_MS = 30_000
/** how long open() waits for the first fetch of each URL before the broker starts (failing closed meanwhile) */
const START_WAIT_MS = 5_000
const FIRST_RETRY_MS = 1_000
/** distribution points named by client certificates followed at most (beyond: those certificates' answers are unavailable) */
export const MAX_NAMED_CRLS = 64
const NO_LISTS: readonly CrlList[] = []

export interface CrlSourceOptions {
  readonly urls: readonly string[]
  /**
   * --crl-dp: also the http(s) CRL Distribution Points of the configured CA certificates
   * (needed by every answer, like urls) and of each client certificate (needed by the
   * answers about the certificates that name it; fetched at the first such connect)
   */
  readonly distributionPoints?: boolean
  /** --revocation-timeout: how long a connect waits for the first load of a distribution point it names */
  readonly firstLoadWaitMs?: number
  /** the embedded stores' directory: CRLs are kept in <dataDir>/crl/ */
  readonly dataDir: string
  /** --crl-refresh */
  readonly refreshMs: number
  /** --crl-stale */
  readonly stale: 'refuse' | 'use'
  /** the CA certificates (DER) a CRL may be signed by: --ca and --cert's chain */
  readonly cas: () => readonly Uint8Array[]
  readonly log?: AuditLogger
  readonly now?: () => number
}

interface LoadedCrl {
  readonly der: Buffer
  /** fingerprints of the configured CA certificates that signed it (one, or a re-issued CA's copies) */
  readonly issuers: ReadonlySet<string>
  readonly serials: ReadonlyMap<string, CrlEntry>
  readonly thisUpdate: number
  readonly nextUpdate: number | null
}

/**
 * One CRL URL: its last verified CRL and its refresh timer. `needed`: 'always'
 * (--crl-url, a configured CA's distribution point: every answer needs it) or
 * 'named' (a client certificate's distribution point: the answers about the
 * certificates naming it).
 */
class CrlList {
  current: LoadedCrl | null = null
  /** a 'named' list's first load (its copy on disk, else a fetch), awaited by the connects that name it */
  first: Promise<void> | null = null
  lastError = 'not fetched yet'
  timer: NodeJS.Timeout | null = null
  failures = 0
  /** fetches in a row that failed or brought no CRL within its nextUpdate: the retry backs off on these */
  retries = 0
  constructor (readonly url: string, readonly file: string, readonly needed: 'always' | 'named') {}
}

/** the URLs a certificate's CRL Distribution Points name that can be fetched (http, https) */
function fetchable (urls: readonly string[] | undefined): string[] {
  return (urls ?? []).filter((u) => /^https?:\/\//i.test(u))
}

export class CrlRevocationSource implements RevocationStore {
  readonly kind = 'crl'
  readonly lists: CrlList[] = []
  readonly #byUrl = new Map<string, CrlList>()
  #named = 0
  #capLogged = false
  readonly #dir: string
  readonly #o: CrlSourceOptions
  readonly #listeners: Array<(e: RevocationEvent) => void> = []
  readonly #now: () => number
  #closed = false

  private constructor (opts: CrlSourceOptions) {
    this.#o = opts
    this.#now = opts.now ?? Date.now
    this.#dir = join(opts.dataDir, 'crl')
    const caPoints = opts.distributionPoints ? opts.cas().flatMap((der) => fetchable(parseCertificate(der).crl)) : []
    for (const url of [...opts.urls, ...caPoints]) if (!this.#byUrl.has(url)) this.#add(url, 'always')
  }

  #add (url: string, needed: CrlList['needed']): CrlList {
    const list = new CrlList(url, join(this.#dir, sha256Hex(Buffer.from(url)).slice(0, 32) + '.crl'), needed)
    this.lists.push(list)
    this.#byUrl.set(url, list)
    return list
  }

  /** the lists of the distribution points the query's certificate names, each loaded once (awaited here) */
  async #namedBy (query: RevocationQuery): Promise<readonly CrlList[]> {
    const urls = this.#o.distributionPoints ? fetchable(query.identity?.crl) : []
    if (urls.length === 0) return NO_LISTS
    const out: CrlList[] = []
    for (const url of urls) {
      let list = this.#byUrl.get(url)
      if (list === undefined) {
        if (this.#named >= MAX_NAMED_CRLS) {
          if (!this.#capLogged) this.#o.log?.error({ evt: 'crl.error', url, err: `more than ${MAX_NAMED_CRLS} CRL distribution points named by client certificates: not followed` }, 'CRL distribution point not followed')
          this.#capLogged = true
          throw new Error(`CRL distribution point ${url} not followed: more than ${MAX_NAMED_CRLS} are in use`)
        }
        this.#named++
        list = this.#add(url, 'named')
        const l = list
        l.first = (async () => {
          await this.#loadFromDisk(l)
          // a copy on disk answers at once; the fetch then runs behind it
          if (l.current !== null && !this.#isStale(l.current)) void this.refresh(l)
          else await this.refresh(l)
        })()
      }
      out.push(list)
    }
    const loading = out.filter((l) => l.current === null && l.first !== null)
    if (loading.length > 0) {
      // past the wait the fetch goes on; this connect fails closed
      await bounded(Promise.all(loading.map((l) => l.first)), this.#o.firstLoadWaitMs ?? 1000, 'CRL distribution point')
        .catch((err: unknown) => { throw err instanceof StoreTimeoutError ? new Error(`CRL ${loading[0]!.url} not loaded yet (fetching)`) : err })
    }
    return out
  }

  /**
   * Load each URL's copy on disk, then fetch each (waiting a few seconds at
   * most). A CRL that was fetched but that no configured CA signed, or that is
   * not a CRL, stops the start (FG_ERR_CRL_SIGNATURE, FG_ERR_CRL_INVALID): it is
   * a configuration mistake. An unreachable URL is not: the source fails closed
   * until a fetch succeeds.
   */
  static async open (opts: CrlSourceOptions): Promise<CrlRevocationSource> {
    const source = new CrlRevocationSource(opts)
    await mkdir(join(opts.dataDir, 'crl'), { recursive: true })
    for (const list of source.lists) await source.#loadFromDisk(list)
    if (source.lists.length > 0) opts.log?.info({ evt: 'crl.sources', urls: source.lists.map((l) => l.url) }, 'CRL sources')
    // with no copy on disk, a first fetch that is not a CRL or that no configured CA signed is a configuration mistake
    const fresh = new Set(source.lists.filter((l) => l.current === null))
    const outcomes = await Promise.all(source.lists.map(async (list) => await Promise.race([source.refresh(list, fresh.has(list)), startWait()])))
    const mistake = outcomes.find((o, i) => fresh.has(source.lists[i]!) && isFleetgateError(o))
    if (mistake !== undefined) { await source.close(); throw mistake }
    return source
  }

  async #loadFromDisk (list: CrlList): Promise<void> {
    let der: Buffer
    try { der = await readFile(list.file) } catch { return }
    try {
      list.current = this.#verify(der, list.url)
      this.#o.log?.info({ evt: 'crl.loaded', url: list.url, from: 'disk', entries: list.current.serials.size, nextUpdate: iso(list.current.nextUpdate) }, 'CRL loaded from its copy on disk')
    } catch (err) {
      this.#o.log?.warn({ evt: 'crl.error', url: list.url, err: (err as Error).message }, 'the copy of the CRL on disk is not used')
    }
  }

  /** parseCrl against each configured CA whose key verifies it; FG_ERR_CRL_* when none does */
  #verify (data: Buffer, url: string): LoadedCrl {
    const issuers = new Set<string>()
    let parsed: ReturnType<typeof parseCrl> | undefined
    let invalid: unknown
    for (const der of this.#o.cas()) {
      const ca = new X509Certificate(der)
      if (!ca.ca) continue
      try {
        const p = parseCrl(data, ca.toString(), url, `CA ${ca.subject.replace(/\n/g, ', ')}`)
        parsed ??= p
        issuers.add(p.issuerFingerprint)
      } catch (err) {
        if (isFleetgateError(err) && err.code === 'FG_ERR_CRL_INVALID') { invalid = err; break }
      }
    }
    if (invalid !== undefined) throw invalid
    if (parsed === undefined) throw fgError('FG_ERR_CRL_SIGNATURE', `${url}: not signed by a CA of --ca or of --cert's chain`)
    return {
      der: data,
      issuers,
      serials: new Map(parsed.entries.map((e) => [e.serial, e])),
      thisUpdate: Date.parse(parsed.thisUpdate),
      nextUpdate: parsed.nextUpdate === null ? null : Date.parse(parsed.nextUpdate),
    }
  }

  /**
   * Fetch one URL now: verify, keep it unless it is older than the one held,
   * announce what it newly lists, save it to disk, schedule the next fetch.
   * Resolves with the error when it failed (also logged, unless `starting`: a
   * configuration mistake the caller reports), else null.
   */
  async refresh (list: CrlList, starting = false): Promise<Error | null> {
    if (this.#closed) return null
    if (list.timer) { clearTimeout(list.timer); list.timer = null }
    let error: Error | null = null
    try {
      const data = await fetchBounded(list.url, { timeoutMs: FETCH_TIMEOUT_MS, maxBytes: MAX_CRL_BYTES })
      if (this.#closed) return null
      const held = list.current
      if (held === null || !held.der.equals(data)) {
        const loaded = this.#verify(data, list.url)
        if (held !== null && loaded.thisUpdate < held.thisUpdate) {
          throw new Error(`${list.url}: thisUpdate ${iso(loaded.thisUpdate)} is older than the CRL held (${iso(held.thisUpdate)}): kept the newer one`)
        }
        list.current = loaded
        this.#announce(held, loaded)
        await saveAtomically(list.file, data).catch((err: Error) => this.#o.log?.warn({ evt: 'crl.error', url: list.url, err: err.message }, 'CRL not saved to disk'))
        this.#o.log?.info({ evt: 'crl.loaded', url: list.url, from: 'url', entries: loaded.serials.size, thisUpdate: iso(loaded.thisUpdate), nextUpdate: iso(loaded.nextUpdate) }, 'CRL fetched and verified')
      }
      list.failures = 0
      list.lastError = ''
    } catch (err) {
      error = err as Error
      list.failures++
      list.lastError = error.message
      // at start, a CRL that is not one or that no configured CA signed is the caller's to report
      if (!(starting && isFleetgateError(err))) {
        this.#o.log?.error({ evt: 'crl.error', url: list.url, err: error.message, failures: list.failures, stale: list.current !== null && this.#isStale(list.current) }, 'CRL not refreshed')
      }
    }
    this.#schedule(list)
    return error
  }

  #schedule (list: CrlList): void {
    if (this.#closed) return
    const now = this.#now()
    let delay = this.#o.refreshMs
    const c = list.current
    list.retries = list.failures > 0 || c === null || this.#isStale(c) ? list.retries + 1 : 0
    if (list.retries > 0) delay = Math.min(this.#o.refreshMs, FIRST_RETRY_MS * 2 ** Math.min(list.retries - 1, 16))
    else if (c?.nextUpdate != null) {
      // before nextUpdate: a tenth of its window (at least a minute) ahead of it
      const ahead = Math.max(60_000, (c.nextUpdate - c.thisUpdate) / 10)
      delay = Math.min(delay, Math.max(FIRST_RETRY_MS, c.nextUpdate - ahead - now))
    }
    list.timer = setTimeout(() => { void this.refresh(list) }, delay)
    list.timer.unref()
  }

  /** revocation events for what the new CRL lists and the held one did not */
  #announce (held: LoadedCrl | null, loaded: LoadedCrl): void {
    if (this.#listeners.length === 0) return
    for (const serial of loaded.serials.keys()) {
      for (const issuer of loaded.issuers) {
        if (held?.issuers.has(issuer) && held.serials.has(serial)) continue
        const e: RevocationEvent = { kind: 'revoked', target: { issuer, serial } }
        for (const l of this.#listeners) l(e)
      }
    }
  }

  #isStale (c: LoadedCrl): boolean {
    return crlIsStale({ nextUpdate: iso(c.nextUpdate) }, new Date(this.#now()))
  }

  healthy (): boolean {
    return !this.#closed && this.lists.every((l) => l.needed === 'named' || (l.current !== null && (this.#o.stale === 'use' || !this.#isStale(l.current))))
  }

  async status (query: RevocationQuery): Promise<RevocationStatus> {
    let unavailable: string | null = null
    const named = await this.#namedBy(query)
    for (const list of this.lists) {
      const isNamed = named.includes(list)
      if (list.needed === 'named' && !isNamed) continue
      const c = list.current
      if (c === null) { unavailable ??= `CRL ${list.url} not loaded (${list.lastError})`; continue }
      let covered = false
      for (const t of query.targets) {
        if (!('issuer' in t) || !c.issuers.has(t.issuer)) continue
        covered = true
        const entry = c.serials.get(t.serial)
        if (entry) return { revoked: { issuer: t.issuer, serial: t.serial, reason: entry.reason, revokedAt: entry.revokedAt } }
      }
      // the certificate names this CRL as where its status is: it must cover its issuer
      if (isNamed && !c.issuers.has(query.identity?.issuerFingerprint ?? '')) unavailable ??= `CRL ${list.url}, a distribution point of the certificate, is not signed by its issuing CA`
      else if ((covered || isNamed) && this.#o.stale === 'refuse' && this.#isStale(c)) unavailable ??= `CRL ${list.url} stale: nextUpdate ${iso(c.nextUpdate)} passed${list.lastError ? ` (${list.lastError})` : ''}`
    }
    if (unavailable !== null) throw new Error(unavailable)
    return { revoked: null }
  }

  async revoke (): Promise<number> { throw fgError('FG_ERR_CONFIG_INVALID', 'a CRL source is read-only: revoke in the revocation store') }
  async revokeMany (): Promise<number> { throw fgError('FG_ERR_CONFIG_INVALID', 'a CRL source is read-only: revoke in the revocation store') }

  async list (): Promise<RevokedRecord[]> {
    const out: RevokedRecord[] = []
    for (const l of this.lists) {
      for (const issuer of l.current?.issuers ?? []) {
        for (const e of l.current!.serials.values()) out.push({ issuer, serial: e.serial, reason: e.reason, revokedAt: e.revokedAt })
      }
    }
    return out
  }

  async watch (onEvent: (event: RevocationEvent) => void): Promise<void> {
    if (!this.#closed) this.#listeners.push(onEvent)
  }

  async close (): Promise<void> {
    this.#closed = true
    for (const l of this.lists) if (l.timer) { clearTimeout(l.timer); l.timer = null }
    this.#listeners.length = 0
  }
}

function startWait (): Promise<'waiting'> {
  return new Promise((resolve) => setTimeout(() => resolve('waiting'), START_WAIT_MS).unref())
}

function iso (ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}

async function saveAtomically (file: string, data: Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, data, { mode: 0o644 })
  await rename(tmp, file)
}
