// Entry point: argv -> CLI; the only place that exits the process.

import { runCli } from "./src/cli/mod.ts";
import { isLogWorker } from "./src/observe/log_worker.ts";

// The one-file bundle is also started as the log thread's worker (src/observe/log_thread.ts):
// there log_worker.ts serves, and the CLI must not run.
if (import.meta.main && !isLogWorker()) {
  Deno.exit(await runCli(Deno.args));
}
