"""Drives the lab's ARM with the Azure SDK for Python, configured from the lab's lab.env.

Run by `tests/lab_azure_python.rs` with lab.env's variables set (AZURE_AUTHORITY_HOST, ARM_TENANT_ID,
ARM_CLIENT_ID, ARM_CLIENT_SECRET, ARM_SUBSCRIPTION_ID, AZURE_RESOURCE_MANAGER_ENDPOINT, AZURE_CA_FILE,
LAB_AZURE_RESOURCE_GROUP) and no argument. It gets a token with azure-identity's ClientSecretCredential
through the lab's authority host, then with azure-mgmt-network's NetworkManagementClient at its default
api-version lists the route tables, creates, reads and deletes a route, and checks ARM's answers (a missing
route is ResourceNotFound-style 404). It leaves the node table as it found it. Any failed check raises, so the
process exits non-zero with a traceback.
"""

import os

from azure.core.exceptions import ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import Route

SCOPE = "https://management.azure.com/.default"


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def main():
    env = os.environ
    ca_file = env["AZURE_CA_FILE"]
    credential = ClientSecretCredential(
        env["ARM_TENANT_ID"],
        env["ARM_CLIENT_ID"],
        env["ARM_CLIENT_SECRET"],
        authority=env["AZURE_AUTHORITY_HOST"],
        # A private authority host is not one Microsoft's instance discovery knows.
        disable_instance_discovery=True,
        connection_verify=ca_file,
    )
    token = credential.get_token(SCOPE)
    expect(token.token and token.expires_on > 0, "a bearer token with an expiry")

    client = NetworkManagementClient(
        credential,
        env["ARM_SUBSCRIPTION_ID"],
        base_url=env["AZURE_RESOURCE_MANAGER_ENDPOINT"],
        credential_scopes=[SCOPE],
        connection_verify=ca_file,
    )
    group = env["LAB_AZURE_RESOURCE_GROUP"]

    # The baseline's node table, in the group and in the subscription-wide list.
    tables = list(client.route_tables.list(group))
    expect([t.name for t in tables] == ["lab-nodes-rt"], f"tables in {group}: {[t.name for t in tables]}")
    expect("lab-nodes-rt" in [t.name for t in client.route_tables.list_all()], "list_all")
    table = client.route_tables.get(group, "lab-nodes-rt")
    before = sorted(r.name for r in table.routes)
    default = client.routes.get(group, "lab-nodes-rt", "default-internet")
    expect(default.address_prefix == "0.0.0.0/0" and default.next_hop_type == "Internet", f"{default}")
    expect(table.subnets and len(table.subnets) == 2, "associated with the two node subnets")

    # Create (a long-running operation the SDK polls to its end), read, replace, delete.
    route = Route(address_prefix="10.99.0.0/16", next_hop_type="VirtualAppliance", next_hop_ip_address="10.20.0.4")
    made = client.routes.begin_create_or_update(group, "lab-nodes-rt", "to-gateway", route).result()
    expect(made.provisioning_state == "Succeeded" and made.next_hop_ip_address == "10.20.0.4", f"{made}")
    expect(made.id.lower().endswith("/routetables/lab-nodes-rt/routes/to-gateway"), made.id)
    read = client.routes.get(group, "lab-nodes-rt", "to-gateway")
    expect(read.address_prefix == "10.99.0.0/16", f"{read}")
    route.next_hop_ip_address = "10.20.0.5"
    replaced = client.routes.begin_create_or_update(group, "lab-nodes-rt", "to-gateway", route).result()
    expect(replaced.next_hop_ip_address == "10.20.0.5", f"{replaced}")
    expect("to-gateway" in [r.name for r in client.routes.list(group, "lab-nodes-rt")], "routes.list")
    client.routes.begin_delete(group, "lab-nodes-rt", "to-gateway").result()
    try:
        client.routes.get(group, "lab-nodes-rt", "to-gateway")
        raise AssertionError("the deleted route is still there")
    except ResourceNotFoundError as e:
        expect(e.status_code == 404, f"status {e.status_code}")
    try:
        client.route_tables.get(group, "no-such-table")
        raise AssertionError("a missing table was found")
    except ResourceNotFoundError as e:
        expect(e.error.code == "ResourceNotFound", f"code {e.error.code}")

    after = sorted(r.name for r in client.route_tables.get(group, "lab-nodes-rt").routes)
    expect(after == before, f"routes left as found: {before} -> {after}")
    print("azure python scenario: ok")


if __name__ == "__main__":
    main()
