# The vcsnap worker (and CLI), compiled: a build stage runs `npm run build` (TypeScript to dist/ and the workflow
# bundle), the runtime stage has production dependencies only (no tsx, TypeScript or test tools) and runs as non-root.
#   docker build -t vcsnap:0.2.0 .
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY contracts ./contracts
COPY lib ./lib
COPY activities ./activities
COPY workflows ./workflows
COPY client ./client
COPY worker ./worker
RUN npm run build

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# @temporalio/core-bridge ships its native library for five platforms (~30 MB each): keep this image's only.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force && \
    find node_modules/@temporalio/core-bridge/releases -mindepth 1 -maxdepth 1 ! -name "$(uname -m)-unknown-linux-gnu" -exec rm -rf {} +
COPY bin ./bin
COPY --from=build /src/dist ./dist
RUN ln -s /app/bin/vcsnap.js /usr/local/bin/vcsnap
# Restore drills start a scratch etcd from this binary: etcd's release image keeps its static binaries in
# /usr/local/bin (etcd-io/etcd's Dockerfile). Its tag is scripts/versions.env's ETCD_VERSION, the etcd the tests run
# (test/integration/deploy.test.ts checks both, and that the scratch data has a writable /tmp in the pod).
COPY --from=gcr.io/etcd-development/etcd:v3.6.16 /usr/local/bin/etcd /usr/local/bin/etcd
# glibc gives threads that allocate at once arenas of their own (up to 8 per core) and keeps what is freed in each: the
# threadpool's zlib streams and the event loop's gRPC and HTTP buffers spread over them. Two arenas: one 100k-key dump
# peaked at 253-262 MiB against 281-315 MiB, at the same speed (bench dump child, 3 runs each, 2026-11-29).
ENV MALLOC_ARENA_MAX=2
ENV VCSNAP_DRILL_ETCD=/usr/local/bin/etcd \
    VCSNAP_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \
    VCSNAP_METRICS_PORT=9464 \
    VCSNAP_PRODUCT_METRICS_PORT=9465
# 9464: Temporal runtime metrics, 9465: the product's metrics (both Prometheus text on /metrics).
EXPOSE 9464 9465
USER node
# Plain node as PID 1's process, so SIGTERM reaches the worker's graceful shutdown directly.
CMD ["node", "dist/worker/main.js"]
