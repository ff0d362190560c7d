#!/usr/bin/python3
"""An example custom controller in Python, with the official Kubernetes client, against Berth.

It reconciles `Scaler` objects (scaler_crd.yaml): each names a Deployment in its namespace and the
replicas it should run. The loop is level-based, as a controller should be: on every Scaler event
(and on a periodic resync, which also catches changes to the Deployments) it reads the desired
state, sets the Deployment's /scale if it differs, and reports what it observed in the Scaler's
status. Nothing Berth-specific is used: the same program runs against Kubernetes.

Usage: scaler_controller.py [--kubeconfig FILE] [--namespace NS] [--resync SECONDS]
"""
import argparse
import logging
import sys
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

GROUP, VERSION, PLURAL = "example.berth.dev", "v1", "scalers"


def reconcile(apps, custom, scaler):
    ns = scaler["metadata"]["namespace"]
    name = scaler["metadata"]["name"]
    spec = scaler.get("spec", {})
    target, want = spec.get("deployment"), spec.get("replicas")
    status = {}
    try:
        scale = apps.read_namespaced_deployment_scale(target, ns)
        if scale.spec.replicas != want:
            apps.patch_namespaced_deployment_scale(target, ns, {"spec": {"replicas": want}})
            logging.info("scaled %s/%s from %s to %s (scaler %s)", ns, target, scale.spec.replicas, want, name)
        deployment = apps.read_namespaced_deployment(target, ns)
        status = {"readyReplicas": deployment.status.ready_replicas or 0,
                  "message": f"deployment {target} has {deployment.status.ready_replicas or 0}/{want} ready"}
    except ApiException as e:
        if e.status != 404:
            raise
        status = {"readyReplicas": 0, "message": f"deployment {target} not found"}
    if scaler.get("status") != status:
        custom.patch_namespaced_custom_object_status(GROUP, VERSION, ns, PLURAL, name, {"status": status})


def resync(apps, custom, namespace):
    if namespace:
        items = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]
    else:
        items = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
    for scaler in items:
        reconcile(apps, custom, scaler)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubeconfig")
    ap.add_argument("--namespace", default="")
    ap.add_argument("--resync", type=float, default=2.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s scaler %(message)s")
    config.load_kube_config(config_file=args.kubeconfig)
    apps, custom = client.AppsV1Api(), client.CustomObjectsApi()
    print("scaler controller running", flush=True)
    while True:
        try:
            resync(apps, custom, args.namespace)
            w = watch.Watch()
            lister = (custom.list_namespaced_custom_object if args.namespace else custom.list_cluster_custom_object)
            call_args = (GROUP, VERSION, args.namespace, PLURAL) if args.namespace else (GROUP, VERSION, PLURAL)
            # A short watch, then a full resync: Deployment changes are seen within --resync seconds.
            for event in w.stream(lister, *call_args, timeout_seconds=max(1, int(args.resync))):
                if event["type"] in ("ADDED", "MODIFIED"):
                    reconcile(apps, custom, event["object"])
        except ApiException as e:
            logging.warning("API error %s; retrying", e.status)
            time.sleep(1)
        except Exception as e:  # the apiserver restarting, a dropped connection
            logging.warning("%s; retrying", e)
            time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
