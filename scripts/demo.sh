#!/usr/bin/env bash
# The walkthrough ("Running virtual machines in Istio service mesh") on this machine: the
# cluster, the namespace's label and istio-cni network, both VMIs and the Service from
# examples/istio-vmi exactly as the walkthrough creates them, then waits with progress until
# istio-vmi is Ready, both sidecars are SYNCED and the console's graph shows the traffic.
# Leaves the cluster running; `virtmesh cluster down` ends it. `npm run demo` runs setup first.
set -euo pipefail
trap 'exit 130' INT # so that the EXIT trap below runs on Ctrl+C and on kill too
trap 'exit 143' TERM
cd "$(dirname "$0")/.."

# Pods have no uplink (and this machine may have no internet): unless told otherwise, the
# cluster answers kubevirt.io (istio-vmi's outbound loop) with its stand-in outside the mesh.
# VIRTMESH_EXTERNAL_STAND_IN= (empty) runs none; the calls then fail (503 UF) as calls to
# an unreachable site do.
export VIRTMESH_EXTERNAL_STAND_IN="${VIRTMESH_EXTERNAL_STAND_IN-kubevirt.io}"
ex=examples/istio-vmi
start=$SECONDS
vm() { node bin/virtmesh.js "$@"; }
elapsed() { printf '%3ds' $((SECONDS - start)); }
step() { printf '\n==> [%s] %s\n' "$(elapsed)" "$*"; }
# Prints a command as a user would type it (virtmesh for this script's vm), then runs it.
show() { printf '+ %s\n' "$(sed 's/^vm /virtmesh /' <<<"$*")"; "$@"; }
fail() { printf '\ndemo: %s\n' "$*" >&2; exit 1; }

# Runs a command every `every` seconds until it succeeds, printing its output meanwhile;
# gives up after `limit` seconds, saying what it waited for.
wait_for() {
  local what=$1 limit=$2 every=$3 t0=$SECONDS out
  shift 3
  until out=$("$@" 2>&1); do
    ((SECONDS - t0 < limit)) || fail "gave up after ${limit}s waiting for $what (last: $out)"
    printf '  [%s] waiting for %s: %s\n' "$(elapsed)" "$what" "$out"
    sleep "$every"
  done
}

# The launcher pods as `kubectl get pods` shows them, on one line.
pods_line() { kubectl get pods --no-headers 2>&1 | awk '{sub(/^virt-launcher-/, "", $1); print $1, $2, $3}' | paste -sd ',' - | sed 's/,/, /g'; }
launcher_pod() { [ -n "$(kubectl get pod -l app=istio-vmi -o name 2>/dev/null)" ] || { echo 'not created yet'; return 1; }; }
# Both walkthrough sidecars SYNCED in every column, per `virtmesh proxy-status`.
both_synced() {
  local rows synced
  rows=$(vm proxy-status 2>&1 | grep -E '^virt-launcher-(istio|cirros)-vmi-' || true)
  synced=$(grep -c 'SYNCED *SYNCED *SYNCED *SYNCED' <<<"$rows" || true)
  echo "$synced of 2 sidecars SYNCED"
  [ "$synced" = 2 ]
}
# The console's graph edges on one line; succeeds when the walkthrough's traffic is there (demo-graph.mjs).
graph_line() { node scripts/demo-graph.mjs "$console_url" "$@" | sed 's/^ *//' | paste -sd ';' - | sed 's/;/; /g'; return "${PIPESTATUS[0]}"; }

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
wait_cmd=(kubectl wait --for=condition=ready --timeout=300s pod -l app=istio-vmi)
wait_for "istio-vmi's launcher pod" 60 2 launcher_pod
printf '+ %s\n' "${wait_cmd[*]}"
"${wait_cmd[@]}" &
waiter=$!
trap 'kill "$waiter" 2>/dev/null || true' EXIT # Ctrl+C must not leave kubectl waiting
next=$SECONDS
while kill -0 "$waiter" 2>/dev/null; do
  if ((SECONDS >= next)); then
    printf '  [%s] %s\n' "$(elapsed)" "$(pods_line)"
    next=$((SECONDS + 10))
  fi
  sleep 1
done
wait "$waiter" || fail "istio-vmi is not Ready after 300 s; see kubectl describe pod -l app=istio-vmi, and docs/troubleshooting.md"

step "5/6 Check the sidecars and the traffic"
wait_for "both sidecars SYNCED with the control plane" 90 5 both_synced
console_url=$(vm dashboard --no-browser | head -1)
wait_for "the console's graph to show the walkthrough's traffic (Prometheus scrapes every 5 s)" 120 5 graph_line
# cirros-vmi's loop got 503s (UH: no ready endpoint) until istio-vmi turned Ready; the graph's
# one-minute window holds them for a minute more. Worth waiting for, not worth failing over.
echo "  cirros-vmi's calls failed (503 UH) until istio-vmi was Ready; waiting up to 90 s for them to leave the graph's 1-minute window"
t0=$SECONDS
until out=$(graph_line --healthy); do
  if ((SECONDS - t0 >= 90)); then
    echo "  (an edge still has 10% errors or more after 90 s; the console shows why: click the edge)"
    break
  fi
  printf '  [%s] %s\n' "$(elapsed)" "$out"
  sleep 10
done

step "6/6 The walkthrough's results"
show kubectl get pods
echo
show vm proxy-status
echo
echo "+ the console's graph of namespace default (last minute):"
node scripts/demo-graph.mjs "$console_url" || true
prometheus_url=$(vm dashboard prometheus --no-browser | head -1)
echo
echo "+ the walkthrough's loop as the sidecars counted it (Prometheus, last minute):"
node scripts/demo-graph.mjs --steady "$prometheus_url" 60 || true
cat <<MSG

Done in $((SECONDS - start)) s. The cluster keeps running.
  Console (istioctl dashboard kiali):   $console_url
    Graph, then Workloads > istio-vmi > Inbound Metrics / Outbound Metrics
  Prometheus:                           $prometheus_url
  The loop over 5 minutes of it:        node scripts/demo-graph.mjs --steady $prometheus_url 300
  kubectl:                              export KUBECONFIG=$KUBECONFIG
  The VM's serial console:              node bin/virtmesh.js console istio-vmi   (Ctrl+] leaves)
  Stop it, removing everything it made: node bin/virtmesh.js cluster down
MSG
