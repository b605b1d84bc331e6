# syntax=docker/dockerfile:1
# Build stage: compile TypeScript (and better-sqlite3's native addon), then drop dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY ui ./ui
RUN npm run build && npm prune --omit=dev

# Runtime stage: the built output plus production dependencies, as a non-root user.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    SWITCHYARD_DB=/data/switchyard.db
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# /data holds the SQLite file; /files the Batch API files (SWITCHYARD_FILES_DIR), a volume of its own
# in docker-compose.yml. Both made here, owned by node: a new named volume takes the ownership of
# the directory it is mounted on, and a root-owned one would make every write fail with EACCES.
RUN mkdir -p /data /files && chown node:node /data /files
USER node
VOLUME ["/data", "/files"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1's child-free process and receives SIGTERM itself.
CMD ["node", "dist/cli.js", "serve"]
