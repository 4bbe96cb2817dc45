import * as RuntimeWatch from "./dist/RuntimeWatch.js"
import * as Filter from "./dist/Filter.js"
const [root, lease, variant] = process.argv.slice(2)
process.stdout.write(RuntimeWatch.script(root, Filter.make({}), lease, [variant]))
