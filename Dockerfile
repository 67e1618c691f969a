# syntax=docker/dockerfile:1
# tunmesh container image.
#   docker build -t tunmesh:latest .
#   docker run --cap-add NET_ADMIN --device /dev/net/tun \
#     -v /path/config.yaml:/etc/tunmesh/config.yaml:ro -v /path/tls:/etc/tunmesh/tls:ro tunmesh:latest

# --- build: compile the native TUN addon (node-gyp) and the TypeScript, then drop dev deps ---
FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json binding.gyp tsconfig.json tsconfig.build.json tsconfig.harness.json ./
COPY native/ native/
COPY src/ src/
# `npm ci` runs the package's own `install` (node-gyp rebuild -> build/Release/tunmesh_tun.node)
# and `prepare` (tsc -> dist/) scripts. The image gets the product alone: dist/ is built again
# without the test and bench harness (src/lab, src/bench, src/demo: tsconfig.harness.json).
RUN npm ci \
 && rm -rf dist && npm run build:product \
 && npm prune --omit=dev \
 && test -f build/Release/tunmesh_tun.node \
 && test -f dist/cli/main.js \
 && test ! -e dist/lab && test ! -e dist/bench && test ! -e dist/demo

# --- runtime: node + iproute2 (tunmesh configures the TUN device with `ip`) + nftables (tunmesh/firewall) ---
FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 nftables \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    TUNMESH_CONFIG_PATH=/etc/tunmesh/config.yaml
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/build/Release/tunmesh_tun.node ./build/Release/tunmesh_tun.node
COPY config/example.yaml ./config/example.yaml

# No USER line on purpose: the process starts as root because creating the TUN device and
# setting its address, MTU and routes needs CAP_NET_ADMIN; tunmesh then drops to
# tun_mesh/process/uid (e.g. 1000, the image's "node" user) by itself, before it forks its
# data-plane workers or talks to any peer, and keeps no capability after that.
# Least privilege at run time: --cap-drop ALL --cap-add NET_ADMIN --cap-add SETUID
# --cap-add SETGID --cap-add CHOWN --device /dev/net/tun (see deploy/kubernetes/statefulset/statefulset.yaml).
# 4567: the API (probes, metrics, peers); 4568: the channel port (fast channels received by the workers)
EXPOSE 4567 4568

# No curl in the slim image: probe /health/live with node. The API certificate is usually not
# issued for 127.0.0.1, so verification is off for this local probe only.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "require('https').get({host:'127.0.0.1',port:Number(process.env.TUNMESH_LISTEN_PORT||4567),path:'/health/live',rejectUnauthorized:false,timeout:4000},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]

ENTRYPOINT ["node", "--max-semi-space-size=1", "dist/cli/main.js"]
CMD ["run"]
