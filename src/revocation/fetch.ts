// HTTP for the revocation sources (a CRL URL, an OCSP responder): Node's own
// fetch, bounded in time and in size (every byte from the network is hostile),
// failing with one line that names the URL.
export interface FetchBoundedOptions {
  readonly timeoutMs: number
  readonly maxBytes: number
  readonly method?: 'GET' | 'POST'
  readonly body?: Uint8Array
  readonly contentType?: string
}

export async function fetchBounded (url: string, o: FetchBoundedOptions): Promise<Buffer> {
  const signal = AbortSignal.timeout(o.timeoutMs)
  let res: Response
  try {
    res = await fetch(url, {
      method: o.method ?? 'GET',
      signal,
      redirect: 'error',
      ...(o.body !== undefined ? { body: new Uint8Array(o.body) as Uint8Array<ArrayBuffer>, headers: { 'content-type': o.contentType ?? 'application/octet-stream' } } : {}),
    })
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } }
    const why = e.name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message)
    throw new Error(`${url}: ${why}`, { cause: err })
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {})
    throw new Error(`${url}: HTTP ${res.status}`)
  }
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (declared > o.maxBytes) {
    await res.body?.cancel().catch(() => {})
    throw new Error(`${url}: ${declared} bytes, more than the ${o.maxBytes} accepted`)
  }
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of res.body ?? []) {
      size += (chunk as Uint8Array).length
      if (size > o.maxBytes) throw new Error(`more than the ${o.maxBytes} bytes accepted`)
      chunks.push(Buffer.from(chunk as Uint8Array))
    }
  } catch (err) {
    const e = err as Error
    await res.body?.cancel().catch(() => {})
    throw new Error(`${url}: ${e.name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : e.message}`, { cause: err })
  }
  return Buffer.concat(chunks)
}
