# Owns the container image: a build stage that fetches and type-checks every dependency, and a
# runtime stage with only the app, its cached modules and a non-root user (see README "Packaging and deployment").
# Build: docker build -t yatagarasu .   Run: docker run -p 8080:8080 -p 9090:9090 -v $PWD/config.yaml:/etc/yatagarasu/config.yaml:ro yatagarasu

ARG DENO_VERSION=2.9.6

FROM denoland/deno:${DENO_VERSION} AS build
WORKDIR /app
ENV DENO_DIR=/deno-dir DENO_NO_UPDATE_CHECK=1
COPY deno.json deno.lock ./
COPY main.ts ./
COPY src/ ./src/
# Every npm package (sharp's native addon for this platform included) lands in DENO_DIR, pinned
# by deno.lock; the type check runs here so a broken tree never becomes an image.
RUN deno install --frozen --entrypoint main.ts && deno check main.ts

FROM denoland/deno:${DENO_VERSION} AS runtime
WORKDIR /app
ENV DENO_DIR=/deno-dir DENO_NO_UPDATE_CHECK=1 YATAGARASU_HEALTH_URL=http://127.0.0.1:8080/health
COPY --from=build /deno-dir /deno-dir
COPY --from=build /app /app
COPY config.example.yaml /etc/yatagarasu/config.yaml
# The image's unprivileged user (uid 1993); the disk cache, if configured, goes to /var/cache/yatagarasu.
RUN mkdir -p /var/cache/yatagarasu && chown deno:deno /var/cache/yatagarasu
USER deno
# 8080: the gateway (server.port); 9090: Prometheus /metrics (metrics.port).
EXPOSE 8080 9090
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch(Deno.env.get('YATAGARASU_HEALTH_URL') ?? 'http://127.0.0.1:8080/health').catch(() => null); Deno.exit(r?.ok ? 0 : 1)"]
ENTRYPOINT ["deno", "run", "--cached-only", "--v8-flags=--no-memory-reducer", "--allow-read", "--allow-write", "--allow-net", "--allow-env", "--allow-sys", "--allow-ffi", "main.ts"]
# --watch reloads the config when the file changes (a ConfigMap update, a new bind mount); SIGHUP does too.
CMD ["serve", "--config", "/etc/yatagarasu/config.yaml", "--watch"]
