# certvault container image: `docker run --rm --read-only -e VAULT_ADDR -e VAULT_TOKEN IMAGE renew`.
# See docs/running.md. Both stages use Alpine so that the node_modules built in the first run on the
# same libc in the second (certvault's production dependencies are pure JavaScript today; this keeps it
# safe if one ever ships a native addon). Pin the base images by digest in your own builds.
ARG NODE_IMAGE=node:20-alpine

# ---- build: compile TypeScript, then drop dev dependencies ----------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the build needs no install script (tsc only), and none runs with registry code.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && node dist/cli/main.js --version

# ---- runtime: node, the compiled CLI and production dependencies, nothing else --------------------
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
COPY --from=build --chown=root:root /src/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist ./dist
# The image's `node` user, given as numbers so that Kubernetes' runAsNonRoot can verify it. The files
# above belong to root and are read-only for this user. With Vault, certvault writes nothing locally,
# so the container runs with a read-only root filesystem and no volume (`--store file:PATH` needs a
# writable volume at PATH). HOME is /home/node, where ~/.vault-token is looked up (read only).
USER 1000:1000
ENTRYPOINT ["node","/app/dist/cli/main.js"]
CMD ["renew"]
