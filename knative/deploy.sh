#!/usr/bin/env bash
# Deploys the shop onto a cluster that has the platform installed (see
# docs/deploying-gke.md): builds the two images with ko, pins them by digest in
# a kustomization of its own (under .wdm/deploy, on top of the chosen
# overlay), then applies the overlay phase by phase, waiting for each:
#
#   namespace  the namespace and the NetworkPolicies
#   data       Postgres (CloudNativePG) and RabbitMQ clusters, the Broker
#   migrate    the migration Job (needs the databases and their secrets)
#   bindings   the SinkBinding (needs the Broker's address)
#   services   the Knative Services (their first revisions need the secrets,
#              the migrated schema and K_SINK from the SinkBinding)
#   routing    Triggers, PingSource, HTTPRoutes, Gateway, GKE policies,
#              monitoring (Triggers need their subscriber Services)
#
# One `kubectl apply -k` would create the Services before the secrets, the
# Broker and the SinkBinding are ready, and their first revisions could miss
# their progress deadline. knative/deploy_test.go runs this script against a
# recording kubectl and checks the order.
#
#   KO_DOCKER_REPO=europe-west4-docker.pkg.dev/PROJECT/webshop knative/deploy.sh [gke|bench]
#
# On the local cluster (docs/cluster.md) `make cluster-deploy` runs it as
#   KO="wdm-cluster ko" KO_DOCKER_REPO=dev.local/webshop knative/deploy.sh local
# where wdm-cluster builds the images into the cluster's containerd instead
# of pushing them, and the data phase waits for its Postgres StatefulSet
# instead of the operators' clusters.
set -euo pipefail

overlay=${1:-gke}
: "${KO_DOCKER_REPO:?set KO_DOCKER_REPO to the image registry path, e.g. europe-west4-docker.pkg.dev/PROJECT/webshop}"
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WDM_DEPLOY_DIR:-$root/.wdm/deploy}
timeout=${DEPLOY_TIMEOUT:-15m}
namespace=webshop
kubectl=${KUBECTL:-kubectl}
ko=${KO:-ko}

if [[ ! -f $root/knative/overlays/$overlay/kustomization.yaml ]]; then
	echo "no overlay knative/overlays/$overlay" >&2
	exit 2
fi

# The image names the overlay gives its placeholders; the digests built
# here replace them.
case $overlay in
local) placeholder=dev.local/webshop ;;
*) placeholder=europe-west4-docker.pkg.dev/my-project/webshop ;;
esac

# ko build --bare prints REPOSITORY@sha256:DIGEST of what it pushed.
build() {
	# $ko unquoted: it may be a command with arguments (wdm-cluster ko).
	(cd "$root" && KO_DOCKER_REPO=$KO_DOCKER_REPO/$1 $ko build --bare "./cmd/$1")
}
function_ref=$(build function)
migrate_ref=$(build migrate)

# Images an overlay runs besides the two built here, already in the
# cluster: "NAME=REPOSITORY@sha256:DIGEST ..." (the local Postgres).
extra=""
for pair in ${EXTRA_IMAGES:-}; do
	ref=${pair#*=}
	extra+=$'\n'"  - name: ${pair%%=*}"$'\n'"    newName: ${ref%@*}"$'\n'"    digest: ${ref#*@}"
done

mkdir -p "$work"
# kustomize takes a base only by a relative path.
base=$(realpath --relative-to="$work" "$root/knative/overlays/$overlay")
cat >"$work/kustomization.yaml" <<YAML
# Written by knative/deploy.sh: overlay $overlay with the images just built.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $base
images:
  - name: $placeholder/function
    newName: ${function_ref%@*}
    digest: ${function_ref#*@}
  - name: $placeholder/migrate
    newName: ${migrate_ref%@*}
    digest: ${migrate_ref#*@}$extra
YAML

phase() {
	echo "== phase $1" >&2
	"$kubectl" apply -k "$work" -l "webshop.wdm/phase=$1"
}
wait_for() {
	"$kubectl" -n "$namespace" wait --timeout="$timeout" "$@"
}

phase namespace
wait_for --for=jsonpath='{.status.phase}'=Active "namespace/$namespace"

phase data
case $overlay in
local)
	"$kubectl" -n "$namespace" rollout status --timeout="$timeout" statefulset/webshop-postgres
	;;
*)
	wait_for --for=condition=Ready clusters.postgresql.cnpg.io --all
	wait_for --for=condition=AllReplicasReady rabbitmqclusters.rabbitmq.com --all
	;;
esac
wait_for --for=condition=Ready brokers.eventing.knative.dev --all

phase migrate
wait_for --for=condition=Complete job/webshop-migrate

phase bindings
wait_for --for=condition=Ready sinkbindings.sources.knative.dev --all

phase services
wait_for --for=condition=Ready services.serving.knative.dev --all

phase routing
wait_for --for=condition=Ready triggers.eventing.knative.dev --all
wait_for --for=condition=Programmed gateways.gateway.networking.k8s.io/webshop

if [[ $overlay == local ]]; then
	echo "public address: the cluster's forwarded ingress port (127.0.0.1:18080 unless WDM_CLUSTER_INGRESS_PORT)"
else
	echo "public address: $("$kubectl" -n "$namespace" get gateways.gateway.networking.k8s.io/webshop -o jsonpath='{.status.addresses[0].value}')"
fi
