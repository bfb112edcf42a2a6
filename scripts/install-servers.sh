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
tools_build() { # tools_build WORKDIR OUTFILE MODULE@VERSION PKG [REPLACES...]
  local work="$1" out="$2" modver="$3" pkg="$4"; shift 4
  rm -rf "$work"; mkdir -p "$work"; cd "$work"
  go mod init vcsnap-tools >/dev/null
  go mod edit -go=1.26.0
  local r; for r in "$@"; do go mod edit -replace "$r"; done
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" > tools.go
  go get "$modver"
  go mod tidy
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

dir="$cache/kube-apiserver-$KUBERNETES_VERSION"
kube_build() {
  local gomod staging=() m
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  for m in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod"); do
    staging+=("$m=$m@v0.${KUBERNETES_VERSION#v1.}")
  done
  tools_build "$cache/src/kube" "$1/kube-apiserver" "k8s.io/kubernetes@$KUBERNETES_VERSION" k8s.io/kubernetes/cmd/kube-apiserver "${staging[@]}"
}
step kube-apiserver "$dir" kube-apiserver -- kube_build "$dir"

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

echo "[install] all servers ready in $(( $(date +%s) - started ))s (cache: $cache)"
