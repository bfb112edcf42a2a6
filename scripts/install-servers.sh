#!/usr/bin/env bash
# Builds the real servers the tests and `npm start` use (and docker-compose, which validates docker-compose.yml),
# from pinned Go module versions, into $HOME/.cache/vcsnap/<tool>-<version>/. Idempotent: a tool whose binary is already there is not rebuilt.
# A failed step stops the script with the step's name and the command's output.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
cache="${VCSNAP_CACHE:-$HOME/.cache/vcsnap}"
mkdir -p "$cache"
started=$(date +%s)

step() { # step NAME DIR BINARY -- COMMAND...
  local name="$1" dir="$2" bin="$3"; shift 4
  if [[ -x "$dir/$bin" ]]; then echo "[install] $name: cached at $dir"; return; fi
  echo "[install] $name: building into $dir"
  local t0 log; t0=$(date +%s); log="$cache/install-$name.log"
  mkdir -p "$dir"
  if ! ( "$@" ) >"$log" 2>&1; then
    echo "[install] FAILED step '$name': $*" >&2; tail -n 40 "$log" >&2; rm -rf "$dir"; exit 1
  fi
  [[ -x "$dir/$bin" ]] || { echo "[install] FAILED step '$name': $bin not produced" >&2; exit 1; }
  echo "[install] $name: built in $(( $(date +%s) - t0 ))s"
}

gobin_install() { GOBIN="$1" go install "$2"; }

# Go modules whose own go.mod has replace directives cannot be `go install`ed; they are built from a small
# tools module generated here, pinned to published versions.
tools_module() { # tools_module WORKDIR MODULE@VERSION "PKG..." [REPLACES...]: one module importing every PKG
  local work="$1" modver="$2" pkgs="$3"; shift 3
  rm -rf "$work"; mkdir -p "$work"; cd "$work"
  go mod init vcsnap-tools >/dev/null
  go mod edit -go=1.26.0
  local r p; for r in "$@"; do go mod edit -replace "$r"; done
  { printf '//go:build tools\n\npackage tools\n\nimport (\n'; for p in $pkgs; do printf '\t_ "%s"\n' "$p"; done; printf ')\n'; } > tools.go
  go get "$modver"
  go mod tidy
}
tools_build() { # tools_build WORKDIR OUTFILE MODULE@VERSION PKG [REPLACES...]
  local work="$1" out="$2" modver="$3" pkg="$4"; shift 4
  tools_module "$work" "$modver" "$pkg" "$@"
  go build -trimpath -ldflags='-s -w' -o "$out" "$pkg"
}

dir="$cache/temporal-$TEMPORAL_CLI_VERSION"
step temporal "$dir" temporal -- gobin_install "$dir" "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"

dir="$cache/etcd-$ETCD_VERSION"
etcd_pkgs() {
  tools_build "$cache/src/etcd" "$1/etcd" "go.etcd.io/etcd/server/v3@$ETCD_VERSION" go.etcd.io/etcd/server/v3 &&
  cd "$cache/src/etcd" && go get "go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION" &&
  go build -trimpath -ldflags='-s -w' -o "$1/etcdctl" go.etcd.io/etcd/etcdctl/v3
}
step etcd "$dir" etcd -- etcd_pkgs "$dir"

dir="$cache/minio-$MINIO_VERSION"
step minio "$dir" minio -- gobin_install "$dir" "github.com/minio/minio@$MINIO_VERSION"

dir="$cache/registry-$REGISTRY_VERSION"
step registry "$dir" registry -- gobin_install "$dir" "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION"

# kube-apiserver and kube-controller-manager (the latter for vCluster's control plane) build from ONE tools module
# (prepared once per version, stamped), so the second binary compiles only what the first did not.
kube_cmds=(kube-apiserver kube-controller-manager)
kube_build() { # kube_build OUTDIR BINARY
  local work="$cache/src/kube" stamp="$KUBERNETES_VERSION ${kube_cmds[*]}" gomod staging=() m pkgs=()
  if [[ "$(cat "$work/.vcsnap-ready" 2>/dev/null)" != "$stamp" ]]; then
    gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    for m in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod"); do
      staging+=("$m=$m@v0.${KUBERNETES_VERSION#v1.}")
    done
    for m in "${kube_cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$m"); done
    tools_module "$work" "k8s.io/kubernetes@$KUBERNETES_VERSION" "${pkgs[*]}" "${staging[@]}"
    echo "$stamp" > "$work/.vcsnap-ready"
  fi
  cd "$work" && go build -trimpath -ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION" -o "$1/$2" "k8s.io/kubernetes/cmd/$2"
}
for cmd in "${kube_cmds[@]}"; do
  dir="$cache/$cmd-$KUBERNETES_VERSION"
  step "$cmd" "$dir" "$cmd" -- kube_build "$dir" "$cmd"
done

# helm and promtool build from ONE tools module (they share most of their dependencies: client-go, the
# Prometheus client, grpc), prepared once per version pair, like the Kubernetes binaries above.
chart_tools=(helm promtool)
chart_tool_build() { # chart_tool_build OUTDIR BINARY
  local work="$cache/src/chart-tools" stamp="$HELM_VERSION $PROMETHEUS_VERSION"
  if [[ "$(cat "$work/.vcsnap-ready" 2>/dev/null)" != "$stamp" ]]; then
    tools_module "$work" "helm.sh/helm/v3@$HELM_VERSION" "helm.sh/helm/v3/cmd/helm github.com/prometheus/prometheus/cmd/promtool"
    go get "github.com/prometheus/prometheus@$PROMETHEUS_VERSION" && go mod tidy
    echo "$stamp" > "$work/.vcsnap-ready"
  fi
  cd "$work"
  case "$2" in
    helm) # Helm's default Kubernetes version (Capabilities.KubeVersion) comes from its client-go, as its Makefile sets it.
      local kminor; kminor=$(go list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2)
      go build -trimpath -o "$1/helm" -ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
        -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kminor \
        -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$kminor" helm.sh/helm/v3/cmd/helm ;;
    promtool) go build -trimpath -ldflags="-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION#v}" -o "$1/promtool" github.com/prometheus/prometheus/cmd/promtool ;;
  esac
}
dir="$cache/helm-$HELM_VERSION"
step helm "$dir" helm -- chart_tool_build "$dir" helm
dir="$cache/promtool-$PROMETHEUS_VERSION"
step promtool "$dir" promtool -- chart_tool_build "$dir" promtool

dir="$cache/snapshot-crds-$SNAPSHOTTER_CLIENT_VERSION"
crds() {
  local src
  src=$(go mod download -json "github.com/kubernetes-csi/external-snapshotter/client/v8@$SNAPSHOTTER_CLIENT_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  cp "$src"/config/crd/snapshot.storage.k8s.io_*.yaml "$1/" && chmod u+w "$1"/*.yaml && touch "$1/.done" && chmod +x "$1/.done"
}
step snapshot-crds "$dir" .done -- crds "$dir"

dir="$cache/docker-compose-$DOCKER_COMPOSE_VERSION"
# Its go.mod has exclude directives, so it is built as the main module from its own downloaded source.
compose_build() {
  local src work="$cache/src/compose"
  src=$(go mod download -json "github.com/docker/compose/v2@$DOCKER_COMPOSE_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  rm -rf "$work" && cp -r "$src" "$work" && chmod -R u+w "$work" && cd "$work" &&
  go build -trimpath -ldflags="-s -w -X github.com/docker/compose/v2/internal.Version=$DOCKER_COMPOSE_VERSION" -o "$1/docker-compose" ./cmd
}
step docker-compose "$dir" docker-compose -- compose_build "$dir"

# vCluster's control plane, run by the tests as a plain process (scripts/servers/vcluster.ts): the syncer
# (`vcluster start`) plus the kine it launches for its embedded SQLite store.
dir="$cache/kine-$KINE_VERSION"
# cgo for kine's SQLite driver (mattn/go-sqlite3), with the SQLite features kine's own release build enables
# (its scripts/build, less the embedded NATS server, which the SQLite store does not use).
kine_build() {
  CGO_ENABLED=1 CGO_CFLAGS="-DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_ENABLE_STAT4 -DSQLITE_ENABLE_COLUMN_METADATA -DSQLITE_ENABLE_MATH_FUNCTIONS -DSQLITE_ENABLE_UNLOCK_NOTIFY -DSQLITE_THREADSAFE=1" \
    GOBIN="$1" go install -ldflags="-s -w -X github.com/k3s-io/kine/pkg/version.Version=$KINE_VERSION" \
    -tags sqlite_unlock_notify,sqlite_vtable,sqlite_stat4,sqlite_preupdate_hook,sqlite_math_functions,sqlite_dbstat,sqlite_column_metadata \
    "github.com/k3s-io/kine@$KINE_VERSION"
}
step kine "$dir" kine -- kine_build "$dir"

dir="$cache/vcluster-$VCLUSTER_VERSION"
# Built as the main module from its own downloaded source (keeping its go.sum, which also vouches for the
# pre-release loft-sh modules the checksum database does not know), less the require of
# github.com/loft-sh/e2e-framework: only vCluster's own e2e tests import it, and the module proxy refuses it.
# The chart's default values.yaml goes beside the binary: `vcluster start --config` merges no defaults.
vcluster_src() { # prepares $cache/src/vcluster once per version (stamped), for vcluster and vcluster-compat
  local src work="$cache/src/vcluster"
  [[ "$(cat "$work/.vcsnap-ready" 2>/dev/null)" == "$VCLUSTER_VERSION" ]] && return
  src=$(go mod download -json "github.com/loft-sh/vcluster@$VCLUSTER_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  rm -rf "$work" && mkdir -p "$work" && cp -r "$src"/{go.mod,go.sum,cmd,pkg,config,chart} "$work/" && chmod -R u+w "$work" &&
  (cd "$work" && go mod edit -droprequire github.com/loft-sh/e2e-framework) && echo "$VCLUSTER_VERSION" > "$work/.vcsnap-ready"
}
vcluster_build() {
  vcluster_src && cd "$cache/src/vcluster" &&
  go build -mod=mod -trimpath -ldflags="-s -w -X github.com/loft-sh/vcluster/pkg/telemetry.SyncerVersion=$VCLUSTER_VERSION" -o "$1/vcluster" ./cmd/vcluster &&
  cp chart/values.yaml "$1/values.yaml" && vcluster_schema "$1"
}
# The chart's values.schema.json goes there too: the config parity test (test/unit/config-parity.test.ts) reads it.
vcluster_schema() {
  local src
  src=$(go mod download -json "github.com/loft-sh/vcluster@$VCLUSTER_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  cp "$src/chart/values.schema.json" "$1/values.schema.json" && chmod u+w "$1/values.schema.json"
}
step vcluster "$dir" vcluster -- vcluster_build "$dir"
# A vCluster built before the schema was copied: add it without rebuilding.
if [[ ! -s "$dir/values.schema.json" ]]; then
  echo "[install] vcluster-schema: copying the chart's values.schema.json into $dir"
  vcluster_schema "$dir" >"$cache/install-vcluster-schema.log" 2>&1 || { echo "[install] FAILED step 'vcluster-schema'" >&2; tail -n 40 "$cache/install-vcluster-schema.log" >&2; exit 1; }
fi

# vcluster-compat (scripts/go/vcluster-compat): vCluster's own snapshot and restore code for the compatibility tests,
# compiled inside vCluster's module work dir (same module graph, warm build cache). Its cache dir is keyed by the
# vCluster version and a hash of the program's source, so an edit rebuilds it.
compat_src="$here/go/vcluster-compat/main.go"
dir="$cache/vcluster-compat-$VCLUSTER_VERSION-$(sha256sum "$compat_src" | cut -c1-12)"
vcluster_compat_build() {
  vcluster_src && cd "$cache/src/vcluster" && mkdir -p cmd/vcluster-compat && cp "$compat_src" cmd/vcluster-compat/main.go &&
  go build -mod=mod -trimpath -ldflags='-s -w' -o "$1/vcluster-compat" ./cmd/vcluster-compat
}
step vcluster-compat "$dir" vcluster-compat -- vcluster_compat_build "$dir"

dir="$cache/oras-$ORAS_VERSION"
step oras "$dir" oras -- gobin_install "$dir" "oras.land/oras/cmd/oras@$ORAS_VERSION"

if [[ "${VCSNAP_INSTALL_BENCH:-}" == 1 ]]; then
  # The Temporal server and temporal-sql-tool from one tools module, and the server's SQL schema files beside them.
  dir="$cache/temporal-server-$TEMPORAL_SERVER_VERSION"
  temporal_server_build() {
    local work="$cache/src/temporal-server" src
    tools_module "$work" "go.temporal.io/server@$TEMPORAL_SERVER_VERSION" "go.temporal.io/server/cmd/server go.temporal.io/server/cmd/tools/sql"
    go build -trimpath -ldflags='-s -w' -o "$1/temporal-sql-tool" go.temporal.io/server/cmd/tools/sql
    src=$(go mod download -json "go.temporal.io/server@$TEMPORAL_SERVER_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    cp -r "$src/schema" "$1/schema" && chmod -R u+w "$1/schema"
    go build -trimpath -ldflags='-s -w' -o "$1/temporal-server" go.temporal.io/server/cmd/server
  }
  step temporal-server "$dir" temporal-server -- temporal_server_build "$dir"
fi

echo "[install] all servers ready in $(( $(date +%s) - started ))s (cache: $cache)"
