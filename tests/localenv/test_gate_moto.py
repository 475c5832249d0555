"""Tests of gate_moto.py: the PrivateLink connection lifecycle on top of moto.

They drive a real gate_moto server over HTTP with boto3, the way the Rust code
will: a provider account (moto's default 123456789012, static keys) owns an
NLB-backed endpoint service with AcceptanceRequired; consumers 222222222222 and
333333333333 are reached with sts:AssumeRole and create interface endpoints.
Run: make -f tools.mk test-localenv
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.error
import urllib.request

import boto3
import botocore.exceptions
import pytest
from botocore.exceptions import ClientError

from serving import serving

REGION = "us-east-1"
PROVIDER = "123456789012"
CONSUMER_A = "222222222222"
CONSUMER_B = "333333333333"
STRANGER = "444444444444"


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_url():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with tempfile.TemporaryFile() as log:
        with serving("gate_moto.py", "--port", "0", stderr=log, env=env) as (url, proc):
            yield url
        log.seek(0)
        stderr = log.read().decode(errors="replace")
        returncode = proc.returncode
        # A clean SIGTERM exit is part of the contract.
        assert returncode == 0, f"gate_moto exited {returncode}\n{stderr}"


def client(url: str, service: str, creds: dict | None = None):
    creds = creds or {"AccessKeyId": "testing", "SecretAccessKey": "testing"}
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
    )


def assume(url: str, account: str) -> dict:
    role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
    return client(url, "sts").assume_role(RoleArn=role, RoleSessionName="gate-test")["Credentials"]


class Consumer:
    """A consumer account with a VPC and two subnets in two AZs."""

    def __init__(self, url: str, account: str):
        self.account = account
        self.ec2 = client(url, "ec2", assume(url, account))
        assert client(url, "sts", assume(url, account)).get_caller_identity()["Account"] == account
        self.vpc_id = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnet_ids = [
            self.ec2.create_subnet(VpcId=self.vpc_id, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
            for cidr, az in (("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b"))
        ]

    def create_endpoint(self, service: dict) -> dict:
        return self.ec2.create_vpc_endpoint(
            VpcId=self.vpc_id,
            ServiceName=service["ServiceName"],
            VpcEndpointType="Interface",
            SubnetIds=self.subnet_ids,
        )["VpcEndpoint"]

    def state(self, endpoint_id: str) -> str:
        return self.ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["State"]


class World:
    def __init__(self, url: str):
        self.url = url
        self.ec2 = client(url, "ec2")
        self.sns = client(url, "sns")
        self.sqs = client(url, "sqs")
        vpc_id = self.ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"]
        subnet_id = self.ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.10.1.0/24", AvailabilityZone="us-east-1a")[
            "Subnet"
        ]["SubnetId"]
        self.nlb_arn = client(url, "elbv2").create_load_balancer(
            Name="gate-nlb", Subnets=[subnet_id], Type="network", Scheme="internal"
        )["LoadBalancers"][0]["LoadBalancerArn"]
        self.a = Consumer(url, CONSUMER_A)
        self.b = Consumer(url, CONSUMER_B)

    def service(self, acceptance_required: bool = True) -> dict:
        """A fresh endpoint service (tests stay independent) open to both consumers."""
        service = self.ec2.create_vpc_endpoint_service_configuration(
            NetworkLoadBalancerArns=[self.nlb_arn], AcceptanceRequired=acceptance_required
        )["ServiceConfiguration"]
        self.ec2.modify_vpc_endpoint_service_permissions(
            ServiceId=service["ServiceId"],
            AddAllowedPrincipals=[f"arn:aws:iam::{CONSUMER_A}:root", f"arn:aws:iam::{CONSUMER_B}:root"],
        )
        return service

    def connections(self, **kwargs) -> list[dict]:
        return self.ec2.describe_vpc_endpoint_connections(**kwargs)["VpcEndpointConnections"]

    def connection(self, endpoint_id: str) -> dict:
        (found,) = self.connections(Filters=[{"Name": "vpc-endpoint-id", "Values": [endpoint_id]}])
        return found

    def gate(self, path: str, body: dict | None = None) -> dict:
        data = None if body is None and not path.endswith("reset") else json.dumps(body or {}).encode()
        with urllib.request.urlopen(urllib.request.Request(self.url + path, data=data)) as response:
            return json.loads(response.read())


@pytest.fixture(scope="module")
def world(moto_url) -> World:
    return World(moto_url)


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


def test_endpoint_to_acceptance_required_service_starts_pending_with_dns(world):
    service = world.service()
    endpoint = world.a.create_endpoint(service)

    assert endpoint["State"] == "pendingAcceptance"
    assert endpoint["OwnerId"] == CONSUMER_A
    names = [d["DnsName"] for d in endpoint["DnsEntries"]]
    suffix = f".{service['ServiceId']}.{REGION}.vpce.amazonaws.com"
    assert len(names) == 3 and all(n.startswith(endpoint["VpcEndpointId"] + "-") for n in names)
    assert all(n.endswith(suffix) for n in names)
    assert names[1].endswith("-us-east-1a" + suffix) and names[2].endswith("-us-east-1b" + suffix)
    assert all(d["HostedZoneId"].startswith("Z") for d in endpoint["DnsEntries"])
    assert world.a.state(endpoint["VpcEndpointId"]) == "pendingAcceptance"


def test_auto_accept_service_makes_endpoint_available(world):
    service = world.service(acceptance_required=False)
    endpoint = world.a.create_endpoint(service)
    assert endpoint["State"] == "available"
    assert world.connection(endpoint["VpcEndpointId"])["VpcEndpointState"] == "available"


def test_only_allowed_principals_can_connect(world):
    service = world.service()
    stranger = Consumer(world.url, STRANGER)
    with pytest.raises(ClientError) as error:
        stranger.create_endpoint(service)
    assert error.value.response["Error"]["Code"] == "InvalidServiceName"


def test_provider_describes_connections_with_filters_and_pagination(world):
    service = world.service()
    from_a = [world.a.create_endpoint(service)["VpcEndpointId"] for _ in range(4)]
    from_b = [world.b.create_endpoint(service)["VpcEndpointId"] for _ in range(3)]
    by_service = [{"Name": "service-id", "Values": [service["ServiceId"]]}]

    everything = world.connections(Filters=by_service)
    assert sorted(c["VpcEndpointId"] for c in everything) == sorted(from_a + from_b)
    one = next(c for c in everything if c["VpcEndpointId"] == from_b[0])
    assert one["ServiceId"] == service["ServiceId"]
    assert one["VpcEndpointOwner"] == CONSUMER_B
    assert one["VpcEndpointState"] == "pendingAcceptance"
    assert one["VpcEndpointRegion"] == REGION
    assert one["IpAddressType"] == "ipv4"
    assert one["VpcEndpointConnectionId"].startswith("vpce-con-")
    assert one["NetworkLoadBalancerArns"] == [world.nlb_arn]
    assert len(one["DnsEntries"]) == 3 and "CreationTimestamp" in one

    page1 = world.ec2.describe_vpc_endpoint_connections(Filters=by_service, MaxResults=5)
    assert len(page1["VpcEndpointConnections"]) == 5 and page1["NextToken"]
    page2 = world.ec2.describe_vpc_endpoint_connections(
        Filters=by_service, MaxResults=5, NextToken=page1["NextToken"]
    )
    assert len(page2["VpcEndpointConnections"]) == 2 and "NextToken" not in page2
    paged = [c["VpcEndpointId"] for c in page1["VpcEndpointConnections"] + page2["VpcEndpointConnections"]]
    assert sorted(paged) == sorted(from_a + from_b)
    # The SDK paginator follows NextToken too.
    pages = world.ec2.get_paginator("describe_vpc_endpoint_connections").paginate(
        Filters=by_service, PaginationConfig={"PageSize": 5}
    )
    assert sum(len(p["VpcEndpointConnections"]) for p in pages) == 7

    owned_by_b = world.connections(Filters=by_service + [{"Name": "vpc-endpoint-owner", "Values": [CONSUMER_B]}])
    assert sorted(c["VpcEndpointId"] for c in owned_by_b) == sorted(from_b)
    two_ids = world.connections(Filters=[{"Name": "vpc-endpoint-id", "Values": [from_a[0], from_b[0]]}])
    assert len(two_ids) == 2
    pending = world.connections(
        Filters=by_service + [{"Name": "vpc-endpoint-state", "Values": ["pendingAcceptance"]}]
    )
    assert len(pending) == 7
    assert world.connections(Filters=by_service + [{"Name": "vpc-endpoint-region", "Values": ["eu-west-1"]}]) == []
    assert len(world.connections(Filters=by_service + [{"Name": "ip-address-type", "Values": ["ipv4"]}])) == 7

    for bad in ({"MaxResults": 4}, {"Filters": [{"Name": "vpc-id", "Values": ["x"]}]}, {"NextToken": "garbage!"}):
        with pytest.raises(ClientError) as error:
            world.ec2.describe_vpc_endpoint_connections(**bad)
        assert error.value.response["Error"]["Code"] in ("InvalidParameterValue", "InvalidPaginationToken")


def test_accept_reject_delete_lifecycle(world):
    service = world.service()
    service_id = service["ServiceId"]
    accepted = world.a.create_endpoint(service)["VpcEndpointId"]
    rejected = world.b.create_endpoint(service)["VpcEndpointId"]

    result = world.ec2.accept_vpc_endpoint_connections(ServiceId=service_id, VpcEndpointIds=[accepted])
    assert result["Unsuccessful"] == []
    assert world.connection(accepted)["VpcEndpointState"] == "available"
    assert world.a.state(accepted) == "available"

    result = world.ec2.reject_vpc_endpoint_connections(ServiceId=service_id, VpcEndpointIds=[rejected])
    assert result["Unsuccessful"] == []
    assert world.connection(rejected)["VpcEndpointState"] == "rejected"
    assert world.b.state(rejected) == "rejected"

    # Per-endpoint failures are items in Unsuccessful, not errors.
    result = world.ec2.accept_vpc_endpoint_connections(
        ServiceId=service_id, VpcEndpointIds=[accepted, rejected, "vpce-0123456789abcdef0"]
    )
    errors = {item["ResourceId"]: item["Error"]["Code"] for item in result["Unsuccessful"]}
    assert errors == {
        accepted: "InvalidState",
        rejected: "InvalidState",
        "vpce-0123456789abcdef0": "InvalidVpcEndpoint.NotFound",
    }
    # An endpoint of another service is "not found" for this one.
    other = world.a.create_endpoint(world.service())["VpcEndpointId"]
    result = world.ec2.accept_vpc_endpoint_connections(ServiceId=service_id, VpcEndpointIds=[other])
    assert result["Unsuccessful"][0]["Error"]["Code"] == "InvalidVpcEndpoint.NotFound"

    # Only the service owner may accept or reject.
    pending = world.a.create_endpoint(service)["VpcEndpointId"]
    for call in (world.a.ec2.accept_vpc_endpoint_connections, world.a.ec2.reject_vpc_endpoint_connections):
        with pytest.raises(ClientError) as error:
            call(ServiceId=service_id, VpcEndpointIds=[pending])
        assert error.value.response["Error"]["Code"] == "InvalidVpcEndpointServiceId.NotFound"
    assert world.connection(pending)["VpcEndpointState"] == "pendingAcceptance"

    world.a.ec2.delete_vpc_endpoints(VpcEndpointIds=[accepted])
    assert world.connection(accepted)["VpcEndpointState"] == "deleted"


def test_provider_may_reject_an_available_connection(world):
    # AWS: "You can reject an endpoint connection after it's in the available
    # state" (PrivateLink guide, accept-reject-endpoint-requests): revocation.
    service = world.service()
    service_id = service["ServiceId"]
    endpoint = world.a.create_endpoint(service)["VpcEndpointId"]
    world.ec2.accept_vpc_endpoint_connections(ServiceId=service_id, VpcEndpointIds=[endpoint])
    available = world.connections(
        Filters=[
            {"Name": "service-id", "Values": [service_id]},
            {"Name": "vpc-endpoint-state", "Values": ["available"]},
        ]
    )
    assert [c["VpcEndpointId"] for c in available] == [endpoint]

    result = world.ec2.reject_vpc_endpoint_connections(ServiceId=service_id, VpcEndpointIds=[endpoint])
    assert result["Unsuccessful"] == []
    assert world.connection(endpoint)["VpcEndpointState"] == "rejected"
    assert world.a.state(endpoint) == "rejected"
    # Rejected is final: neither a second reject nor an accept changes it.
    for call in (world.ec2.reject_vpc_endpoint_connections, world.ec2.accept_vpc_endpoint_connections):
        result = call(ServiceId=service_id, VpcEndpointIds=[endpoint])
        assert result["Unsuccessful"][0]["Error"]["Code"] == "InvalidState"


def test_connection_notifications_reach_a_subscribed_queue(world):
    service = world.service()
    topic_arn = world.sns.create_topic(Name="gate-connections")["TopicArn"]
    queue_url = world.sqs.create_queue(QueueName="gate-connections")["QueueUrl"]
    queue_arn = world.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    world.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    notification = world.ec2.create_vpc_endpoint_connection_notification(
        ServiceId=service["ServiceId"],
        ConnectionNotificationArn=topic_arn,
        ConnectionEvents=["Connect", "Accept", "Reject", "Delete"],
    )["ConnectionNotification"]
    assert notification["ConnectionNotificationId"].startswith("vpce-nfn-")
    listed = world.ec2.describe_vpc_endpoint_connection_notifications()["ConnectionNotificationSet"]
    assert notification["ConnectionNotificationId"] in [n["ConnectionNotificationId"] for n in listed]

    endpoint_id = world.a.create_endpoint(service)["VpcEndpointId"]
    world.ec2.accept_vpc_endpoint_connections(ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint_id])
    world.a.ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])

    messages = []
    for _ in range(10):
        batch = world.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        messages += batch
        if len(messages) >= 3 or not batch:
            break
    envelopes = [json.loads(m["Body"]) for m in messages]
    assert [e["Subject"] for e in envelopes] == ["Endpoint Connection Notification"] * 3
    assert all(e["TopicArn"] == topic_arn for e in envelopes)
    bodies = [json.loads(e["Message"]) for e in envelopes]
    assert [(b["Event"], b["EndpointState"]) for b in bodies] == [
        ("Connect", "pendingAcceptance"),
        ("Accept", "available"),
        ("Delete", "deleted"),
    ]
    for body in bodies:
        assert body["ConnectionNotificationArn"] == topic_arn
        assert body["ServiceId"] == service["ServiceId"]
        assert body["EndpointId"] == endpoint_id
        assert body["EndpointOwner"] == CONSUMER_A
        assert body["Time"].endswith("Z")

    result = world.ec2.delete_vpc_endpoint_connection_notifications(
        ConnectionNotificationIds=[notification["ConnectionNotificationId"], "vpce-nfn-00000000000000000"]
    )
    assert [u["ResourceId"] for u in result["Unsuccessful"]] == ["vpce-nfn-00000000000000000"]


def test_notifications_filter_on_the_service_and_a_service_takes_the_managing_tag(world):
    # What the CLI's plan and apply call for a service under services:.
    first, second = world.service(), world.service()
    topic_arn = world.sns.create_topic(Name="gate-managed-connections")["TopicArn"]
    created = [
        world.ec2.create_vpc_endpoint_connection_notification(
            ServiceId=s["ServiceId"], ConnectionNotificationArn=topic_arn, ConnectionEvents=["Connect"]
        )["ConnectionNotification"]["ConnectionNotificationId"]
        for s in (first, second)
    ]
    listed = world.ec2.describe_vpc_endpoint_connection_notifications(
        Filters=[{"Name": "service-id", "Values": [first["ServiceId"]]}]
    )["ConnectionNotificationSet"]
    assert [n["ConnectionNotificationId"] for n in listed] == [created[0]]
    with pytest.raises(ClientError, match="InvalidParameterValue"):
        world.ec2.describe_vpc_endpoint_connection_notifications(Filters=[{"Name": "owner", "Values": ["x"]}])

    tag = {"Key": "endpoint-gate:managed", "Value": "true"}
    world.ec2.create_tags(Resources=[first["ServiceId"]], Tags=[tag])
    tags = world.ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [first["ServiceId"]]}])["Tags"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("endpoint-gate:managed", "true")]
    world.ec2.delete_tags(Resources=[first["ServiceId"]], Tags=[tag])
    assert not world.ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [first["ServiceId"]]}])["Tags"]
    world.ec2.delete_vpc_endpoint_connection_notifications(ConnectionNotificationIds=created)


def test_call_counter_counts_each_action(world):
    service = world.service()
    endpoint_id = world.a.create_endpoint(service)["VpcEndpointId"]
    world.gate("/_gate/calls/reset")
    world.ec2.accept_vpc_endpoint_connections(ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint_id])
    world.connections(Filters=[{"Name": "service-id", "Values": [service["ServiceId"]]}])
    world.connections(Filters=[{"Name": "service-id", "Values": [service["ServiceId"]]}])
    assert world.gate("/_gate/calls") == {
        "AcceptVpcEndpointConnections": 1,
        "DescribeVpcEndpointConnections": 2,
    }
    other = world.service()
    world.ec2.reject_vpc_endpoint_connections(ServiceId=other["ServiceId"], VpcEndpointIds=[endpoint_id])
    assert world.gate(f"/_gate/calls?service_id={service['ServiceId']}") == {"AcceptVpcEndpointConnections": 1}
    assert world.gate(f"/_gate/calls?service_id={other['ServiceId']}") == {
        "ModifyVpcEndpointServicePermissions": 1,
        "RejectVpcEndpointConnections": 1,
    }
    # Per endpoint: each call that names it, once however often it is named.
    world.ec2.accept_vpc_endpoint_connections(ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint_id] * 2)
    assert world.gate(f"/_gate/calls?endpoint_id={endpoint_id}") == {
        "AcceptVpcEndpointConnections": 2,
        "RejectVpcEndpointConnections": 1,
    }
    assert world.gate("/_gate/calls?endpoint_id=vpce-00000000000000000") == {}
    world.gate("/_gate/calls/reset")
    assert world.gate("/_gate/calls") == {}
    assert world.gate(f"/_gate/calls?service_id={service['ServiceId']}") == {}
    assert world.gate(f"/_gate/calls?endpoint_id={endpoint_id}") == {}


def test_only_existing_roles_can_be_assumed(world):
    sts = client(world.url, "sts")
    reader = f"arn:aws:iam::{CONSUMER_A}:role/EndpointGateCidrReader"
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        sts.assume_role(RoleArn=reader, RoleSessionName="gate")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    iam = client(world.url, "iam", assume(world.url, CONSUMER_A))
    iam.create_role(RoleName="EndpointGateCidrReader", AssumeRolePolicyDocument="{}")
    with pytest.raises(botocore.exceptions.ClientError) as untrusted:
        sts.assume_role(RoleArn=reader, RoleSessionName="gate")
    assert untrusted.value.response["Error"]["Code"] == "AccessDenied", "a trust policy that admits nobody"

    def trust(*statements):
        return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})

    allow = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{PROVIDER}:root"}, "Action": "sts:AssumeRole"}
    iam.update_assume_role_policy(RoleName="EndpointGateCidrReader", PolicyDocument=trust(allow))
    creds = sts.assume_role(RoleArn=reader, RoleSessionName="gate")["Credentials"]
    assert client(world.url, "sts", creds).get_caller_identity()["Account"] == CONSUMER_A

    # The consumer switches its role off: a Deny, or an external id we do not know.
    deny = dict(allow, Effect="Deny")
    iam.update_assume_role_policy(RoleName="EndpointGateCidrReader", PolicyDocument=trust(allow, deny))
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        sts.assume_role(RoleArn=reader, RoleSessionName="gate")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    with_id = dict(allow, Condition={"StringEquals": {"sts:ExternalId": "secret-id"}})
    iam.update_assume_role_policy(RoleName="EndpointGateCidrReader", PolicyDocument=trust(with_id))
    with pytest.raises(botocore.exceptions.ClientError):
        sts.assume_role(RoleArn=reader, RoleSessionName="gate", ExternalId="wrong-id")
    assert sts.assume_role(RoleArn=reader, RoleSessionName="gate", ExternalId="secret-id")["Credentials"]


def test_seed_creates_pending_connections_in_bulk(world):
    service = world.service()
    started = time.monotonic()
    seeded = world.gate("/_gate/seed", {"service_id": service["ServiceId"], "owner": CONSUMER_B, "count": 500})
    assert time.monotonic() - started < 10
    ids = seeded["endpoint_ids"]
    assert len(ids) == 500 and len(set(ids)) == 500

    by_service = [{"Name": "service-id", "Values": [service["ServiceId"]]}]
    pages = list(
        world.ec2.get_paginator("describe_vpc_endpoint_connections").paginate(
            Filters=by_service, PaginationConfig={"PageSize": 200}
        )
    )
    assert len(pages) == 3
    connections = [c for p in pages for c in p["VpcEndpointConnections"]]
    assert sorted(c["VpcEndpointId"] for c in connections) == sorted(ids)
    assert {c["VpcEndpointState"] for c in connections} == {"pendingAcceptance"}
    assert {c["VpcEndpointOwner"] for c in connections} == {CONSUMER_B}

    # Seeded connections behave like real ones, and their VPC has a real CIDR.
    result = world.ec2.accept_vpc_endpoint_connections(ServiceId=service["ServiceId"], VpcEndpointIds=ids[:2])
    assert result["Unsuccessful"] == []
    endpoint = world.b.ec2.describe_vpc_endpoints(VpcEndpointIds=[ids[0]])["VpcEndpoints"][0]
    assert endpoint["State"] == "available"
    vpc = world.b.ec2.describe_vpcs(VpcIds=[endpoint["VpcId"]])["Vpcs"][0]
    assert vpc["CidrBlock"]


def test_unknown_gate_route_is_404_and_moto_routes_still_work(world):
    with pytest.raises(urllib.error.HTTPError) as error:
        world.gate("/_gate/nope")
    assert error.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as error:
        world.gate("/_gate/seed", {"service_id": "vpce-svc-00000000", "owner": CONSUMER_A, "count": 1})
    assert error.value.code == 400
    # moto's own API stays reachable next to the /_gate/ routes.
    with urllib.request.urlopen(world.url + "/moto-api/data.json") as response:
        assert response.status == 200


def test_concurrent_accepts_of_one_endpoint_succeed_once(world):
    from concurrent.futures import ThreadPoolExecutor

    service = world.service()
    endpoint_id = world.a.create_endpoint(service)["VpcEndpointId"]
    clients = [client(world.url, "ec2") for _ in range(8)]  # boto3 clients are not shared across threads

    def accept(ec2):
        return ec2.accept_vpc_endpoint_connections(ServiceId=service["ServiceId"], VpcEndpointIds=[endpoint_id])

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(accept, clients))
    assert sum(1 for r in results if not r["Unsuccessful"]) == 1
    assert world.connection(endpoint_id)["VpcEndpointState"] == "available"


def test_endpoints_to_aws_services_are_left_to_moto(world):
    endpoint = world.a.ec2.create_vpc_endpoint(
        VpcId=world.a.vpc_id, ServiceName=f"com.amazonaws.{REGION}.s3", VpcEndpointType="Gateway"
    )["VpcEndpoint"]
    assert endpoint["State"] == "available"
    assert endpoint["VpcEndpointId"] not in [c["VpcEndpointId"] for c in world.connections()]


def test_cross_region_consumer_connects_only_where_the_service_supports_its_region(world):
    """Cross-region PrivateLink: a VPC in eu-west-1 reaches a us-east-1 service
    that lists eu-west-1; the provider sees the connection with
    VpcEndpointRegion eu-west-1; from a region not listed it is refused."""
    service = world.service()
    world.ec2.modify_vpc_endpoint_service_configuration(
        ServiceId=service["ServiceId"], AddSupportedRegions=["eu-west-1"]
    )
    creds = assume(world.url, CONSUMER_A)

    def endpoint_from(region: str, cidr: str) -> str:
        ec2 = boto3.client(
            "ec2",
            endpoint_url=world.url,
            region_name=region,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr.replace("0.0/16", "1.0/24"))["Subnet"]["SubnetId"]
        created = ec2.create_vpc_endpoint(
            VpcId=vpc_id, ServiceName=service["ServiceName"], VpcEndpointType="Interface", SubnetIds=[subnet]
        )["VpcEndpoint"]
        # The consumer's VPC and endpoint live in its own region only.
        found = ec2.describe_vpc_endpoints(VpcEndpointIds=[created["VpcEndpointId"]])["VpcEndpoints"]
        assert found[0]["VpcId"] == vpc_id
        return created["VpcEndpointId"]

    eu = endpoint_from("eu-west-1", "10.77.0.0/16")
    connection = world.connection(eu)
    assert connection["VpcEndpointRegion"] == "eu-west-1"
    assert connection["VpcEndpointState"] == "pendingAcceptance"
    home = world.a.create_endpoint(service)["VpcEndpointId"]
    assert world.connection(home)["VpcEndpointRegion"] == REGION
    with pytest.raises(ClientError) as error:
        endpoint_from("ap-south-1", "10.78.0.0/16")
    assert error.value.response["Error"]["Code"] == "InvalidServiceName"


def test_a_connection_is_kept_for_the_next_request_as_aws_keeps_it(world):
    # The SDKs reuse connections to AWS; a server that closed each one would
    # make every call pay a new connection the functions do not pay there.
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(world.url)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        # A body the app never reads (an unknown route) must not become the
        # start of the next request on the same connection.
        conn.request("POST", "/_gate/nope", body=b"x" * 70_000, headers=form)
        first = conn.getresponse()
        first.read()
        assert first.status == 404
        assert first.getheader("Connection") != "close"
        sock = conn.sock
        # A cheap route: moto's data.json walks every region, slow on a busy machine.
        conn.request("GET", "/_gate/calls")
        second = conn.getresponse()
        second.read()
        assert second.status == 200
        assert conn.sock is sock, "the second request reused the first one's connection"
    finally:
        conn.close()
