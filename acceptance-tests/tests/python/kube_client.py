"""Drives a Kubernetes API with the official Python client, as an operator's script would.

Run by `tests/kube_python.rs` with KUBECONFIG set: `python kube_client.py NAMESPACE GROUP`. It works in
NAMESPACE (which it creates) and with a CRD of GROUP, and checks every answer against Kubernetes semantics
(status codes, resourceVersion rules, field ownership, generation). It leaves NAMESPACE, its server-side
applied ConfigMap `applied` and the CRD behind for the Rust test to inspect and clean up. Any failed check
raises, so the process exits non-zero with a traceback.
"""

import sys
import threading
import time

from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def refused(call, code, reason):
    """Runs `call`, which must fail with HTTP `code` and a Status whose reason is `reason`."""
    try:
        call()
    except ApiException as e:
        expect(e.status == code, f"wanted {code} {reason}, got {e.status}: {e.body}")
        expect(f'"reason":"{reason}"' in e.body.replace(" ", ""), f"wanted reason {reason}: {e.body}")
        return e
    raise AssertionError(f"wanted {code} {reason}, the call succeeded")


def namespaces_and_configmaps(core, ns):
    made = core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=ns, labels={"suite": "python-client"}))
    )
    expect(made.status.phase == "Active", f"a new namespace is Active: {made.status}")
    expect(core.read_namespace(ns).metadata.uid == made.metadata.uid, "read gives the created namespace")
    listed = core.list_namespace(label_selector="suite=python-client")
    expect(ns in [n.metadata.name for n in listed.items], "the label selector finds the namespace")
    patched = core.patch_namespace(ns, {"metadata": {"labels": {"stage": "patched"}}})
    # The API server adds the immutable name label to every namespace.
    want = {"suite": "python-client", "stage": "patched", "kubernetes.io/metadata.name": ns}
    expect(patched.metadata.labels == want, patched.metadata.labels)

    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings", labels={"app": "py"}), data={"a": "1"})
    created = core.create_namespaced_config_map(ns, cm)
    refused(lambda: core.create_namespaced_config_map(ns, cm), 409, "AlreadyExists")
    first_rv = created.metadata.resource_version

    created.data["a"] = "2"
    replaced = core.replace_namespaced_config_map("settings", ns, created)
    expect(replaced.data == {"a": "2"}, replaced.data)
    expect(int(replaced.metadata.resource_version) > int(first_rv), "a write moves the resourceVersion on")
    created.metadata.resource_version = first_rv
    refused(lambda: core.replace_namespaced_config_map("settings", ns, created), 409, "Conflict")

    core.patch_namespaced_config_map("settings", ns, {"data": {"b": "3"}})
    expect(core.read_namespaced_config_map("settings", ns).data == {"a": "2", "b": "3"}, "patched")
    selected = core.list_namespaced_config_map(ns, label_selector="app=py")
    expect([c.metadata.name for c in selected.items] == ["settings"], "label selector on configmaps")
    expect(selected.metadata.resource_version, "a list carries a resourceVersion")

    core.delete_namespaced_config_map("settings", ns)
    refused(lambda: core.read_namespaced_config_map("settings", ns), 404, "NotFound")


def watch_sees_a_create(core, ns):
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    creator = threading.Timer(
        0.5,
        lambda: core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="watched"), data={"seen": "yes"})
        ),
    )
    creator.start()
    w = watch.Watch()
    seen = None
    for event in w.stream(core.list_namespaced_config_map, ns, resource_version=start, timeout_seconds=20):
        if event["object"].metadata.name == "watched":
            seen = event
            w.stop()
    creator.join()
    expect(seen is not None, "the watch saw the ConfigMap created after it started")
    expect(seen["type"] == "ADDED", f"a create is ADDED: {seen['type']}")
    expect(seen["object"].data == {"seen": "yes"}, seen["object"].data)
    expect(int(seen["object"].metadata.resource_version) > int(start), "events are newer than the watch's start")


def server_side_apply(api, core, ns):
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="applied"), data={"owner": "update"})
    )
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"owner": "apply"}}

    def apply(force):
        return api.call_api(
            "/api/v1/namespaces/{namespace}/configmaps/{name}",
            "PATCH",
            path_params={"namespace": ns, "name": "applied"},
            query_params=[("fieldManager", "python-apply"), ("force", "true" if force else "false")],
            header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
            body=body,
            response_type="object",
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
        )

    conflict = refused(lambda: apply(False), 409, "Conflict")
    expect(".data.owner" in conflict.body, f"the conflict names the field: {conflict.body}")
    forced = apply(True)
    expect(forced["data"] == {"owner": "apply"}, forced)

    # The dynamic client's apply (discovery first, then the same PATCH) agrees.
    configmaps = dynamic.DynamicClient(api).resources.get(api_version="v1", kind="ConfigMap")
    body["data"]["extra"] = "dynamic"
    again = configmaps.server_side_apply(body=body, namespace=ns, field_manager="python-apply", force_conflicts=True)
    expect(again.data.owner == "apply" and again.data.extra == "dynamic", again.data)
    managers = {(m.manager, m.operation) for m in again.metadata.managedFields}
    expect(("python-apply", "Apply") in managers, f"the applier owns its fields: {managers}")


def custom_objects(api, group, ns):
    ext = client.ApiextensionsV1Api(api)
    name = f"widgets.{group}"
    schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {"size": {"type": "integer"}, "color": {"type": "string"}}},
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
        },
    }
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                }
            ],
        },
    }
    ext.create_custom_resource_definition(crd)
    deadline = time.time() + 30
    while True:
        conditions = ext.read_custom_resource_definition(name).status.conditions or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            break
        expect(time.time() < deadline, f"CRD {name} established within 30 s: {conditions}")
        time.sleep(0.2)

    objects = client.CustomObjectsApi(api)
    widget = {
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "labels": {"shape": "round"}},
        "spec": {"size": 1, "color": "red"},
    }
    # Discovery may take a moment to serve a just-established CRD on a real cluster.
    while True:
        try:
            made = objects.create_namespaced_custom_object(group, "v1", ns, "widgets", widget)
            break
        except ApiException as e:
            expect(e.status == 404 and time.time() < deadline, f"creating a widget: {e.status} {e.body}")
            time.sleep(0.2)
    expect(made["metadata"]["generation"] == 1, f"custom resources start at generation 1: {made['metadata']}")
    got = objects.get_namespaced_custom_object(group, "v1", ns, "widgets", "w1")
    expect(got["spec"] == {"size": 1, "color": "red"}, got)
    listed = objects.list_namespaced_custom_object(group, "v1", ns, "widgets", label_selector="shape=round")
    expect([o["metadata"]["name"] for o in listed["items"]] == ["w1"], listed)
    expect(listed["kind"] == "WidgetList", listed["kind"])

    patched = objects.patch_namespaced_custom_object(group, "v1", ns, "widgets", "w1", {"spec": {"size": 2}})
    expect(patched["spec"] == {"size": 2, "color": "red"}, patched)
    expect(patched["metadata"]["generation"] == 2, "a spec change bumps generation")

    status = objects.patch_namespaced_custom_object_status(
        group, "v1", ns, "widgets", "w1", {"status": {"ready": True}}
    )
    expect(status["status"] == {"ready": True}, status)
    expect(status["metadata"]["generation"] == 2, "a status write does not bump generation")

    unversioned = dict(patched)
    unversioned["metadata"] = {k: v for k, v in patched["metadata"].items() if k != "resourceVersion"}
    refused(
        lambda: objects.replace_namespaced_custom_object(group, "v1", ns, "widgets", "w1", unversioned), 422, "Invalid"
    )
    current = objects.get_namespaced_custom_object(group, "v1", ns, "widgets", "w1")
    current["spec"]["color"] = "blue"
    replaced = objects.replace_namespaced_custom_object(group, "v1", ns, "widgets", "w1", current)
    expect(replaced["spec"]["color"] == "blue" and replaced["status"] == {"ready": True}, replaced)

    objects.delete_namespaced_custom_object(group, "v1", ns, "widgets", "w1")
    refused(lambda: objects.get_namespaced_custom_object(group, "v1", ns, "widgets", "w1"), 404, "NotFound")


def nodes(core):
    listed = core.list_node()
    expect(listed.items, "a cluster has nodes")
    for node in listed.items:
        ready = [c for c in node.status.conditions if c.type == "Ready"]
        expect(ready and ready[0].status == "True", f"node {node.metadata.name} is Ready")
    print("nodes:", " ".join(sorted(n.metadata.name for n in listed.items)))


def main():
    ns, group = sys.argv[1], sys.argv[2]
    config.load_kube_config()
    api = client.ApiClient()
    core = client.CoreV1Api(api)
    namespaces_and_configmaps(core, ns)
    watch_sees_a_create(core, ns)
    server_side_apply(api, core, ns)
    custom_objects(api, group, ns)
    nodes(core)
    print("python client scenario: ok")


if __name__ == "__main__":
    main()
