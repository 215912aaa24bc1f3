"""Drives the lab's EC2 with boto3, configured only by the environment a user's lab.env gives it.

Run by `tests/lab_boto3.rs` with AWS_ENDPOINT_URL_EC2, AWS_CA_BUNDLE, AWS_REGION and the static keys set:
`python ec2_client.py VPC_ID NODE_ROUTE_TABLE_ID GATEWAY_INSTANCE_ID GATEWAY_ENI_ID`. It reads the baseline
and the gateway, makes the routes an egress fabric makes (create, replace, delete) and checks EC2's answers,
dry runs included. It puts the node table back as it found it. Any failed check raises, so the process exits
non-zero with a traceback.
"""

import sys

import boto3
from botocore.exceptions import ClientError


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def refused(call, code):
    """Runs `call`, which must fail with EC2 error `code`."""
    try:
        call()
    except ClientError as e:
        got = e.response["Error"]["Code"]
        expect(got == code, f"wanted {code}, got {got}: {e}")
        return e
    raise AssertionError(f"wanted {code}, the call succeeded")


def routes(ec2, table_id):
    tables = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"]
    return {r.get("DestinationCidrBlock"): r for r in tables[0]["Routes"]}


def main():
    vpc_id, table_id, instance_id, eni_id = sys.argv[1:5]
    ec2 = boto3.client("ec2")
    expect(ec2.meta.endpoint_url.startswith("https://127.0.0.1:"), f"endpoint {ec2.meta.endpoint_url}")

    # The baseline: the node table is in the VPC and its default route goes to the internet gateway.
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    expect(table_id in [t["RouteTableId"] for t in tables], f"{table_id} not in {vpc_id}")
    before = routes(ec2, table_id)
    igw = before["0.0.0.0/0"]["GatewayId"]
    expect(igw.startswith("igw-"), f"default route to {igw}")
    local = [d for d, r in before.items() if r.get("GatewayId") == "local"]
    expect(len(local) == 1, f"one local route: {before}")

    # The gateway: a running instance with one interface that does no source/destination check.
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    instance = reservations[0]["Instances"][0]
    expect(instance["State"]["Name"] == "running", f"state {instance['State']}")
    expect([n["NetworkInterfaceId"] for n in instance["NetworkInterfaces"]] == [eni_id], "the gateway's ENI")
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
    expect(eni["SourceDestCheck"] is False, f"source/dest check {eni['SourceDestCheck']}")
    expect(eni["PrivateIpAddress"] == instance["PrivateIpAddress"], "the instance's IP is the ENI's")
    by_subnet = ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [eni["SubnetId"]]}])
    expect(eni_id in [n["NetworkInterfaceId"] for n in by_subnet["NetworkInterfaces"]], "ENI filter by subnet")

    # Dry runs answer DryRunOperation and change nothing, reads and writes alike.
    refused(lambda: ec2.describe_route_tables(RouteTableIds=[table_id], DryRun=True), "DryRunOperation")
    refused(
        lambda: ec2.create_route(
            RouteTableId=table_id, DestinationCidrBlock="10.99.0.0/16", NetworkInterfaceId=eni_id, DryRun=True
        ),
        "DryRunOperation",
    )
    expect("10.99.0.0/16" not in routes(ec2, table_id), "a dry run created a route")

    # Create, then EC2's refusals: the same destination again, an unknown table.
    ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="10.99.0.0/16", NetworkInterfaceId=eni_id)
    expect(routes(ec2, table_id)["10.99.0.0/16"]["NetworkInterfaceId"] == eni_id, "route to the ENI")
    refused(
        lambda: ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="10.99.0.0/16", NetworkInterfaceId=eni_id),
        "RouteAlreadyExists",
    )
    refused(
        lambda: ec2.create_route(RouteTableId="rtb-00000000", DestinationCidrBlock="10.98.0.0/16", GatewayId=igw),
        "InvalidRouteTableID.NotFound",
    )

    # Replace the default route with the gateway's ENI and back, as the fabric does.
    ec2.replace_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", NetworkInterfaceId=eni_id)
    default = routes(ec2, table_id)["0.0.0.0/0"]
    expect(default.get("NetworkInterfaceId") == eni_id and "GatewayId" not in default, f"replaced: {default}")
    refused(
        lambda: ec2.replace_route(RouteTableId=table_id, DestinationCidrBlock="10.97.0.0/16", GatewayId=igw),
        "InvalidParameterValue",
    )
    ec2.replace_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)

    # Delete: once, then not found; the local route cannot go.
    ec2.delete_route(RouteTableId=table_id, DestinationCidrBlock="10.99.0.0/16")
    refused(lambda: ec2.delete_route(RouteTableId=table_id, DestinationCidrBlock="10.99.0.0/16"), "InvalidRoute.NotFound")
    refused(lambda: ec2.delete_route(RouteTableId=table_id, DestinationCidrBlock=local[0]), "InvalidParameterValue")

    after = routes(ec2, table_id)
    expect(sorted(after) == sorted(before), f"routes left as found: {sorted(before)} -> {sorted(after)}")
    expect(after["0.0.0.0/0"]["GatewayId"] == igw, "the default route is back on the internet gateway")
    print("boto3 scenario: ok")


if __name__ == "__main__":
    main()
