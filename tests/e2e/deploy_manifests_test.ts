// Deployment files checked with what runs here: the Helm chart linted and rendered by a real helm, every Kubernetes object validated against the API schemas and our rules (probes, ports, ConfigMap, non-root), the configs by validate-config, the Dockerfile, compose file and systemd unit structurally (and the unit by systemd-analyze).

import assert from "node:assert/strict";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { runCli } from "../support/cli_process.ts";
import { helmBinary } from "../support/helm.ts";
import { schemaProblem } from "../support/k8s_schema.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CHART = `${ROOT}deploy/helm/yatagarasu`;
const decoder = new TextDecoder();

// Parsed YAML walked by field names the checks spell out; a missing field fails the assertion that reads it.
// deno-lint-ignore no-explicit-any
type Obj = Record<string, any>;

function yamlDocuments(text: string, where: string): Obj[] {
  const docs = parseAllDocuments(text);
  const out: Obj[] = [];
  for (const doc of docs) {
    assert.deepEqual(doc.errors.map(String), [], `${where}: YAML errors`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) out.push(value as Obj);
  }
  return out;
}

async function helm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(await helmBinary(), {
    args,
    cwd: ROOT,
    env: { HELM_CACHE_HOME: "/tmp/helm-cache", HELM_CONFIG_HOME: "/tmp/helm-config" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** The gateway config a ConfigMap carries must pass the gateway's own validate-config. */
async function assertConfigValid(configYaml: string, env: Record<string, string>, where: string) {
  const dir = await Deno.makeTempDir({ prefix: "yatagarasu-deploy-" });
  try {
    await Deno.writeTextFile(`${dir}/config.yaml`, configYaml);
    const result = await runCli(["validate-config", `${dir}/config.yaml`], env);
    assert.equal(result.code, 0, `${where}: ${result.stdout}${result.stderr}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Our rules for a rendered set of objects: every object passes its API schema; the Deployment's
 * container serves http 8080 and metrics 9090, probes /health (liveness, startup) and /ready
 * (readiness), mounts the ConfigMap as a directory at /etc/yatagarasu, runs with --watch unless
 * told otherwise, and runs as non-root with no privilege escalation; the Service exposes both ports.
 */
async function checkObjects(objects: Obj[], where: string, options: { watch?: boolean } = {}) {
  for (const object of objects) {
    assert.ok(object.apiVersion && object.kind && object.metadata?.name, `${where}: header`);
    if (object.apiVersion === "monitoring.coreos.com/v1") continue; // CRD: no core schema
    assert.equal(schemaProblem(object), undefined, where);
  }
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const [deployment] = byKind("Deployment");
  assert.ok(deployment, `${where}: a Deployment`);
  assert.equal(byKind("Deployment").length, 1);
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers;
  const ports = Object.fromEntries(
    container.ports.map((p: Obj) => [p.name, p.containerPort]),
  );
  assert.deepEqual(ports, { http: 8080, metrics: 9090 }, `${where}: container ports`);
  assert.deepEqual(container.livenessProbe.httpGet, { path: "/health", port: "http" });
  assert.deepEqual(container.startupProbe.httpGet, { path: "/health", port: "http" });
  assert.deepEqual(container.readinessProbe.httpGet, { path: "/ready", port: "http" });
  assert.equal(container.args.includes("--watch"), options.watch ?? true, `${where}: --watch`);
  assert.deepEqual(container.args.slice(0, 3), [
    "serve",
    "--config",
    "/etc/yatagarasu/config.yaml",
  ]);

  const mount = container.volumeMounts.find((m: Obj) => m.mountPath === "/etc/yatagarasu");
  assert.ok(mount, `${where}: config mounted at /etc/yatagarasu`);
  assert.equal(mount.subPath, undefined, `${where}: a subPath mount never sees ConfigMap updates`);
  const volume = pod.volumes.find((v: Obj) => v.name === mount.name);
  const configMaps = byKind("ConfigMap");
  assert.ok(
    configMaps.some((c) => c.metadata.name === volume?.configMap?.name),
    `${where}: the mounted volume is the ConfigMap`,
  );
  for (const path of ["/tmp", "/var/cache/yatagarasu"]) {
    assert.ok(container.volumeMounts.some((m: Obj) => m.mountPath === path), `${where}: ${path}`);
  }

  assert.equal(pod.securityContext.runAsNonRoot, true, `${where}: runAsNonRoot`);
  assert.ok(pod.securityContext.runAsUser > 0, `${where}: runAsUser is not root`);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"]);
  assert.ok(pod.terminationGracePeriodSeconds > 30, "longer than the default shutdown_timeout");

  const [service] = byKind("Service");
  assert.ok(service, `${where}: a Service`);
  const servicePorts = Object.fromEntries(
    service.spec.ports.map((p: Obj) => [p.name, [p.port, p.targetPort]]),
  );
  assert.deepEqual(servicePorts.metrics, [9090, "metrics"]);
  assert.equal(servicePorts.http?.[1], "http");
  const selector = service.spec.selector;
  for (const [key, value] of Object.entries(selector)) {
    assert.equal(deployment.spec.template.metadata.labels[key], value, `${where}: selector`);
  }

  const configMap = configMaps[0];
  assert.ok(configMap, `${where}: a ConfigMap`);
  const config = parseYaml(configMap.data["config.yaml"]) as Obj;
  assert.equal(config.server.port, 8080);
  assert.equal(config.metrics.port, 9090);
  await assertConfigValid(
    configMap.data["config.yaml"],
    { S3_ACCESS_KEY: "k", S3_SECRET_KEY: "s" },
    `${where}: ConfigMap config.yaml`,
  );
}

Deno.test("helm: the chart lints (strict) and renders objects that pass the schemas and our rules", async () => {
  const lint = await helm(["lint", "--strict", CHART]);
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  assert.match(lint.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);

  const rendered = await helm(["template", "edge", CHART]);
  assert.equal(rendered.code, 0, rendered.stderr);
  const objects = yamlDocuments(rendered.stdout, "helm template");
  assert.deepEqual(
    objects.map((o) => o.kind).sort(),
    ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service"],
  );
  await checkObjects(objects, "helm template (defaults)");
  const deployment = objects.find((o) => o.kind === "Deployment")!;
  assert.equal(
    deployment.spec.template.spec.containers[0].image,
    "ghcr.io/example/yatagarasu:0.1.0",
  );
  assert.equal(deployment.spec.template.metadata.annotations["checksum/config"], undefined);
  assert.equal(deployment.spec.template.metadata.annotations["prometheus.io/port"], "9090");
});

Deno.test("helm: configReload=restart rolls pods by checksum; ServiceMonitor, secrets and env render", async () => {
  const rendered = await helm([
    "template",
    "edge",
    CHART,
    "--set",
    "configReload=restart",
    "--set",
    "metrics.serviceMonitor.enabled=true",
    "--set",
    "envFromSecret=s3-keys",
    "--set",
    "env.TZ=UTC",
  ]);
  assert.equal(rendered.code, 0, rendered.stderr);
  const objects = yamlDocuments(rendered.stdout, "helm template (restart)");
  await checkObjects(objects, "helm template (restart)", { watch: false });
  const deployment = objects.find((o) => o.kind === "Deployment")!;
  assert.match(deployment.spec.template.metadata.annotations["checksum/config"], /^[0-9a-f]{64}$/);
  const container = deployment.spec.template.spec.containers[0];
  assert.deepEqual(container.envFrom, [{ secretRef: { name: "s3-keys" } }]);
  assert.deepEqual(container.env, [{ name: "TZ", value: "UTC" }]);
  const monitor = objects.find((o) => o.kind === "ServiceMonitor")!;
  assert.deepEqual(monitor.spec.endpoints, [{
    port: "metrics",
    path: "/metrics",
    interval: "30s",
  }]);
});

Deno.test("helm: values.schema.json and the template refuse bad values with a clear message", async () => {
  const badReload = await helm(["template", "edge", CHART, "--set", "configReload=sometimes"]);
  assert.notEqual(badReload.code, 0);
  assert.match(badReload.stderr, /configReload/);
  const badPort = await helm(["template", "edge", CHART, "--set", "service.port=0"]);
  assert.notEqual(badPort.code, 0);
  assert.match(badPort.stderr, /service\.port|port/);
  const mismatch = await helm(["template", "edge", CHART, "--set", "metrics.port=9191"]);
  assert.notEqual(mismatch.code, 0);
  assert.match(mismatch.stderr, /config\.metrics\.port \(9090\) must equal metrics\.port \(9191\)/);
});

Deno.test("k8s: every manifest parses, passes its API schema and our rules; kustomization lists them all", async () => {
  const dir = `${ROOT}deploy/k8s`;
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".yaml"))
    .sort();
  const kustomization = parseYaml(await Deno.readTextFile(`${dir}/kustomization.yaml`)) as Obj;
  assert.deepEqual(
    [...kustomization.resources].sort(),
    files.filter((f) => f !== "kustomization.yaml"),
  );
  const objects: Obj[] = [];
  for (const file of kustomization.resources as string[]) {
    objects.push(...yamlDocuments(await Deno.readTextFile(`${dir}/${file}`), file));
  }
  await checkObjects(objects, "deploy/k8s");
  const secret = objects.find((o) => o.kind === "Secret")!;
  const deployment = objects.find((o) => o.kind === "Deployment")!;
  assert.deepEqual(deployment.spec.template.spec.containers[0].envFrom, [
    { secretRef: { name: secret.metadata.name } },
  ]);
  assert.deepEqual(Object.keys(secret.stringData).sort(), ["S3_ACCESS_KEY", "S3_SECRET_KEY"]);
});

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function dockerInstructions(text: string): { op: string; args: string }[] {
  const joined = text.replace(/\\\n/g, " ");
  return joined.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(" ") };
    });
}

Deno.test("Dockerfile: multi-stage, non-root runtime, HEALTHCHECK on /health, ports 8080 and 9090", async () => {
  const instructions = dockerInstructions(await Deno.readTextFile(`${ROOT}Dockerfile`));
  const known = new Set([
    "ARG",
    "FROM",
    "WORKDIR",
    "ENV",
    "COPY",
    "RUN",
    "USER",
    "EXPOSE",
    "HEALTHCHECK",
    "ENTRYPOINT",
    "CMD",
    "LABEL",
  ]);
  for (const { op } of instructions) assert.ok(known.has(op), `unknown instruction ${op}`);
  const froms = instructions.filter((i) => i.op === "FROM");
  assert.ok(froms.length >= 2, "multi-stage");
  assert.match(froms[0]!.args, / AS build$/i);
  const lastFrom = instructions.lastIndexOf(froms.at(-1)!);
  const runtime = instructions.slice(lastFrom);
  assert.ok(
    runtime.some((i) => i.op === "COPY" && i.args.startsWith("--from=build")),
    "the runtime stage copies from the build stage",
  );
  const users = runtime.filter((i) => i.op === "USER");
  assert.ok(users.length > 0 && !/^(root|0)(:|$)/.test(users.at(-1)!.args), "USER is not root");
  const health = runtime.find((i) => i.op === "HEALTHCHECK");
  assert.ok(health && /CMD/.test(health.args) && /\/health/.test(health.args), "HEALTHCHECK");
  const exposed = runtime.filter((i) => i.op === "EXPOSE").flatMap((i) => i.args.split(/\s+/));
  assert.deepEqual(exposed.sort(), ["8080", "9090"]);
  const entry = JSON.parse(runtime.find((i) => i.op === "ENTRYPOINT")!.args) as string[];
  assert.ok(entry.includes("main.ts") && entry.includes("--cached-only"));
  const cmd = JSON.parse(runtime.find((i) => i.op === "CMD")!.args) as string[];
  assert.deepEqual(cmd, ["serve", "--config", "/etc/yatagarasu/config.yaml", "--watch"]);
  // Every COPY source from the build context exists.
  for (const copy of instructions.filter((i) => i.op === "COPY" && !i.args.startsWith("--from"))) {
    const sources = copy.args.split(/\s+/).slice(0, -1);
    for (const source of sources) await Deno.stat(`${ROOT}${source}`);
  }
});

Deno.test("docker-compose: the gateway, Redis with a health check, and a config that validates", async () => {
  const compose = parseYaml(await Deno.readTextFile(`${ROOT}deploy/docker-compose.yml`)) as Obj;
  const { yatagarasu, redis } = compose.services;
  assert.ok(yatagarasu && redis, "services yatagarasu and redis");
  assert.equal(yatagarasu.build.context, "..");
  await Deno.stat(`${ROOT}deploy/${yatagarasu.build.context}/${yatagarasu.build.dockerfile}`);
  assert.deepEqual(yatagarasu.ports, ["8080:8080", "9090:9090"]);
  assert.equal(yatagarasu.depends_on.redis.condition, "service_healthy");
  assert.deepEqual(redis.healthcheck.test, ["CMD", "redis-cli", "ping"]);
  assert.ok(yatagarasu.command.includes("--watch"));
  const [hostDir, containerDir] = (yatagarasu.volumes[0] as string).split(":");
  assert.equal(containerDir, "/etc/yatagarasu");
  const configText = await Deno.readTextFile(`${ROOT}deploy/${hostDir}/config.yaml`);
  const config = parseYaml(configText) as Obj;
  assert.equal(config.cache.redis.redis_url, "redis://redis:6379");
  assert.deepEqual(config.cache.cache_layers, ["memory", "redis"]);
  await assertConfigValid(
    configText,
    { MINIO_ROOT_USER: "u", MINIO_ROOT_PASSWORD: "p" },
    "deploy/docker/config.yaml",
  );
});

Deno.test("systemd unit: serve --watch, SIGHUP reload, sandboxed; systemd-analyze verify is clean", async () => {
  const text = await Deno.readTextFile(`${ROOT}deploy/systemd/yatagarasu.service`);
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    assert.ok(current && eq > 0, `not KEY=value inside a section: ${line}`);
    current.set(line.slice(0, eq), line.slice(eq + 1));
  }
  assert.deepEqual([...sections.keys()], ["Unit", "Service", "Install"]);
  const service = sections.get("Service")!;
  assert.match(
    service.get("ExecStart")!,
    /^\/usr\/local\/bin\/yatagarasu serve --config \S+ --watch$/,
  );
  assert.equal(service.get("ExecReload"), "/bin/kill -HUP $MAINPID");
  assert.equal(service.get("DynamicUser"), "yes");
  assert.equal(service.get("NoNewPrivileges"), "yes");
  assert.equal(service.get("ProtectSystem"), "strict");
  assert.ok(Number(service.get("TimeoutStopSec")) > 30);

  // systemd-analyze checks every key; it wants the binaries to exist, so point them at deno.
  const dir = await Deno.makeTempDir({ prefix: "yatagarasu-unit-" });
  try {
    const unit = `${dir}/yatagarasu.service`;
    await Deno.writeTextFile(unit, text.replaceAll("/usr/local/bin/yatagarasu", Deno.execPath()));
    const verify = await new Deno.Command("systemd-analyze", {
      args: ["verify", unit],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const said = decoder.decode(verify.stdout) + decoder.decode(verify.stderr);
    assert.equal(verify.code, 0, said);
    assert.equal(said.trim(), "", "no warnings (unknown keys, bad values)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
