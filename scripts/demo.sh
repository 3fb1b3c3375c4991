#!/usr/bin/env bash
# The walkthrough's steps against the embedded cluster, as far as virtmesh goes today
# (VMs, Services and DNS; the sidecar comes with the mesh).
# Leaves the cluster running; `node bin/virtmesh.js cluster down` ends it.
set -euo pipefail
cd "$(dirname "$0")/.."
vm() { node bin/virtmesh.js "$@"; }
ex=examples/istio-vmi

vm cluster up
KUBECONFIG=$(vm kubeconfig)
export KUBECONFIG
echo
echo "+ kubectl label namespace default istio-injection=enabled --overwrite"
kubectl label namespace default istio-injection=enabled --overwrite
for f in nad.yaml istio-vmi.yaml istio-vmi-svc.yaml cirros-vmi.yaml; do
  echo "+ kubectl apply -f $ex/$f"
  kubectl apply -f "$ex/$f"
done
echo
echo "+ kubectl wait --for=condition=ready --timeout=180s pod -l app=istio-vmi"
echo "  (istio-vmi's readiness probe waits 120 s before its first try, as in the walkthrough)"
kubectl wait --for=condition=ready --timeout=180s pod -l app=istio-vmi
echo
echo "+ kubectl get vmi,pods,svc,endpoints"
kubectl get vmi,pods,svc,endpoints
echo
echo "+ kubectl logs -l app=cirros-vmi --tail=3   # the cirros VM calling istio-vmi-svc by name"
kubectl logs -l app=cirros-vmi --tail=3
cat <<MSG

The cluster keeps running. Use it with:
  export KUBECONFIG=$KUBECONFIG
Stop it, removing everything it made, with:
  node bin/virtmesh.js cluster down
MSG
