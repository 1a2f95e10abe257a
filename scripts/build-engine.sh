#!/usr/bin/env bash
# Build the Pulumi engine this project deploys with, from the Go module proxy only:
#
#   pulumi                        the CLI            github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
#   pulumi-language-python        the Python host    github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python
#   pulumi-language-python-exec   the host's shim    python/cmd/pulumi-language-python-exec in github.com/pulumi/pulumi/sdk/v3
#   pulumi-resource-kubernetes    the k8s provider   github.com/pulumi/pulumi-kubernetes/provider/v4
#
# into ${XDG_CACHE_HOME:-$HOME/.cache}/pipeline-platform/engine/<versions>/bin (outside the work
# tree). Anything already built is skipped, so a warm run takes milliseconds. Stdout ends with the
# versions and, as its very last line, the bin directory:   bin=$(scripts/build-engine.sh | tail -1)
#   scripts/build-engine.sh --print-bin   prints that directory without building anything.
#
# Versions (requirements.txt pins the Python SDKs pulumi==3.272.0 and pulumi-kubernetes==4.34.2).
# This machine reaches the Go module proxy, which serves only the versions it holds; it does not
# resolve module@<commit-hash> (403), and GitHub itself cannot be reached. What it serves decided:
#   * CLI: pkg/v3 v3.274.1. pkg/v3 has no v3.272.0 or v3.273.0 (no such tags); v3.274.x is the
#     nearest release at least as new as the Python SDK, and v3.274.1 is its patch release.
#   * Python language host: the sub-module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3
#     is not served at all (no version, no pseudo-version, no commit). Before pulumi v3.80.0 (Aug 2023,
#     pulumi/pulumi#13819) the host was a package of the sdk/v3 module itself; the newest such sdk/v3
#     the proxy serves is v3.68.0, so that is the host built here. The engine (v3.274.1) still speaks
#     to it: it falls back from GetRequiredPackages/Handshake to the older RPCs. Two consequences:
#       - the new CLI starts language hosts with the engine address only, so this old host never sees
#         Pulumi.yaml's `runtime.options.virtualenv`: it runs `python3` from PATH, or $PULUMI_PYTHON_CMD.
#         Put the project's venv first on PATH or export PULUMI_PYTHON_CMD=<venv>/bin/python.
#       - the host looks for pulumi-language-python-exec next to its own executable (not on PATH);
#         this script copies it there. The shim is taken from sdk/v3 v3.272.0, the version of the
#         pinned Python SDK, because it calls into that SDK's pulumi.runtime.
#   * Kubernetes provider: provider/v4 has no tags of its own (the repo tags v4.x.y, not provider/v4.x.y),
#     and the only version the proxy serves is v4.0.0-20260115033456-f47bc2d6f199, i.e. commit
#     f47bc2d6f199 = tag v4.25.0 of pulumi/pulumi-kubernetes. So the provider is 4.25.0, not 4.34.2
#     (no commit of 4.26 or later is served). The Python SDK pulumi_kubernetes 4.34.2 asks the engine
#     for plugin version >=4.34.2, which 4.25.0 does not satisfy. Either put this bin dir first on PATH
#     (the engine then uses it as an "ambient" plugin, with a warning), or install it under the version
#     the SDK asks for:
#       pulumi plugin install resource kubernetes 4.34.2 --file <bin>/pulumi-resource-kubernetes
#     Both work and print "resource plugin kubernetes is expected to have version >=4.34.2, but has 4.25.0".
#     Its `replace sdk/v4 => ../sdk` becomes sdk/v4 v4.22.2 (v4.24.0, which its go.mod names, is not
#     served): the newest served one older than that, so every module version selected for the build
#     is exactly the one in the provider's go.mod (v4.29.0 would bump pulumi/sdk and grpc). The
#     provider imports only its go/kubernetes and go/kubernetes/yaml packages.
#
# Why a wrapper module: all three modules carry `replace` directives in their go.mod (pkg/v3 and the
# provider point at sibling directories, sdk/v3 v3.68.0 pins golang.org/x/text), so
# `go install module@version` refuses them. Each binary is therefore built from a small generated
# module (under the cache dir, never in the repo) that requires the module at its exact version and
# copies only the non-local replace directives of that module's go.mod; the local ones are replaced
# by served versions (sdk/v3 at the same version as pkg/v3, sdk/v4 as above).
# The provider's main package embeds schema-embed.json and terraform-mapping-embed.json, which its
# `go generate` (generate.go) makes from schema.json (+ the version) and terraform-mapping.json; both
# sources ship in the module zip, so this script generates the two files the same way and builds a
# three-line main of its own that embeds them and calls provider.Serve, as the upstream main does.
#
# All builds: CGO_ENABLED=0, -trimpath, -ldflags "-s -w -X <version var>=<version>", default
# GOMODCACHE/GOCACHE (note: GOCACHE defaults to $XDG_CACHE_HOME/go-build), GOWORK=off; the
# binaries come out byte-identical from run to run.
# Measured on the 2-core machine (shared with other jobs, load 5-8): cold (empty GOMODCACHE and
# GOCACHE) 43 min (CLI 20, language host 1, provider 22); warm Go caches but no bin dir 26 s; bin
# dir present 0.01 s. Sizes: bin 295 MB (pulumi 122 MB, provider 162 MB, host 18 MB); the Go caches
# this adds: GOMODCACHE 2.4 GB (470 MB of it zips), GOCACHE 5.9 GB.
set -euo pipefail

CLI_VERSION=v3.274.1                                   # github.com/pulumi/pulumi/pkg/v3 (and sdk/v3)
LANGHOST_SDK_VERSION=v3.68.0                           # github.com/pulumi/pulumi/sdk/v3, python/cmd/pulumi-language-python
SHIM_SDK_VERSION=v3.272.0                              # sdk/v3 holding pulumi-language-python-exec, = pulumi==3.272.0
K8S_PROVIDER_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199   # provider/v4 at tag v4.25.0
K8S_PROVIDER_VERSION=4.25.0
K8S_SDK_GO_VERSION=v4.22.2                             # stands in for the provider's `replace ../sdk`

VERSIONS="pulumi${CLI_VERSION#v}-py${LANGHOST_SDK_VERSION#v}-k8s${K8S_PROVIDER_VERSION}"
ENGINE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/pipeline-platform/engine/${VERSIONS}"
BIN="${ENGINE_DIR}/bin"
WORK="${ENGINE_DIR}/build"

case "${1:-}" in
    --print-bin) echo "${BIN}"; exit 0 ;;
    "") ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--print-bin]" >&2; exit 2 ;;
esac

log() { echo "build-engine: $*" >&2; }

print_versions() {
    echo "pulumi ${CLI_VERSION} (github.com/pulumi/pulumi/pkg/v3)"
    echo "pulumi-language-python ${LANGHOST_SDK_VERSION} (github.com/pulumi/pulumi/sdk/v3), exec shim from sdk/v3 ${SHIM_SDK_VERSION}"
    echo "pulumi-resource-kubernetes ${K8S_PROVIDER_VERSION} (github.com/pulumi/pulumi-kubernetes/provider/v4@${K8S_PROVIDER_MODULE_VERSION})"
    echo "${BIN}"
}

all_built() {
    [[ -x "${BIN}/pulumi" && -x "${BIN}/pulumi-language-python" && -x "${BIN}/pulumi-language-python-exec" \
        && -x "${BIN}/pulumi-resource-kubernetes" ]]
}

if all_built; then
    print_versions
    exit 0
fi

GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
[[ -x "${GO}" ]] || { echo "build-engine: no go found (set GO=/path/to/go)" >&2; exit 1; }
export CGO_ENABLED=0 GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=mod -buildvcs=false"

mkdir -p "${BIN}" "${WORK}"
# One builder at a time per engine directory (another run may be filling the same cache).
if command -v flock >/dev/null; then
    exec 9>"${ENGINE_DIR}/.lock"
    flock 9
fi

# module_dir MODULE VERSION: download a module into GOMODCACHE (if needed) and print its directory.
module_dir() {
    "${GO}" mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

# wrapper_module DIR NAME GOVERSION REQUIRE-LINES REPLACE-LINES: write a throwaway main module.
wrapper_module() {
    local dir=$1 name=$2 gover=$3 requires=$4 replaces=$5
    mkdir -p "${dir}"
    local gomod
    gomod=$(printf 'module pipeline-platform.local/engine/%s\n\ngo %s\n\nrequire (\n%s\n)\n\nreplace (\n%s\n)\n' \
        "${name}" "${gover}" "${requires}" "${replaces}")
    # Rewrite only when the pins changed, so `go build -mod=mod` keeps its go.sum.
    if [[ ! -f "${dir}/go.mod.in" || "$(cat "${dir}/go.mod.in")" != "${gomod}" ]]; then
        printf '%s\n' "${gomod}" > "${dir}/go.mod.in"
        printf '%s\n' "${gomod}" > "${dir}/go.mod"
        rm -f "${dir}/go.sum"
    fi
}

# go_build DIR OUT PKG LDFLAGS-X: build PKG inside wrapper module DIR into BIN/OUT atomically.
go_build() {
    local dir=$1 out=$2 pkg=$3 xflag=$4
    local start=${SECONDS}
    log "building ${out} ..."
    (cd "${dir}" && "${GO}" build -trimpath -ldflags "-s -w -X ${xflag}" -o "${BIN}/.${out}.tmp" "${pkg}")
    mv -f "${BIN}/.${out}.tmp" "${BIN}/${out}"
    log "built ${out} in $((SECONDS - start))s"
}

# 1. The CLI. pkg/v3's go.mod: replace sdk/v3 => ../sdk (local: required at the same version instead),
#    replace github.com/atotto/clipboard => github.com/tgummerer/clipboard (copied).
if [[ ! -x "${BIN}/pulumi" ]]; then
    wrapper_module "${WORK}/cli" cli 1.26.6 \
        "	github.com/pulumi/pulumi/pkg/v3 ${CLI_VERSION}
	github.com/pulumi/pulumi/sdk/v3 ${CLI_VERSION}" \
        "	github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e"
    go_build "${WORK}/cli" pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
        "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${CLI_VERSION}"
fi

# 2. The Python language host from sdk/v3 v3.68.0, whose go.mod has one replace (copied), and the
#    exec shim of the pinned Python SDK's version, next to it.
if [[ ! -x "${BIN}/pulumi-language-python" ]]; then
    wrapper_module "${WORK}/language-python" language-python 1.18 \
        "	github.com/pulumi/pulumi/sdk/v3 ${LANGHOST_SDK_VERSION}" \
        "	golang.org/x/text => golang.org/x/text v0.3.6"
    go_build "${WORK}/language-python" pulumi-language-python \
        github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python \
        "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${LANGHOST_SDK_VERSION}"
fi
if [[ ! -x "${BIN}/pulumi-language-python-exec" ]]; then
    shim="$(module_dir github.com/pulumi/pulumi/sdk/v3 "${SHIM_SDK_VERSION}")/python/cmd/pulumi-language-python-exec"
    install -m 0755 "${shim}" "${BIN}/.pulumi-language-python-exec.tmp"
    mv -f "${BIN}/.pulumi-language-python-exec.tmp" "${BIN}/pulumi-language-python-exec"
    log "copied pulumi-language-python-exec from sdk/v3 ${SHIM_SDK_VERSION}"
fi

# 3. The Kubernetes provider. Its go.mod's only replace is local (sdk/v4 => ../sdk): replaced by a
#    served sdk/v4. Its cmd/pulumi-resource-kubernetes embeds files made by `go generate`.
if [[ ! -x "${BIN}/pulumi-resource-kubernetes" ]]; then
    dir="${WORK}/kubernetes"
    wrapper_module "${dir}" kubernetes 1.24.7 \
        "	github.com/pulumi/pulumi-kubernetes/provider/v4 ${K8S_PROVIDER_MODULE_VERSION}" \
        "	github.com/pulumi/pulumi-kubernetes/sdk/v4 => github.com/pulumi/pulumi-kubernetes/sdk/v4 ${K8S_SDK_GO_VERSION}"
    if [[ ! -s "${dir}/schema-embed.json" || ! -s "${dir}/terraform-mapping-embed.json" ]]; then
        src="$(module_dir github.com/pulumi/pulumi-kubernetes/provider/v4 "${K8S_PROVIDER_MODULE_VERSION}")/cmd/pulumi-resource-kubernetes"
        # What generate.go does: schema.json with "version" set, terraform-mapping.json compacted.
        python3 - "${src}" "${dir}" "${K8S_PROVIDER_VERSION}" <<'PY'
import json, sys
src, dst, version = sys.argv[1:]
with open(f"{src}/schema.json") as f:
    schema = json.load(f)
schema["version"] = version
with open(f"{src}/terraform-mapping.json") as f:
    mapping = json.load(f)
for name, data in (("schema-embed.json", schema), ("terraform-mapping-embed.json", mapping)):
    with open(f"{dst}/{name}.tmp", "w") as f:
        json.dump(data, f, separators=(",", ":"))
PY
        mv -f "${dir}/schema-embed.json.tmp" "${dir}/schema-embed.json"
        mv -f "${dir}/terraform-mapping-embed.json.tmp" "${dir}/terraform-mapping-embed.json"
    fi
    cat > "${dir}/main.go" <<'GO'
// Generated by scripts/build-engine.sh: the provider's main, embedding the generated schema.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
GO
    go_build "${dir}" pulumi-resource-kubernetes . \
        "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${K8S_PROVIDER_VERSION}"
fi

all_built || { echo "build-engine: some binaries are missing in ${BIN}" >&2; exit 1; }
print_versions
