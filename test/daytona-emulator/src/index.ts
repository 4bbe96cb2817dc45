/**
 * @org/daytona-emulator: a loopback Daytona API emulator that the unmodified `@daytonaio/sdk` talks to.
 *
 * @since 0.0.0
 */
export { startEmulator } from "./Emulator.js"
export type {
  Emulator,
  EmulatorOptions,
  EmulatorSandbox,
  EmulatorStats,
  FaultConfig,
  FaultKind,
  FaultRule,
  RandomFailureKind,
  RandomFailures,
  RequestRecord,
  RouteStats,
  SandboxDesiredState,
  SandboxState,
  StuckRule
} from "./types.js"
