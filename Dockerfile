# syntax=docker/dockerfile:1
# One image for the API and the worker (`docker compose` picks the command). The apps run their
# TypeScript through tsx, without a build step, so the image carries every dependency `npm ci`
# installs, tsx included (it is a root devDependency; `--omit=dev` would drop it).

ARG NODE_IMAGE=node:20-bookworm-slim

# Only the package manifests, so that the dependency layer below is rebuilt when they change and
# not on every source edit.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir /manifests \
 && cp package.json package-lock.json .npmrc /manifests/ \
 && find apps packages -mindepth 2 -maxdepth 2 -name package.json -exec cp --parents {} /manifests/ \;

# Dependencies. better-sqlite3 compiles from source when no prebuilt binary matches: it needs a
# C++ toolchain, which stays in this stage.
FROM ${NODE_IMAGE} AS dependencies
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=manifests /manifests/ ./
RUN npm ci --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8777 \
    DATA_DIR=/data \
    STORAGE_DIR=/storage
WORKDIR /app
# node_modules (with the workspace links) and the manifests, then the sources.
COPY --from=dependencies --chown=node:node /app/ ./
COPY --chown=node:node . .
RUN mkdir -p /data /storage && chown node:node /data /storage
USER node
EXPOSE 8777
# The API; the worker service runs `node --import tsx apps/worker/src/main.ts` instead.
CMD ["node", "--import", "tsx", "apps/api/src/main.ts"]
