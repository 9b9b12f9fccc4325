// Entry point: argv -> CLI; the only place that exits the process.

import { runCli } from "./src/cli/mod.ts";
import { isLogWorker, serveLogWorker } from "./src/observe/log_worker.ts";

if (import.meta.main) {
  // The one-file bundle is also started as the log thread's worker (src/observe/log_thread.ts).
  // Run from source, the worker is log_worker.ts itself, which starts on its own.
  if (isLogWorker()) serveLogWorker();
  else Deno.exit(await runCli(Deno.args));
}
