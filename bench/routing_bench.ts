// Micro-benchmark: BucketRouter.resolve() with 1, 10 and 50 buckets (target ≤ 100 ns at 50).

import { BucketRouter } from "../src/routing/bucket_router.ts";

function routerWith(count: number) {
  const targets = Array.from({ length: count }, (_, i) => ({ pathPrefix: `/bucket-${i}` }));
  // A few two-segment prefixes, as real configs have (/media/images beside /media).
  targets.push({ pathPrefix: "/media" }, { pathPrefix: "/media/images" });
  return new BucketRouter(targets);
}

for (const count of [1, 10, 50]) {
  const router = routerWith(count);
  const path = `/bucket-${count - 1}/photos/2026/11/cat.jpg`;
  Deno.bench({
    name: `resolve, ${count} buckets`,
    group: "routing",
    baseline: count === 1,
    fn() {
      router.resolve(path);
    },
  });
}

const router50 = routerWith(50);
Deno.bench({
  name: "resolve, 50 buckets, two-segment prefix",
  group: "routing",
  fn() {
    router50.resolve("/media/images/2026/11/cat.jpg");
  },
});
Deno.bench({
  name: "resolve, 50 buckets, no match",
  group: "routing",
  fn() {
    router50.resolve("/nothing/here.txt");
  },
});
