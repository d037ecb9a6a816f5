# certvault container image: `docker run --rm --read-only -e VAULT_ADDR -e VAULT_TOKEN IMAGE renew`.
# See docs/running.md. The build bundles the CLI with its dependencies (pure JavaScript) into dist/,
# so the runtime stage needs no node_modules. Pin the base images by digest in your own builds.
ARG NODE_IMAGE=node:20-alpine

# ---- build: type-check and bundle ------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no install script runs with registry code (esbuild's binary comes from its
# platform package, not from a postinstall step).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs ./scripts/bundle.mjs
COPY src ./src
RUN npm run build && node dist/cli/main.js --version

# ---- runtime: node and the bundled CLI, nothing else ----------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="certvault" \
      org.opencontainers.image.description="ACME certificates with DNS-01, all state kept in HashiCorp Vault or OpenBao" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.documentation="docs/running.md"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /src/package.json ./package.json
COPY --from=build --chown=root:root /src/dist ./dist
# The image's `node` user, given as numbers so that Kubernetes' runAsNonRoot can verify it. The files
# above belong to root and are read-only for this user. With Vault, certvault writes nothing locally,
# so the container runs with a read-only root filesystem and no volume (`--store file:PATH` needs a
# writable volume at PATH). HOME is /home/node, where ~/.vault-token is looked up (read only).
USER 1000:1000
ENTRYPOINT ["node","/app/dist/cli/main.js"]
CMD ["renew"]
