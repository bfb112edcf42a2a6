# The vcsnap worker (and CLI). TypeScript runs through tsx, a runtime dependency, so there is no compile step; the
# workflow bundle is built once here so the worker starts without webpack.
#   docker build -t vcsnap:0.1.0 .
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json ./
COPY bin ./bin
COPY workflows ./workflows
COPY activities ./activities
COPY client ./client
COPY worker ./worker
COPY scripts/build-workflow-bundle.ts ./scripts/
RUN npm run build:workflow -- /app/dist/workflow-bundle.js \
 && ln -s /app/bin/vcsnap.js /usr/local/bin/vcsnap
ENV VCSNAP_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \
    VCSNAP_METRICS_PORT=9464 \
    VCSNAP_PRODUCT_METRICS_PORT=9465
# 9464: Temporal runtime metrics, 9465: the product's metrics (both Prometheus text on /metrics).
EXPOSE 9464 9465
USER node
# `node --import tsx` keeps the worker in PID 1's process, so SIGTERM reaches its graceful shutdown directly.
CMD ["node", "--import", "tsx", "worker/main.ts"]
