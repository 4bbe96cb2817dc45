/**
 * Every served route, by plane: the control plane under `/api` and the toolbox under `/toolbox/{sandboxId}`.
 */
import type { App } from "../app.js"
import type { Handler, HttpMethod } from "../http.js"
import { volumeRoutes } from "../volumes.js"
import { accessRoutes, type AccessTokens } from "./access.js"
import { codeRunRoutes } from "./codeRun.js"
import { controlRoutes } from "./control.js"
import { fileRoutes } from "./files.js"
import { gitRoutes } from "./git.js"
import { metricsRoutes } from "./metrics.js"
import { portRoutes } from "./ports.js"
import { processRoutes } from "./process.js"
import { sandboxOpRoutes } from "./sandboxOps.js"
import { searchRoutes } from "./search.js"
import { sessionRoutes } from "./sessions.js"
import { snapshotRoutes } from "./snapshots.js"
import { infoRoutes } from "./toolbox.js"

type Routes = ReadonlyArray<readonly [HttpMethod, string, Handler]>

export const apiRoutes = (app: App, tokens: AccessTokens): Routes => [
  ...controlRoutes(app),
  ...sandboxOpRoutes(app),
  ...accessRoutes(app, tokens),
  ...snapshotRoutes(app),
  ...volumeRoutes(app)
]

export const toolboxRoutes = (app: App): Routes => [
  ...infoRoutes(app),
  ...fileRoutes(app),
  ...searchRoutes(app),
  ...gitRoutes(app),
  ...processRoutes(app),
  ...codeRunRoutes(app),
  ...sessionRoutes(app),
  ...portRoutes(app),
  ...metricsRoutes(app)
]
