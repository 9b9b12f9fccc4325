// Owns `eventually`: polling for a condition that background work (cache writes, pub/sub) makes true.

import assert from "node:assert/strict";

/** Polls `check` every `intervalMs` until it holds; fails the test naming `what` after `ms`. */
export async function eventually(
  check: () => Promise<boolean>,
  what: string,
  ms = 5000,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  assert.fail(`timed out waiting for ${what}`);
}
