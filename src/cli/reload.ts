// Owns reloading from the config file: one reload at a time (later requests coalesce), and `serve --watch`.

import type { App } from "../app.ts";
import { loadConfigFile } from "../config/load.ts";
import type { ReloadOutcome } from "../config/reload.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../observe/log.ts";

export interface ConfigReloader {
  /** Reads the file (the same validation as start-up) and reloads; `trigger` goes to the log. */
  reload(trigger: string): Promise<ReloadOutcome>;
}

/**
 * One reload runs at a time. A request arriving while one runs waits for it and then starts one
 * more, which reads the file afresh (the running one may have read it before the latest edit);
 * every request arriving meanwhile shares that next reload. So a burst of SIGHUPs or admin calls
 * costs at most two reloads, and the last one always sees the latest file.
 */
export function createConfigReloader(path: string, app: () => App): ConfigReloader {
  let running: Promise<ReloadOutcome> | undefined;
  let queued: Promise<ReloadOutcome> | undefined;

  function start(trigger: string): Promise<ReloadOutcome> {
    const run = loadConfigFile(path).then((result) =>
      app().reload(result, { source: path, trigger })
    );
    running = run;
    run.finally(() => {
      if (running === run) running = undefined;
    }).catch(() => {});
    return run;
  }

  return {
    reload(trigger) {
      if (queued !== undefined) return queued;
      if (running === undefined) return start(trigger);
      const next = running.catch(() => {}).then(() => {
        queued = undefined;
        return start(trigger);
      });
      queued = next;
      return next;
    },
  };
}

export interface ConfigWatcher {
  close(): void;
}

/** Quiet time after the last file event before the file is read (editors write in steps). */
export const WATCH_DEBOUNCE_MS = 200;

/**
 * Calls `onChange` when the config file's content changes. The directory is watched, not the
 * file: editors and Kubernetes ConfigMaps replace a file by renaming another over it, and a watch
 * on the old file would never fire again. Any event in the directory (debounced) re-reads the
 * file; only a content change (or the file vanishing) counts, so unrelated files and touches do
 * not reload.
 */
export async function watchConfigFile(
  path: string,
  onChange: () => void,
  options: { logger: Logger; debounceMs?: number },
): Promise<ConfigWatcher> {
  const debounceMs = options.debounceMs ?? WATCH_DEBOUNCE_MS;
  const absolute = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const dir = absolute.slice(0, absolute.lastIndexOf("/")) || "/";
  let last: string | undefined = await readOrUndefined(absolute);
  const watcher = Deno.watchFs(dir, { recursive: false });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const check = async () => {
    timer = undefined;
    const text = await readOrUndefined(absolute);
    if (closed || text === last) return;
    last = text;
    onChange();
  };

  (async () => {
    try {
      for await (const _event of watcher) {
        if (timer !== undefined) clearTimeout(timer);
        timer = setTimeout(() => void check(), debounceMs);
      }
    } catch (error) {
      if (!closed) {
        options.logger.error("watching the config file stopped", {
          path: absolute,
          error: errorMessage(error),
        });
      }
    }
  })();

  return {
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      try {
        watcher.close();
      } catch {
        // Already closed (the watch loop ended on an error).
      }
    },
  };
}

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}
