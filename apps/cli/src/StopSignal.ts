/**
 * The signal that interrupts this process, for the command it runs: a Ctrl-C is SIGINT and the command gets SIGINT
 * too; anything else gets SIGTERM. Kept apart (no imports) so the entry point loads nothing for it.
 */
let received: "SIGINT" | "SIGTERM" | undefined

/** Record the signal that interrupts this process (the entry point calls it before it interrupts the command). */
export const record = (signal: "SIGINT" | "SIGTERM"): void => {
  received ??= signal
}

/** The signal a command interrupted by ours gets first: SIGINT after a Ctrl-C, else SIGTERM. */
export const signal = (): "SIGINT" | "SIGTERM" => received === "SIGINT" ? "SIGINT" : "SIGTERM"
