#!/usr/bin/env bash
# The walkthrough ("Running virtual machines in Istio service mesh") on this machine: the
# cluster, the namespace's label and istio-cni network, both VMIs and the Service from
# examples/istio-vmi exactly as the walkthrough creates them, then waits with progress until
# istio-vmi is Ready, both sidecars are SYNCED and the console's graph shows the traffic.
# Leaves the cluster running; `virtmesh cluster down` ends it. `npm run demo` runs setup first.
set -euo pipefail
cd "$(dirname "$0")/.."

# This machine may have no internet: unless told otherwise, the cluster answers kubevirt.io
# (istio-vmi's outbound loop) with its stand-in outside the mesh. VIRTMESH_EXTERNAL_STAND_IN=
# (empty) leaves kubevirt.io to the machine's resolvers, for the real site.
export VIRTMESH_EXTERNAL_STAND_IN="${VIRTMESH_EXTERNAL_STAND_IN-kubevirt.io}"
ex=examples/istio-vmi
start=$SECONDS
vm() { node bin/virtmesh.js "$@"; }
elapsed() { printf '%3ds' $((SECONDS - start)); }
step() { printf '\n==> [%s] %s\n' "$(elapsed)" "$*"; }
show() { printf '+ %s\n' "$*"; "$@"; }
fail() { printf '\ndemo: %s\n' "$*" >&2; exit 1; }

# Runs `check` every `every` seconds until it succeeds, printing `status` meanwhile; gives up after `limit` seconds.
wait_for() {
  local what=$1 limit=$2 every=$3 check=$4 status=$5 t0=$SECONDS
  until eval "$check" >/dev/null 2>&1; do
    ((SECONDS - t0 < limit)) || fail "gave up after ${limit}s waiting for $what"
    printf '  [%s] waiting for %s: %s\n' "$(elapsed)" "$what" "$(eval "$status" 2>&1 | tr '\n' ' ')"
    sleep "$every"
  done
}

step "1/6 Run the cluster (make cluster-up): API server, node, DNS, control plane, Prometheus, console"
show vm cluster up
KUBECONFIG=$(vm kubeconfig)
export KUBECONFIG
echo "+ export KUBECONFIG=$KUBECONFIG"
echo "  KubeVirt and Istio with its addons (Prometheus, the console in Kiali's place) come with the cluster."

step "2/6 Prepare the target namespace: sidecar injection and the istio-cni network"
show kubectl label namespace default istio-injection=enabled --overwrite
show kubectl apply -f "$ex/nad.yaml"

step "3/6 Create istio-vmi, its Service and cirros-vmi"
for f in istio-vmi.yaml istio-vmi-svc.yaml cirros-vmi.yaml; do show kubectl apply -f "$ex/$f"; done

step "4/6 Wait for istio-vmi to be ready"
echo "  istio-vmi's readiness probe first runs 120 s after the VM starts (initialDelaySeconds: 120)"
echo "  and needs 3 passes 10 s apart, so this takes about 2.5 minutes. The walkthrough waits 180 s;"
echo "  here up to 300 s, for machines that emulate the CPU."
pods_status="kubectl get pods --no-headers | awk '{sub(/^virt-launcher-/, \"\", \$1); print \$1, \$2, \$3}' | paste -sd ',' - | sed 's/,/, /g'"
echo "+ kubectl wait --for=condition=ready --timeout=300s pod -l app=istio-vmi"
kubectl wait --for=condition=ready --timeout=300s pod -l app=istio-vmi &
waiter=$!
next=$SECONDS
while kill -0 "$waiter" 2>/dev/null; do
  if ((SECONDS >= next)); then
    printf '  [%s] %s\n' "$(elapsed)" "$(eval "$pods_status" 2>&1)"
    next=$((SECONDS + 10))
  fi
  sleep 1
done
wait "$waiter" || fail "istio-vmi is not Ready after 300 s; see kubectl describe pod -l app=istio-vmi, and Troubleshooting in README.md"

step "5/6 Check the sidecars and the traffic"
wait_for "both sidecars SYNCED with the control plane" 90 5 \
  "[ \$(vm proxy-status | grep -E '^virt-launcher-(istio|cirros)-vmi-' | grep -c 'SYNCED *SYNCED *SYNCED *SYNCED') = 2 ]" \
  "vm proxy-status | grep -cE '^virt-launcher-' | sed 's/$/ proxies connected/'"
console_url=$(vm dashboard --no-browser | head -1)
wait_for "the console's graph to show the walkthrough's traffic (Prometheus scrapes every 5 s)" 120 5 \
  "node scripts/demo-graph.mjs '$console_url'" "echo edges so far:; node scripts/demo-graph.mjs '$console_url'"

step "6/6 The walkthrough's results"
show kubectl get pods
echo
show vm proxy-status
echo
echo "+ the console's graph of namespace default (last minute):"
node scripts/demo-graph.mjs "$console_url" || true
cat <<MSG

Done in $((SECONDS - start)) s. The cluster keeps running.
  Console (istioctl dashboard kiali):   $console_url
    Graph, then Workloads > istio-vmi > Inbound Metrics / Outbound Metrics
  Prometheus:                           $(vm dashboard prometheus --no-browser | head -1)
  kubectl:                              export KUBECONFIG=$KUBECONFIG
  The VM's serial console:              node bin/virtmesh.js console istio-vmi   (Ctrl+] leaves)
  Stop it, removing everything it made: node bin/virtmesh.js cluster down
MSG
