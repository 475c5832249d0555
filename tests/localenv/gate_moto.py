"""moto server plus the PrivateLink connection lifecycle that moto lacks.

Endpoint Gate is tested against moto (EC2, ELBv2, STS, SNS, SQS), but moto
5.2 does not model the provider side of PrivateLink: it has no
DescribeVpcEndpointConnections / AcceptVpcEndpointConnections /
RejectVpcEndpointConnections / *VpcEndpointConnectionNotification*, and its
CreateVpcEndpoint makes every endpoint `available` at once. This module patches
moto's EC2 backend and response classes so that, as on AWS:

* CreateVpcEndpoint to a `com.amazonaws.vpce.<region>.vpce-svc-...` name
  fails with InvalidServiceName unless the service exists and the caller's
  account is the owner or an allowed principal
  (ModifyVpcEndpointServicePermissions: "*" or an ARN of that account);
  from another region, the service must also list the caller's region in
  its SupportedRegions (cross-region PrivateLink; moto keeps the list), and
  the connection reports that region as VpcEndpointRegion;
* an Interface (or GatewayLoadBalancer) endpoint created in a consumer account
  to a service whose configuration has AcceptanceRequired=true starts in
  `pendingAcceptance`, with realistic DNS entries (regional + one per AZ);
  with AcceptanceRequired=false it is `available` at once;
* the service owner sees every endpoint to its services, in any account and
  region, through DescribeVpcEndpointConnections (filters, MaxResults 5..1000,
  NextToken), and only the owner may accept or reject them; per-endpoint
  failures come back in `Unsuccessful`, not as an error;
* accept (pendingAcceptance -> available), reject (pendingAcceptance or
  available -> rejected) and the consumer's delete (-> deleted, still listed)
  change the endpoint the consumer sees too;
* connection notifications (Connect/Accept/Reject/Delete, Interface endpoints
  only; an auto-accepted endpoint gives Connect then Accept) are published to
  the SNS topic in-process, so an SQS queue subscribed to the topic receives
  them. Subject "Endpoint Connection Notification", Message a JSON object:
  {"ConnectionNotificationArn", "Event", "ServiceId", "EndpointId",
   "EndpointOwner", "EndpointState", "Time"} (AWS does not document its body).

Test-only HTTP routes, under /_gate/ (never an AWS path: S3 bucket names cannot
contain "_"):

* GET  /_gate/calls        -> {"AcceptVpcEndpointConnections": 1, ...}: how
                              many requests of each action the server received
                              (every service, counted before auth/dispatch).
* GET  /_gate/calls?service_id=vpce-svc-… -> the same, for calls naming that
                              service; ?role_arn=arn:… for calls naming that role (AssumeRole);
                              ?endpoint_id=vpce-… for calls naming
                              that endpoint (Accept/Reject name a list).
* POST /_gate/calls/reset  -> zeroes the counters.
* POST /_gate/seed         -> BENCHMARKS ONLY. {"service_id", "owner",
                              "count", optional "state"} creates `count`
                              connections straight in the model (no API calls,
                              no notifications; endpoints sit in the owner
                              account's default VPC, no subnets/ENIs).
                              Returns {"endpoint_ids": [...]}.

Accounts: moto derives the account from the access key. Static keys (e.g.
"testing") act in 123456789012, the provider here; credentials returned by
sts:AssumeRole on arn:aws:iam::222222222222:role/anything act in 222222222222
(the role need not exist). MOTO_ACCOUNT_ID would force one account for every
request, so it is removed from the environment at start.

Usage: python tests/localenv/gate_moto.py --port 0
prints exactly one line "READY http://127.0.0.1:PORT" on stdout once listening
and exits cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import inspect
import json
import os
import re
import signal
import sys
import threading
from collections import Counter
from typing import Any, Iterator

os.environ.pop("MOTO_ACCOUNT_ID", None)

# The patches below rely on moto 5.2's internals; another moto (e.g. one
# installed system-wide) fails in confusing ways, so refuse it up front.
try:
    import moto
except ImportError:
    moto = None
if moto is None or not moto.__version__.startswith("5.2."):
    found = getattr(moto, "__version__", "none")
    sys.exit(f"gate_moto: needs moto 5.2.x (found {found}); run `make tools` and use .tools/venv/bin/python")

from moto.core.responses import ActionResult, BaseResponse  # noqa: E402
from moto.ec2.exceptions import EC2ClientError, UnknownVpcEndpointService  # noqa: E402
from moto.ec2.models import EC2Backend, ec2_backends  # noqa: E402
from moto.ec2.models.vpcs import VPCEndPoint  # noqa: E402
from moto.ec2.responses import EC2Response  # noqa: E402
from moto.iam.models import iam_backends  # noqa: E402
from moto.sts.exceptions import STSClientError  # noqa: E402
from moto.sts.models import STSBackend  # noqa: E402
from moto.ec2.utils import random_id, random_resource_id, random_vpc_ep_id  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app  # noqa: E402
from werkzeug.serving import DechunkedInput, WSGIRequestHandler, make_server  # noqa: E402
from werkzeug.wrappers import Request, Response  # noqa: E402

try:  # newer 5.2.x keep S3 metadata headers with "_" intact; 5.2.1 lacks the handler
    from moto.moto_server.werkzeug_app import MotoRequestHandler
except ImportError:  # pragma: no cover
    MotoRequestHandler = WSGIRequestHandler

# States as the EC2 API spells them on the wire (camelCase; the SDK enums say
# PascalCase, see DESIGN.md).
PENDING = "pendingAcceptance"
AVAILABLE = "available"
REJECTED = "rejected"
DELETED = "deleted"

CONNECTION_FILTERS = {
    "service-id",
    "vpc-endpoint-id",
    "vpc-endpoint-owner",
    "vpc-endpoint-state",
    "vpc-endpoint-region",
    "ip-address-type",
}
NOTIFICATION_EVENTS = {"Connect", "Accept", "Reject", "Delete"}
NOTIFICATION_SUBJECT = "Endpoint Connection Notification"
CUSTOM_SERVICE_NAME = re.compile(r"^com\.amazonaws\.vpce\.([a-z0-9-]+)\.(vpce-svc-[0-9a-f]+)$")

# One lock for every state change made here: moto's server is threaded, and
# "exactly one accept" tests race concurrent deliveries on purpose.
LOCK = threading.RLock()


# --------------------------------------------------------------------------
# Model helpers
# --------------------------------------------------------------------------


def _existing_backends() -> Iterator[EC2Backend]:
    """Every EC2 backend (account x region) that exists, without creating new ones."""
    for account in list(ec2_backends.values()):
        for backend in list(dict.values(account)):
            yield backend


def _all_endpoints() -> Iterator[VPCEndPoint]:
    for backend in _existing_backends():
        yield from list(backend.vpc_end_points.values())


def _find_service(service_name: str):
    """(provider backend, service configuration) for a custom service name, or None."""
    match = CUSTOM_SERVICE_NAME.match(service_name or "")
    if not match:
        return None
    region, service_id = match.groups()
    for backend in _existing_backends():
        if backend.region_name == region and service_id in backend.configurations:
            return backend, backend.configurations[service_id]
    return None


def _region_supported(provider: EC2Backend, config: Any, consumer_region: str) -> bool:
    """The provider's own region, or one the service lists (moto keeps
    SupportedRegions of Create/ModifyVpcEndpointServiceConfiguration)."""
    supported = getattr(config, "_supported_region_names", None) or []
    return consumer_region == provider.region_name or consumer_region in supported


def _principal_allowed(provider: EC2Backend, config: Any, consumer_account: str) -> bool:
    """AWS only lets the owner and allowed principals (ModifyVpcEndpointServicePermissions) connect."""
    if consumer_account == provider.account_id:
        return True
    for principal in config.principals:
        if principal == "*" or re.search(rf"(^|:){consumer_account}(:|$)", principal):
            return True
    return False


def _hosted_zone_id(region: str) -> str:
    # AWS uses one fixed hosted zone per region for vpce names; this is a
    # stable stand-in (not the real id).
    return "Z" + hashlib.sha1(region.encode()).hexdigest()[:12].upper()


def _dns_entries(endpoint_id: str, service_id: str, region: str, zones: list[str]) -> list[dict]:
    """Regional name first, then one zonal name per AZ, as AWS lists them."""
    suffix = f"{service_id}.{region}.vpce.amazonaws.com"
    label = f"{endpoint_id}-{random_resource_id(8)}"
    zone_id = _hosted_zone_id(region)
    names = [f"{label}.{suffix}"] + [f"{label}-{az}.{suffix}" for az in sorted(set(zones))]
    # snake_case keys: moto's serializer reads them for DescribeVpcEndpoints.
    return [{"dns_name": n, "hosted_zone_id": zone_id} for n in names]


def _attach_connection(endpoint: VPCEndPoint, provider: EC2Backend, config: Any, state: str) -> None:
    """Turn a moto endpoint into a PrivateLink connection of `config`."""
    endpoint.gate_service_id = config.id
    endpoint.gate_provider_account = provider.account_id
    endpoint.gate_connection_id = random_id("vpce-con", 17)
    endpoint.ip_address_type = getattr(endpoint, "ip_address_type", None) or "ipv4"
    endpoint.state = state
    if (endpoint.vpc_endpoint_type or "").lower() == "interface":
        zones = []
        for subnet_id in endpoint.subnet_ids or []:
            try:
                zones.append(endpoint.ec2_backend.get_subnet(subnet_id).availability_zone)
            except Exception:  # a seeded endpoint has no subnets
                pass
        endpoint.dns_entries = _dns_entries(endpoint.id, config.id, endpoint.ec2_backend.region_name, zones)
    else:  # Gateway Load Balancer endpoints have no DNS names
        endpoint.dns_entries = []


def _is_connection_of(endpoint: VPCEndPoint, provider: EC2Backend, service_id: str | None = None) -> bool:
    """Is `endpoint` a connection to one of `provider`'s services (to `service_id`, if given)?"""
    if getattr(endpoint, "gate_provider_account", None) != provider.account_id:
        return False
    if service_id is not None and endpoint.gate_service_id != service_id:
        return False
    return endpoint.gate_service_id in provider.configurations  # the service may have been deleted


def _provider_of(endpoint: VPCEndPoint) -> tuple[EC2Backend, Any] | None:
    account = getattr(endpoint, "gate_provider_account", None)
    if account is None:
        return None
    for backend in _existing_backends():
        if backend.account_id == account and endpoint.gate_service_id in backend.configurations:
            return backend, backend.configurations[endpoint.gate_service_id]
    return None


def _connection_dict(endpoint: VPCEndPoint, config: Any) -> dict:
    """A VpcEndpointConnection with botocore member names (moto's serializer maps them to XML)."""
    return {
        "ServiceId": config.id,
        "VpcEndpointId": endpoint.id,
        "VpcEndpointOwner": endpoint.ec2_backend.account_id,
        "VpcEndpointState": endpoint.state,
        "CreationTimestamp": endpoint.creation_timestamp,
        "DnsEntries": [
            {"DnsName": d["dns_name"], "HostedZoneId": d["hosted_zone_id"]} for d in endpoint.dns_entries or []
        ],
        "NetworkLoadBalancerArns": list(config.network_load_balancer_arns),
        "GatewayLoadBalancerArns": list(config.gateway_load_balancer_arns),
        "IpAddressType": endpoint.ip_address_type,
        "VpcEndpointConnectionId": endpoint.gate_connection_id,
        "Tags": [],
        "VpcEndpointRegion": endpoint.ec2_backend.region_name,
    }


# --------------------------------------------------------------------------
# Connection notifications -> SNS
# --------------------------------------------------------------------------


def _notifications(backend: EC2Backend) -> dict[str, dict]:
    if not hasattr(backend, "gate_notifications"):
        backend.gate_notifications = {}
    return backend.gate_notifications


def _notify(event: str, endpoint: VPCEndPoint, state: str | None = None) -> None:
    """Publish `event` for `endpoint` to every matching notification of its service.

    `state` is the state the event produced (the endpoint may have moved on
    since, when requests race)."""
    if (endpoint.vpc_endpoint_type or "").lower() != "interface":
        return  # AWS: connection notifications exist for interface endpoints only
    found = _provider_of(endpoint)
    if found is None:
        return
    provider, config = found
    from moto.sns.models import sns_backends

    for notification in list(_notifications(provider).values()):
        if notification["ServiceId"] != config.id or event not in notification["ConnectionEvents"]:
            continue
        body = {
            "ConnectionNotificationArn": notification["ConnectionNotificationArn"],
            "Event": event,
            "ServiceId": config.id,
            "EndpointId": endpoint.id,
            "EndpointOwner": endpoint.ec2_backend.account_id,
            "EndpointState": state or endpoint.state,
            "Time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }
        topic_arn = notification["ConnectionNotificationArn"]
        _, _, _, region, account, _ = topic_arn.split(":", 5)
        try:
            sns_backends[account][region].publish(
                message=json.dumps(body), arn=topic_arn, subject=NOTIFICATION_SUBJECT
            )
        except Exception as error:  # AWS drops undeliverable notifications silently
            print(f"gate_moto: notification to {topic_arn} failed: {error!r}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Backend patches (CreateVpcEndpoint / DeleteVpcEndpoints)
# --------------------------------------------------------------------------

_moto_create_vpc_endpoint = EC2Backend.create_vpc_endpoint
_moto_delete_vpc_endpoints = EC2Backend.delete_vpc_endpoints
_create_signature = inspect.signature(_moto_create_vpc_endpoint)


def create_vpc_endpoint(self: EC2Backend, *args: Any, **kwargs: Any) -> VPCEndPoint:
    params = _create_signature.bind(self, *args, **kwargs).arguments
    service_name = params.get("service_name") or ""
    endpoint_type = (params.get("endpoint_type") or "Gateway").lower()
    found = _find_service(service_name)
    if CUSTOM_SERVICE_NAME.match(service_name) and (
        found is None or not _principal_allowed(found[0], found[1], self.account_id)
    ):
        # AWS says the same whether the service is missing or the caller is
        # not an allowed principal.
        raise EC2ClientError("InvalidServiceName", f"The Vpc Endpoint Service '{service_name}' does not exist")
    if found is not None and not _region_supported(found[0], found[1], self.region_name):
        # Cross-region PrivateLink: a consumer elsewhere reaches only a service
        # that lists its region among the supported ones.
        raise EC2ClientError(
            "InvalidServiceName",
            f"The Vpc Endpoint Service '{service_name}' does not exist in {self.region_name}",
        )
    endpoint = _moto_create_vpc_endpoint(self, *args, **kwargs)
    if found is None or endpoint_type not in ("interface", "gatewayloadbalancer"):
        return endpoint  # AWS services (S3, ...) and gateway endpoints: moto as is
    provider, config = found
    with LOCK:
        _attach_connection(endpoint, provider, config, PENDING if config.acceptance_required else AVAILABLE)
    state = endpoint.state
    _notify("Connect", endpoint, state)
    if state == AVAILABLE:  # auto-accepted services also report Accept
        _notify("Accept", endpoint, state)
    return endpoint


def delete_vpc_endpoints(self: EC2Backend, vpce_ids: list[str] | None = None) -> None:
    with LOCK:
        deleted = [
            self.vpc_end_points[i]
            for i in vpce_ids or []
            if i in self.vpc_end_points and self.vpc_end_points[i].state != DELETED
        ]
        _moto_delete_vpc_endpoints(self, vpce_ids)
    for endpoint in deleted:
        _notify("Delete", endpoint, DELETED)


EC2Backend.create_vpc_endpoint = create_vpc_endpoint
EC2Backend.delete_vpc_endpoints = delete_vpc_endpoints


# --------------------------------------------------------------------------
# New EC2 actions (EC2Response dispatches Action=FooBar to method foo_bar)
# --------------------------------------------------------------------------


def _unsuccessful(resource_id: str, code: str, message: str) -> dict:
    return {"ResourceId": resource_id, "Error": {"Code": code, "Message": message}}


def _page_token(endpoint: VPCEndPoint) -> str:
    key = [endpoint.creation_timestamp.isoformat(), endpoint.id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _sort_key(endpoint: VPCEndPoint) -> tuple[str, str]:
    return endpoint.creation_timestamp.isoformat(), endpoint.id


def describe_vpc_endpoint_connections(self: EC2Response) -> ActionResult:
    filters = self._filters_from_querystring()
    for name in filters:
        if name not in CONNECTION_FILTERS:
            raise EC2ClientError("InvalidParameterValue", f"The filter '{name}' is invalid")
    max_results = self._get_param("MaxResults")
    if max_results is not None:
        max_results = int(max_results)
        if max_results < 5:
            raise EC2ClientError(
                "InvalidParameterValue",
                f"Value ( {max_results} ) for parameter maxResults is invalid. Expecting a value greater than 5.",
            )
        max_results = min(max_results, 1000)  # AWS: larger values return 1000
    next_token = self._get_param("NextToken")
    after = None
    if next_token:
        try:
            after = tuple(json.loads(base64.urlsafe_b64decode(next_token.encode())))
        except Exception:
            raise EC2ClientError("InvalidPaginationToken", f"Invalid pagination token: {next_token}")

    provider = self.ec2_backend
    rows = []
    with LOCK:
        for endpoint in _all_endpoints():
            if not _is_connection_of(endpoint, provider):
                continue
            row = _connection_dict(endpoint, provider.configurations[endpoint.gate_service_id])
            values = {
                "service-id": row["ServiceId"],
                "vpc-endpoint-id": row["VpcEndpointId"],
                "vpc-endpoint-owner": row["VpcEndpointOwner"],
                "vpc-endpoint-state": row["VpcEndpointState"],
                "vpc-endpoint-region": row["VpcEndpointRegion"],
                "ip-address-type": row["IpAddressType"],
            }
            # Values of one filter are ORed, filters are ANDed; exact match as on AWS.
            if all(values[name] in wanted for name, wanted in filters.items()):
                rows.append((_sort_key(endpoint), endpoint, row))
    # Keyset pagination on (creation time, id): stable while connections come and go.
    rows.sort(key=lambda r: r[0])
    if after is not None:
        rows = [r for r in rows if r[0] > after]
    result: dict[str, Any] = {"VpcEndpointConnections": [r[2] for r in rows]}
    if max_results is not None and len(rows) > max_results:
        result["VpcEndpointConnections"] = [r[2] for r in rows[:max_results]]
        result["NextToken"] = _page_token(rows[max_results - 1][1])
    return ActionResult(result)


def _change_connections(self: EC2Response, event: str, new_state: str, allowed_from: set[str]) -> ActionResult:
    service_id = self._get_param("ServiceId")
    endpoint_ids = self._get_param("VpcEndpointIds", [])
    provider = self.ec2_backend
    if service_id not in provider.configurations:
        # Also what another account (not the owner) gets.
        raise UnknownVpcEndpointService(service_id)
    unsuccessful, changed = [], []
    with LOCK:
        index = {e.id: e for e in _all_endpoints()}
        for endpoint_id in endpoint_ids:
            endpoint = index.get(endpoint_id)
            if endpoint is None or not _is_connection_of(endpoint, provider, service_id):
                unsuccessful.append(
                    _unsuccessful(
                        endpoint_id,
                        "InvalidVpcEndpoint.NotFound",
                        f"The Vpc Endpoint Id '{endpoint_id}' does not exist",
                    )
                )
            elif endpoint.state not in allowed_from:
                unsuccessful.append(
                    _unsuccessful(
                        endpoint_id,
                        "InvalidState",
                        f"Vpc Endpoint {endpoint_id} is in state {endpoint.state} and cannot be {event.lower()}ed",
                    )
                )
            else:
                endpoint.state = new_state
                changed.append(endpoint)
    for endpoint in changed:
        _notify(event, endpoint, new_state)
    return ActionResult({"Unsuccessful": unsuccessful})


def accept_vpc_endpoint_connections(self: EC2Response) -> ActionResult:
    return _change_connections(self, "Accept", AVAILABLE, {PENDING})


def reject_vpc_endpoint_connections(self: EC2Response) -> ActionResult:
    # AWS: a provider may also reject a connection that is already available.
    return _change_connections(self, "Reject", REJECTED, {PENDING, AVAILABLE})


def create_vpc_endpoint_connection_notification(self: EC2Response) -> ActionResult:
    service_id = self._get_param("ServiceId")
    topic_arn = self._get_param("ConnectionNotificationArn")
    events = self._get_param("ConnectionEvents", [])
    if self._get_param("VpcEndpointId"):
        raise EC2ClientError(
            "InvalidParameter", "gate_moto models service notifications only (ServiceId), not VpcEndpointId ones"
        )
    if not service_id:
        raise EC2ClientError("MissingParameter", "The request must contain the parameter ServiceId")
    if service_id not in self.ec2_backend.configurations:
        raise UnknownVpcEndpointService(service_id)
    if not re.match(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:.+$", topic_arn or ""):
        raise EC2ClientError("InvalidParameter", f"Invalid ConnectionNotificationArn: {topic_arn}")
    bad = [e for e in events if e not in NOTIFICATION_EVENTS]
    if not events or bad:
        raise EC2ClientError("InvalidParameter", f"Invalid ConnectionEvents: {bad or events}")
    notification = {
        "ConnectionNotificationId": random_id("vpce-nfn", 17),
        "ServiceId": service_id,
        "ConnectionNotificationType": "Topic",
        "ConnectionNotificationArn": topic_arn,
        "ConnectionEvents": list(events),
        "ConnectionNotificationState": "Enabled",
        "ServiceRegion": self.region,
    }
    with LOCK:
        _notifications(self.ec2_backend)[notification["ConnectionNotificationId"]] = notification
    return ActionResult({"ConnectionNotification": notification, "ClientToken": self._get_param("ClientToken")})


# AWS's filters of DescribeVpcEndpointConnectionNotifications that the
# model holds (the CLI's plan asks for one service's notifications).
NOTIFICATION_FILTERS = {
    "service-id": "ServiceId",
    "connection-notification-arn": "ConnectionNotificationArn",
    "connection-notification-id": "ConnectionNotificationId",
    "connection-notification-state": "ConnectionNotificationState",
    "connection-notification-type": "ConnectionNotificationType",
}


def describe_vpc_endpoint_connection_notifications(self: EC2Response) -> ActionResult:
    wanted = self._get_param("ConnectionNotificationId")
    filters = self._filters_from_querystring()
    for name in filters:
        if name not in NOTIFICATION_FILTERS:
            raise EC2ClientError("InvalidParameterValue", f"The filter '{name}' is invalid")
    items = [
        n
        for n in _notifications(self.ec2_backend).values()
        if (not wanted or n["ConnectionNotificationId"] == wanted)
        and all(n.get(NOTIFICATION_FILTERS[name]) in values for name, values in filters.items())
    ]
    if wanted and not items:
        raise EC2ClientError(
            "InvalidConnectionNotification", f"The connection notification '{wanted}' does not exist"
        )
    return ActionResult({"ConnectionNotificationSet": items})


def delete_vpc_endpoint_connection_notifications(self: EC2Response) -> ActionResult:
    unsuccessful = []
    with LOCK:
        notifications = _notifications(self.ec2_backend)
        for notification_id in self._get_param("ConnectionNotificationIds", []):
            if notifications.pop(notification_id, None) is None:
                unsuccessful.append(
                    _unsuccessful(
                        notification_id,
                        "InvalidConnectionNotification",
                        f"The connection notification '{notification_id}' does not exist",
                    )
                )
    return ActionResult({"Unsuccessful": unsuccessful})


for _method in (
    describe_vpc_endpoint_connections,
    accept_vpc_endpoint_connections,
    reject_vpc_endpoint_connections,
    create_vpc_endpoint_connection_notification,
    describe_vpc_endpoint_connection_notifications,
    delete_vpc_endpoint_connection_notifications,
):
    setattr(EC2Response, _method.__name__, _method)


# --------------------------------------------------------------------------
# STS: a role must exist to be assumed
# --------------------------------------------------------------------------

# AWS Organizations creates this role in every member account; tests use it
# to set up consumer accounts, so it is assumable without an IAM role.
ORG_ADMIN_ROLE = "OrganizationAccountAccessRole"

_moto_assume_role = STSBackend.assume_role


def assume_role(self: STSBackend, *args: Any, **kwargs: Any) -> Any:
    # moto lets any ARN be assumed; AWS refuses a role that does not exist
    # (AccessDenied), which is how "the consumer has no read-only role" looks.
    role_arn = kwargs.get("role_arn", args[2] if len(args) > 2 else "")
    match = re.match(r"^arn:aws[\w-]*:iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]+)$", role_arn or "")
    if match and match.group(2) != ORG_ADMIN_ROLE:
        account, name = match.groups()
        roles = iam_backends[account]["aws"].roles.values()
        role = next((r for r in roles if r.name == name), None)
        external_id = kwargs.get("external_id")
        if role is None or not _trusts(role.assume_role_policy_document, self.account_id, external_id):
            raise STSClientError(
                "AccessDenied",
                f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            )
    return _moto_assume_role(self, *args, **kwargs)


def _trusts(document: Any, caller: str, external_id: str | None) -> bool:
    """Whether a role's trust policy lets `caller`'s account assume it, as AWS
    decides it for what the tests need: an explicit Deny wins, an Allow must
    name the account (root ARN, bare id or "*"), and a sts:ExternalId
    condition must match. A consumer can switch its role off by editing this."""
    try:
        policy = json.loads(document) if isinstance(document, str) else document
    except ValueError:
        return False
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    if isinstance(statements, dict):
        statements = [statements]

    def applies(st: dict) -> bool:
        principal = st.get("Principal", {})
        names = principal.get("AWS", []) if isinstance(principal, dict) else principal
        names = [names] if isinstance(names, str) else names
        admitted = any(n in ("*", caller, f"arn:aws:iam::{caller}:root") for n in names)
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        wanted = st.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
        return admitted and any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions) and (
            wanted is None or wanted == external_id
        )

    relevant = [st for st in statements if isinstance(st, dict) and applies(st)]
    return any(st.get("Effect") == "Allow" for st in relevant) and not any(
        st.get("Effect") == "Deny" for st in relevant
    )


STSBackend.assume_role = assume_role


# --------------------------------------------------------------------------
# Test routes: call counter and bulk seeding
# --------------------------------------------------------------------------

CALLS: Counter[str] = Counter()
# Calls that name an endpoint service (Accept/Reject/...), per service, so a
# test sharing the server with others can count only its own.
CALLS_BY_SERVICE: dict[str, Counter[str]] = {}
# And per endpoint named, so "accepted once" is checked for each endpoint.
CALLS_BY_ENDPOINT: dict[str, Counter[str]] = {}
CALLS_BY_ROLE: dict[str, Counter[str]] = {}

_moto_call_action = BaseResponse.call_action


def call_action(self: BaseResponse) -> Any:
    # Every request of every service passes here once, before auth and dispatch.
    try:
        action = self._get_action()
    except Exception:
        action = None
    if action:
        try:
            service_id = self._get_param("ServiceId")
            endpoint_ids = self._get_param("VpcEndpointIds", [])
            role_arn = self._get_param("RoleArn")
        except Exception:
            service_id, endpoint_ids, role_arn = None, [], None
        with LOCK:
            CALLS[action] += 1
            if isinstance(service_id, str) and service_id:
                CALLS_BY_SERVICE.setdefault(service_id, Counter())[action] += 1
            for endpoint_id in set(endpoint_ids) if isinstance(endpoint_ids, list) else ():
                CALLS_BY_ENDPOINT.setdefault(str(endpoint_id), Counter())[action] += 1
            if isinstance(role_arn, str) and role_arn:
                CALLS_BY_ROLE.setdefault(role_arn, Counter())[action] += 1
    return _moto_call_action(self)


BaseResponse.call_action = call_action


def seed(service_id: str, owner: str, count: int, state: str | None = None) -> list[str]:
    """BENCHMARKS ONLY: `count` connections of `service_id` owned by `owner`, made in the model directly."""
    if not 1 <= count <= 100_000:
        raise ValueError("count must be 1..100000")
    provider = next((b for b in _existing_backends() if service_id in b.configurations), None)
    if provider is None:
        raise KeyError(f"no service configuration {service_id}")
    config = provider.configurations[service_id]
    state = state or (PENDING if config.acceptance_required else AVAILABLE)
    consumer = ec2_backends[owner][provider.region_name]
    vpc = next((v for v in consumer.vpcs.values() if v.is_default), None) or consumer.create_vpc("10.99.0.0/16")
    ids = []
    with LOCK:
        for _ in range(count):
            endpoint = VPCEndPoint(
                consumer,
                random_vpc_ep_id(),
                vpc.id,
                config.service_name,
                "Interface",
                None,
                [],
                subnet_ids=[],
            )
            _attach_connection(endpoint, provider, config, state)
            consumer.vpc_end_points[endpoint.id] = endpoint
            ids.append(endpoint.id)
    return ids


class GateRoutes:
    """WSGI middleware: /_gate/* here, everything else to moto untouched."""

    def __init__(self, moto_app: Any):
        self.moto_app = moto_app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/_gate/"):
            return self.moto_app(environ, start_response)
        request = Request(environ)
        try:
            if path == "/_gate/calls" and request.method == "GET":
                service_id = request.args.get("service_id")
                endpoint_id = request.args.get("endpoint_id")
                role_arn = request.args.get("role_arn")
                body: Any
                with LOCK:
                    if role_arn:
                        body = dict(CALLS_BY_ROLE.get(role_arn, {}))
                    elif service_id:
                        body: Any = dict(CALLS_BY_SERVICE.get(service_id, {}))
                    elif endpoint_id:
                        body = dict(CALLS_BY_ENDPOINT.get(endpoint_id, {}))
                    else:
                        body = dict(CALLS)
            elif path == "/_gate/calls/reset" and request.method == "POST":
                with LOCK:
                    CALLS.clear()
                    CALLS_BY_SERVICE.clear()
                    CALLS_BY_ENDPOINT.clear()
                    CALLS_BY_ROLE.clear()
                body = {"reset": True}
            elif path == "/_gate/seed" and request.method == "POST":
                args = request.get_json(force=True)
                body = {
                    "endpoint_ids": seed(
                        args["service_id"], str(args["owner"]), int(args.get("count", 1)), args.get("state")
                    )
                }
            else:
                return Response("not found\n", status=404)(environ, start_response)
        except (KeyError, ValueError, TypeError) as error:
            return Response(json.dumps({"error": str(error)}), status=400, mimetype="application/json")(
                environ, start_response
            )
        return Response(json.dumps(body), mimetype="application/json")(environ, start_response)


class _Body:
    """A request body of known length as the app reads it, so that what the
    app leaves unread can be drained before the connection's next request."""

    def __init__(self, stream: Any, length: int) -> None:
        self.stream, self.left = stream, length

    def read(self, size: int | None = -1) -> bytes:
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.stream.read(size) if size > 0 else b""
        self.left -= len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.stream.readline(size) if size > 0 else b""
        self.left -= len(data)
        return data

    def drain(self) -> bool:
        while self.left > 0:
            if not self.read(65536):
                return False
        return True


class _Spent:
    """What werkzeug's after-response drain reads: nothing. It would
    otherwise read the connection's next request as leftover body."""

    def read(self, size: int = -1) -> bytes:
        return b""


class KeepAliveRequestHandler(MotoRequestHandler):
    """Keeps a client's connection open between requests, as AWS's endpoints
    do (the SDKs pool them). werkzeug's server closes every connection
    because it cannot tell where an unread body ends; here the body's length
    is known and what the app left is drained. A chunked body still closes."""

    _body: _Body | None = None
    # werkzeug writes a response's headers and body apart; with Nagle's
    # algorithm the body would wait for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        if environ.get("wsgi.input_terminated"):
            environ["wsgi.input"] = DechunkedInput(self._connection_input)
        else:
            self._body = _Body(self._connection_input, int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = self._body
        return environ

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and self._body is not None:
            return
        super().send_header(keyword, value)

    def run_wsgi(self) -> None:
        self._body, self._connection_input, self.rfile = None, self.rfile, _Spent()
        try:
            super().run_wsgi()
        finally:
            self.rfile = self._connection_input
        if self._body is None or not self._body.drain():
            self.close_connection = True


class QuietRequestHandler(KeepAliveRequestHandler):
    """No access log line per request (a benchmark makes thousands); errors are still logged."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args()

    app = GateRoutes(DomainDispatcherApplication(create_backend_app))
    handler = KeepAliveRequestHandler if args.verbose else QuietRequestHandler
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=handler)
    stop = threading.Event()
    # serve_forever runs in a thread so the main thread can wait for a signal
    # and then call shutdown() (which would deadlock inside serve_forever's thread).
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"READY http://127.0.0.1:{server.server_port}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
