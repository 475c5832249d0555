"""The Python peer of the decide function, for `make bench`: the same work
for an SNS connection notification, written the way a boto3 Lambda would:

1. read the connection back from EC2 (DescribeVpcEndpointConnections);
2. read the policy and the allow entries (one BatchGetItem);
3. try the consumer's read-only role (AssumeRole); fall back to the
   entry's declared CIDRs when it cannot be assumed;
4. decide: allowlisted, not denied, no overlap with a protected range;
5. claim the request and its audit entry in one TransactWriteItems;
6. AcceptVpcEndpointConnections, then append the audit entry.

It reads the items Endpoint Gate writes (same table, same keys) and does
not implement every rule; it exists to be timed against the real thing.
"""

import ipaddress
import json
import logging
import os
import time

import boto3
from botocore.exceptions import ClientError

ec2 = boto3.client("ec2")
ddb = boto3.client("dynamodb")
sts = boto3.client("sts")
TABLE = os.environ["TABLE_NAME"]
ROLE = os.environ.get("CONSUMER_ROLE_TEMPLATE", "arn:aws:iam::{account}:role/EndpointGateCidrReader")


def s(v):
    return {"S": v}


def cidrs(item, name):
    return [ipaddress.ip_network(c["S"]) for c in item.get(name, {}).get("L", [])]


def handler(event, context):
    decided = []
    for record in event["Records"]:
        message = json.loads(record["Sns"]["Message"])
        endpoint = message["EndpointId"]
        conns = ec2.describe_vpc_endpoint_connections(
            Filters=[{"Name": "vpc-endpoint-id", "Values": [endpoint]}]
        )["VpcEndpointConnections"]
        if not conns or conns[0]["VpcEndpointState"] != "pendingAcceptance":
            continue
        conn = conns[0]
        service, owner = conn["ServiceId"], conn["VpcEndpointOwner"]
        keys = [
            {"pk": s(f"POLICY#{service}"), "sk": s("POLICY")},
            {"pk": s("POLICY#*"), "sk": s("POLICY")},
            {"pk": s(f"ALLOW#{service}"), "sk": s(f"ACCOUNT#{owner}")},
            {"pk": s("ALLOW#*"), "sk": s(f"ACCOUNT#{owner}")},
        ]
        items = ddb.batch_get_item(RequestItems={TABLE: {"Keys": keys, "ConsistentRead": True}})["Responses"][TABLE]
        by_key = {(i["pk"]["S"], i["sk"]["S"]): i for i in items}
        policy = by_key.get((f"POLICY#{service}", "POLICY")) or by_key.get(("POLICY#*", "POLICY"))
        entries = [by_key.get((f"ALLOW#{service}", f"ACCOUNT#{owner}")), by_key.get(("ALLOW#*", f"ACCOUNT#{owner}"))]
        entries = [e for e in entries if e]
        try:
            sts.assume_role(RoleArn=ROLE.replace("{account}", owner), RoleSessionName="peer")
            consumer = []  # a real peer would now read the VPC's CIDRs
        except ClientError:
            consumer = [c for e in entries for c in cidrs(e, "declared_cidrs")]
        protected = [ipaddress.ip_network(p["M"]["cidr"]["S"]) for p in policy.get("protected_cidrs", {}).get("L", [])] if policy else []
        denied = any(e["effect"]["S"] == "deny" for e in entries)
        allowed = bool(entries) and entries[0]["effect"]["S"] == "allow"
        overlap = any(c.overlaps(p) for c in consumer for p in protected if c.version == p.version)
        outcome = "accept" if policy and allowed and not denied and not overlap else "review"
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        request = {"pk": s(f"REQUEST#{endpoint}"), "sk": s("REQUEST"), "service": s(service), "endpoint": s(endpoint),
                   "owner": s(owner), "state": s("accepted" if outcome == "accept" else "review"),
                   "actor": s("python-peer"), "decided_at": s(now), "version": {"N": "1"}}
        audit = {"pk": s(f"AUDIT#{endpoint}"), "sk": s(f"{time.time_ns():020}#decided"), "detail": s(outcome)}
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": TABLE, "Item": request, "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": TABLE, "Item": audit, "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
        if outcome == "accept":
            ec2.accept_vpc_endpoint_connections(ServiceId=service, VpcEndpointIds=[endpoint])
            ddb.put_item(TableName=TABLE, Item={"pk": s(f"AUDIT#{endpoint}"), "sk": s(f"{time.time_ns():020}#accepted"),
                                                "detail": s("accepted")})
        # One log line per decision, as decide writes at the template's INFO.
        logging.getLogger().info("decided %s: %s", endpoint, outcome)
        decided.append({"endpoint": endpoint, "outcome": outcome})
    return {"decided": decided}
