# syntax=docker/dockerfile:1
# One image for the API and the worker (`docker compose` picks the command): compiled JavaScript
# (`npm run build`), production dependencies only, on the current Node LTS, as user `node`, under
# tini. The Node version matches the one CI runs the whole suite on (.ci/node-lts-version).

ARG NODE_IMAGE=node:24-bookworm-slim

# Only the package manifests, so that the dependency layer below is rebuilt when they change and
# not on every source edit.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir /manifests \
 && cp package.json package-lock.json .npmrc /manifests/ \
 && find apps packages -mindepth 2 -maxdepth 2 -name package.json -exec cp --parents {} /manifests/ \;

# Every dependency, then the build, then the development dependencies pruned away.
FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles from source when no prebuilt binary matches: it needs a C++ toolchain,
# which stays in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# onnxruntime-node's install script would download CUDA libraries: CPU inference needs none.
ENV ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /app
COPY --from=manifests /manifests/ ./
# --ignore-scripts: the root `prepare` script is the build, and the sources are not here yet. The
# one dependency whose install script is needed (package.json, allowScripts) runs it on its own.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 \
 && npm cache clean --force
COPY tsconfig.base.json tsconfig.build.json ./
COPY packages/ packages/
COPY apps/ apps/
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf packages/testing node_modules/@passage/testing \
 && find packages apps -mindepth 2 -maxdepth 2 \( -name src -o -name tsconfig.json \) -exec rm -rf {} + \
 && find packages apps -name '*.tsbuildinfo' -delete

FROM ${NODE_IMAGE} AS runtime
# OCR of scans and images (README, Formats): Debian's tesseract with English and Simplified
# Chinese data, and poppler's pdftoppm to render PDF pages for it. Without them OCR is off
# (OCR_ENABLED=auto) and a scan fails pdf_no_text_layer.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim poppler-utils \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8777 \
    DATA_DIR=/data \
    STORAGE_DIR=/storage
WORKDIR /app
# Root owns the code (the service cannot rewrite itself); the data volumes belong to `node`.
COPY --from=build /app/ ./
RUN mkdir -p /data /storage && chown node:node /data /storage
USER node
EXPOSE 8777
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8777) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tini is PID 1: it hands SIGTERM to Node (which closes the server, or hands a worker's jobs back
# to the queue) and reaps any zombie. `--conditions=passage-dist` resolves the workspace packages
# to their compiled dist/ (README, Build).
ENTRYPOINT ["/usr/bin/tini", "--"]
# The API; the worker service runs `node --conditions=passage-dist apps/worker/dist/main.js`.
CMD ["node", "--conditions=passage-dist", "apps/api/dist/main.js"]
