/**
 * Classified failures. Core's adapter reads `reason` (and `retry_after_ms`) from any thrown error, so the package
 * needs no runtime import from core to report `NotFound`, `Timeout` and the rest.
 */
import type { PromiseErrorReason as ProviderErrorReason } from "@org/sandbox-core/PromiseProvider"

export class TmpdirError extends Error {
  constructor(readonly reason: ProviderErrorReason, message: string) {
    super(message)
    this.name = "TmpdirError"
  }
}

const FS_REASONS: Readonly<Record<string, ProviderErrorReason>> = {
  ENOENT: "NotFound",
  ENOTDIR: "NotFound",
  EACCES: "Unauthorized",
  EPERM: "Unauthorized",
  EEXIST: "Conflict",
  ENOTEMPTY: "Conflict",
  EISDIR: "InvalidState",
  ENOSPC: "QuotaExceeded",
  EDQUOT: "QuotaExceeded"
}

/** Rethrows a Node fs error as a classified one, keeping its message (which names the path). */
export const classify = (e: unknown): never => {
  if (e instanceof TmpdirError) throw e
  const code = (e as NodeJS.ErrnoException | null)?.code
  const reason = (code !== undefined ? FS_REASONS[code] : undefined) ?? "Unknown"
  throw new TmpdirError(reason, e instanceof Error ? e.message : String(e))
}

/** Awaits `f`, classifying what it throws. */
export const guarded = async <A>(f: () => Promise<A>): Promise<A> => {
  try {
    return await f()
  } catch (e) {
    return classify(e)
  }
}
