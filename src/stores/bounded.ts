// Every store call is bounded (--revocation-timeout): a slow or silent store
// never hangs a connection.
export class StoreTimeoutError extends Error {
  constructor (what: string, ms: number) { super(`${what}: no answer within ${ms} ms`) }
}

export async function bounded<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new StoreTimeoutError(what, ms)), ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
