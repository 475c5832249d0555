"""Checks of the templates in infra/ that cfn-lint and checkov do not make.

- IAM: no Allow statement grants Resource "*" except for actions that have
  no resource type (EC2 Describe*, plus WILDCARD_OK below).
- Each function's environment in the template matches what its
  Config::from_env reads (FUNCTION_ENV below, read from the Rust source).
- Accept/Reject are granted only on the configured endpoint services' ARNs,
  after expanding Fn::ForEach with sample parameters the way
  AWS::LanguageExtensions does.
- The security items of issue 13: both Function URL permissions for each of
  lookup's principals, `account` on rules that trust CloudTrail content,
  respond's writes limited to its partition keys, the consumer role trusting
  only decide's role, opt-in reserved concurrency, an Errors alarm per
  function, and a review topic only the operators may subscribe to.

Run with the project's venv: `.tools/venv/bin/python -m pytest tests/infra`
(or `make test-infra`). Needs cfn-lint (for its YAML decoder, which reads
!Ref/!Sub/!GetAtt... as {"Ref": ...}, {"Fn::Sub": ...}, {"Fn::GetAtt": [..]}).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
CONSUMER_ROLE = ROOT / "infra" / "consumer-role.yaml"
ORGANIZATIONS_ROLE = ROOT / "infra" / "organizations-role.yaml"
CONSUMER_FORWARDING = ROOT / "infra" / "consumer-forwarding.yaml"
TEMPLATES = [TEMPLATE, CONSUMER_ROLE, ORGANIZATIONS_ROLE, CONSUMER_FORWARDING]

# ---------------------------------------------------------------------------
# Per function (logical id in infra/template.yaml), the variables its
# Config::from_env reads, taken from the REQUIRED and OPTIONAL constants in
# crates/lambdas/src/config.rs so there is one list. Variables the Lambda
# runtime sets itself (AWS_LAMBDA_LOG_FORMAT, AWS_LAMBDA_LOG_LEVEL from
# LoggingConfig) are not listed: the template must not set them.
CONFIG_RS = ROOT / "crates" / "lambdas" / "src" / "config.rs"
CONFIG_TYPES = {
    "DecideFunction": "DecideConfig",
    "RespondFunction": "RespondConfig",
    "RecordFunction": "RecordConfig",
    "LookupFunction": "LookupConfig",
}


def rust_env() -> dict[str, dict[str, list[str]]]:
    text = CONFIG_RS.read_text()
    out: dict[str, dict[str, list[str]]] = {}
    for function, rust_type in CONFIG_TYPES.items():
        block = re.search(rf"\nimpl {rust_type} \{{(.*?)\n\}}", text, re.S)
        assert block, f"no `impl {rust_type}` in {CONFIG_RS}"
        lists = {}
        for constant in ("REQUIRED", "OPTIONAL"):
            found = re.search(rf"const {constant}: &'static \[&'static str\] =\s*&\[(.*?)\];", block.group(1), re.S)
            assert found, f"no {rust_type}::{constant} in {CONFIG_RS}"
            lists[constant.lower()] = re.findall(r'"([A-Z0-9_]+)"', found.group(1))
        out[function] = lists
    return out


FUNCTION_ENV = rust_env()

# Optional variables a Config refuses unless all of a group are set (or none):
# DecideConfig::from_env, "RESPOND_URL is set but LINK_KEYS_SECRET_ARN is not".
SET_TOGETHER: dict[str, list[list[str]]] = {
    "DecideFunction": [["RESPOND_URL", "LINK_KEYS_SECRET_ARN"]],
}

# Actions that may be granted on Resource "*" because IAM offers no resource
# type for them (Service Authorization Reference, "Resource types" column
# empty).
WILDCARD_OK_PATTERNS = {
    # Every EC2 Describe* action: no resource-level permissions.
    "ec2:Describe*": "EC2 Describe* actions support no resource-level permissions",
}
WILDCARD_OK: dict[str, str] = {
    # Others go here, one per line with the reason, e.g. if X-Ray tracing is
    # turned on: "xray:PutTraceSegments": "no resource type".
    "organizations:DescribeOrganization": "no resource type (infra/organizations-role.yaml)",
    "organizations:ListAccounts": "no resource type (infra/organizations-role.yaml)",
}

ACCEPT_REJECT = ["ec2:AcceptVpcEndpointConnections", "ec2:RejectVpcEndpointConnections"]

PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "111122223333",
    "AWS::StackName": "endpoint-gate",
    "AWS::URLSuffix": "amazonaws.com",
}
SERVICES_ONE = ["vpce-svc-0a1b2c3d4e5f60718"]
SERVICES_THREE = ["vpce-svc-0a1b2c3d4e5f60718", "vpce-svc-11112222333344445", "vpce-svc-081358aa"]


def load(path: Path) -> dict:
    return cfn_yaml.load(str(path))


# ---------------------------------------------------------------- helpers


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def statements(node: Any, where: str = "") -> Iterator[tuple[str, dict]]:
    """Every IAM statement anywhere in the template (identity, resource and
    trust policies, inside Fn::ForEach and Fn::If too), with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}/{key}"
            if key == "Statement":
                for i, st in enumerate(as_list(value)):
                    for branch in if_branches(st):
                        if isinstance(branch, dict):
                            yield f"{path}[{i}]", branch
            else:
                yield from statements(value, path)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from statements(value, f"{where}[{i}]")


def if_branches(value: Any) -> list:
    """Both branches of an Fn::If (recursively), or the value itself."""
    if isinstance(value, dict) and list(value) == ["Fn::If"]:
        _, yes, no = value["Fn::If"]
        return if_branches(yes) + if_branches(no)
    return [value]


def is_wildcard_resource(resource: Any) -> bool:
    """"*" itself, or an ARN whose resource part is only "*"."""
    for branch in if_branches(resource):
        text = branch.get("Fn::Sub") if isinstance(branch, dict) else branch
        if isinstance(text, list):
            text = text[0]
        if not isinstance(text, str):
            continue
        if text == "*":
            return True
        # ${AWS::Region} and the like hold colons: stand-ins before splitting.
        parts = re.sub(r"\$\{[^}]*\}", "x", text).split(":", 5)
        if len(parts) == 6 and parts[5] in ("*", "/*"):
            return True
    return False


def action_allowed_on_wildcard(action: str) -> bool:
    if action in WILDCARD_OK:
        return True
    return any(
        fnmatch.fnmatchcase(action.lower(), pattern.lower()) and "*" not in action
        for pattern in WILDCARD_OK_PATTERNS
    )


# A small evaluator of what CloudFormation does with given parameters:
# Fn::ForEach (AWS::LanguageExtensions), Ref, Fn::Sub, Fn::Join, Fn::Split,
# Fn::If and conditions. GetAtt and Ref of resources become placeholders.

NO_VALUE = object()


class Evaluator:
    def __init__(self, template: dict, params: dict[str, Any]):
        self.template = template
        self.params = {}
        for name, spec in template.get("Parameters", {}).items():
            if name in params:
                self.params[name] = params[name]
            elif "Default" in spec:
                default = spec["Default"]
                if spec.get("Type") == "CommaDelimitedList":
                    default = default.split(",") if default else [""]
                self.params[name] = default
        unknown = set(params) - set(self.params)
        assert not unknown, f"no such parameters: {unknown}"
        missing = set(template.get("Parameters", {})) - set(self.params)
        assert not missing, f"give a value for {missing}"
        self.resources = expand_foreach(template.get("Resources", {}), self.params)
        self.known = set(self.resources) | sam_generated(self.resources)
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self.condition(name)

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.eval_condition(self.template["Conditions"][name]))
        return self.conditions[name]

    def eval_condition(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return str(a) == str(b)
            if fn == "Fn::Not":
                return not self.eval_condition(arg[0])
            if fn == "Fn::And":
                return all(self.eval_condition(x) for x in arg)
            if fn == "Fn::Or":
                return any(self.eval_condition(x) for x in arg)
            if fn == "Condition":
                return self.condition(arg)
        return self.resolve(node)

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.params:
            return self.params[name]
        assert name in self.known, f"Ref to unknown {name}"
        return f"<{name}>"

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def one(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.known:
                return f"<{name}>"
            value = self.ref(name)
            assert isinstance(value, str), f"${{{name}}} is not a string: {value!r}"
            return value

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            out = [self.resolve(x) for x in node]
            return [x for x in out if x is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Fn::GetAtt":
                target, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                assert target in self.known, f"GetAtt of unknown {target}"
                return f"<{target}.{attr}>"
            if fn == "Fn::Sub":
                if isinstance(arg, str):
                    return self.sub(arg, {})
                text, variables = arg
                return self.sub(text, {k: self.resolve(v) for k, v in variables.items()})
            if fn == "Fn::Join":
                sep, items = arg
                return sep.join(str(x) for x in as_list(self.resolve(items)))
            if fn == "Fn::Split":
                sep, text = arg
                return self.resolve(text).split(sep)
            if fn == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
        out = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def resolved_resources(self) -> dict[str, dict]:
        """The resources CloudFormation would create with these parameters."""
        return {
            k: self.resolve(v)
            for k, v in self.resources.items()
            if "Condition" not in v or self.condition(v["Condition"])
        }


def sam_generated(resources: dict[str, Any]) -> set[str]:
    """Logical ids SAM generates that a template may reference: each
    function's event sources (EventBridge rules: <Function><Event>) and, for a
    function without Role, <Function>Role."""
    ids = set()
    for name, res in resources.items():
        if res.get("Type") == "AWS::Serverless::Function":
            ids |= {name + event for event in res["Properties"].get("Events", {})}
            if "Role" not in res["Properties"]:
                ids.add(name + "Role")
    return ids


def alnum(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", value)


def expand_foreach(node: Any, params: dict[str, Any]) -> Any:
    """Expand every Fn::ForEach::Name: [Identifier, Collection, Fragment]."""
    if isinstance(node, list):
        return [expand_foreach(x, params) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("Fn::ForEach::"):
            ident, collection, fragment = value
            if isinstance(collection, dict):
                assert list(collection) == ["Ref"], f"{key}: collection must be a list or a Ref"
                collection = params[collection["Ref"]]
            for item in collection:
                replaced = substitute(fragment, ident, item)
                for k, v in expand_foreach(replaced, params).items():
                    assert k not in out, f"{key}: duplicate logical id {k}"
                    out[k] = v
        else:
            assert key not in out, f"duplicate key {key}"
            out[key] = expand_foreach(value, params)
    return out


def substitute(node: Any, ident: str, item: str) -> Any:
    if isinstance(node, str):
        return node.replace("${" + ident + "}", item).replace("&{" + ident + "}", alnum(item))
    if isinstance(node, list):
        return [substitute(x, ident, item) for x in node]
    if isinstance(node, dict):
        if node.keys() == {"Ref"} and node["Ref"] == ident:
            return item
        if node.keys() == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            return {"Fn::Sub": substitute(node["Fn::Sub"], ident, item)}
        return {substitute(k, ident, item): substitute(v, ident, item) for k, v in node.items()}
    return node


def provider(services: list[str], **params: Any) -> Evaluator:
    base: dict[str, Any] = {"EndpointServiceIds": services}
    base.update(params)
    return Evaluator(load(TEMPLATE), base)


def functions(template: dict) -> dict[str, dict]:
    return {
        name: res
        for name, res in template["Resources"].items()
        if isinstance(res, dict) and res.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function")
    }


# ------------------------------------------------------------------- (a) IAM


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_no_wildcard_resource_except_for_actions_without_resource_types(path: Path) -> None:
    template = load(path)
    found = list(statements(template))
    assert found, "no IAM statements found: is the walker broken?"
    problems = []
    for where, st in found:
        if "NotResource" in st or "NotAction" in st:
            problems.append(f"{where}: NotResource/NotAction grants more than it names")
        if st.get("Effect") != "Allow":
            continue
        if "Principal" in st and "Resource" not in st:
            continue  # a trust policy
        assert "Resource" in st, f"{where}: Allow without Resource"
        if not is_wildcard_resource(st["Resource"]):
            continue
        for action in as_list(st.get("Action", [])):
            if not isinstance(action, str) or not action_allowed_on_wildcard(action):
                problems.append(f"{where}: {action} on Resource '*'")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_everyone_is_only_allowed_under_a_condition(path: Path) -> None:
    for where, st in statements(load(path)):
        principal = st.get("Principal")
        if st.get("Effect") == "Allow" and (principal == "*" or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS")))):
            assert st.get("Condition"), f"{where}: Principal '*' without a Condition"


def test_the_wildcard_check_would_catch_a_broad_grant() -> None:
    bad = {
        "Statement": [
            {"Effect": "Allow", "Action": ["ec2:DescribeVpcs", "dynamodb:PutItem"], "Resource": "*"},
            {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
            {"Effect": "Allow", "Action": "ec2:AcceptVpcEndpointConnections",
             "Resource": {"Fn::Sub": "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:*"}},
            {"Effect": "Allow", "Action": "sns:Publish",
             "Resource": {"Fn::If": ["C", {"Ref": "Topic"}, "*"]}},
        ]
    }
    flagged = []
    for _, st in statements(bad):
        if is_wildcard_resource(st["Resource"]):
            flagged += [a for a in as_list(st["Action"]) if not action_allowed_on_wildcard(a)]
    assert flagged == ["dynamodb:PutItem", "ec2:Describe*", "ec2:AcceptVpcEndpointConnections", "sns:Publish"]


def test_functions_use_an_explicit_role_so_every_statement_is_in_the_template() -> None:
    for name, fn in functions(load(TEMPLATE)).items():
        props = fn["Properties"]
        assert "Role" in props, f"{name}: give it a role in the template"
        assert "Policies" not in props, f"{name}: SAM policy templates hide their statements"


# ------------------------------------------------------------ (b) environment


def test_every_function_has_its_environment_listed() -> None:
    assert set(functions(load(TEMPLATE))) == set(FUNCTION_ENV)


@pytest.mark.parametrize("name", sorted(FUNCTION_ENV))
def test_environment_sets_every_required_variable_and_nothing_unknown(name: str) -> None:
    template = load(TEMPLATE)
    fn = functions(template)[name]
    variables = dict(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    variables.update(fn["Properties"].get("Environment", {}).get("Variables", {}))
    spec = FUNCTION_ENV[name]
    known = set(spec["required"]) | set(spec["optional"])

    unknown = set(variables) - known
    assert not unknown, f"{name} sets variables its Config does not read: {sorted(unknown)}"
    missing = set(spec["required"]) - set(variables)
    assert not missing, f"{name} lacks required variables: {sorted(missing)}"
    for var in spec["required"]:
        value = variables[var]
        assert value not in ("", None), f"{var} is empty"
        assert "AWS::NoValue" not in str(value), f"{var} is required but may be left out (Fn::If/NoValue)"

    # With defaults and sample parameters, everything resolves and required
    # values are non-empty strings.
    for params in ({}, {"ConsumerRoleExternalId": "gate-ext-1"}):
        env = provider(SERVICES_THREE, **params).resolved_resources()[name]["Properties"]["Environment"]["Variables"]
        for var in spec["required"]:
            assert isinstance(env[var], str) and env[var], f"{var} = {env[var]!r}"
        if "CONSUMER_ROLE_EXTERNAL_ID" in known:
            assert ("CONSUMER_ROLE_EXTERNAL_ID" in env) == bool(params)


# Every parameter set the template's conditions depend on, for checks that
# must hold whatever the operator chose.
PARAMETER_SETS: list[dict[str, Any]] = [
    {},
    {"ConsumerRoleExternalId": "gate-ext-1"},
    {"AlarmTopicArn": "arn:aws:sns:eu-west-1:111122223333:pager"},
    {"ReservedConcurrency": "10", "RespondReservedConcurrency": "5"},
    {"ForwardingOrganizationId": "o-abcdef1234"},
    {"OperatorArns": ["arn:aws:iam::111122223333:role/NetOps"]},
]


@pytest.mark.parametrize("name", sorted(SET_TOGETHER))
def test_variables_that_go_together_are_set_together(name: str) -> None:
    variables = functions(load(TEMPLATE))[name]["Properties"]["Environment"]["Variables"]
    for group in SET_TOGETHER[name]:
        # Written the same way: all unconditional, or all under one Fn::If.
        conditions = {
            var: variables[var]["Fn::If"][0] if isinstance(variables.get(var), dict) and "Fn::If" in variables[var] else None
            for var in group
            if var in variables
        }
        assert set(conditions) in (set(), set(group)), f"{name}: {sorted(conditions)} set without the rest of {group}"
        assert len(set(conditions.values())) <= 1, f"{name}: {group} under different conditions: {conditions}"
        for params in PARAMETER_SETS:
            env = provider(SERVICES_ONE, **params).resolved_resources()[name]["Properties"]["Environment"]["Variables"]
            present = [var for var in group if env.get(var) not in (None, "")]
            assert present in ([], group), f"{name} with {params}: only {present} of {group}"


def test_the_set_together_check_would_catch_a_half_set_group() -> None:
    half = {"RESPOND_URL": {"Fn::If": ["C", "https://x", {"Ref": "AWS::NoValue"}]}, "LINK_KEYS_SECRET_ARN": "arn"}
    conditions = {var: v["Fn::If"][0] if isinstance(v, dict) else None for var, v in half.items()}
    assert len(set(conditions.values())) == 2


def test_decide_environment_values() -> None:
    env = provider(SERVICES_THREE).resolved_resources()["DecideFunction"]["Properties"]["Environment"]["Variables"]
    assert env["TABLE_NAME"] == "<Table>"
    assert env["REVIEW_TOPIC_ARN"] == "<ReviewTopic>"
    assert env["CONSUMER_TOPIC_ARN"] == "<ConsumerTopic>"
    assert env["SERVICE_IDS"] == ",".join(SERVICES_THREE)
    assert env["CONSUMER_ROLE_TEMPLATE"] == "arn:aws:iam::{account}:role/EndpointGateCidrReader"
    assert "{account}" in env["CONSUMER_ROLE_TEMPLATE"]
    assert 1 <= int(env["CONCURRENCY"]) <= 256
    # decide's links point at respond's URL and are signed with the keys
    # respond checks them with.
    assert env["RESPOND_URL"] == "<RespondFunctionUrl.FunctionUrl>"
    assert env["LINK_KEYS_SECRET_ARN"] == "<LinkKeysSecret>"
    assert "LINK_TTL_SECS" not in env


def test_respond_environment_values() -> None:
    env = provider(SERVICES_THREE).resolved_resources()["RespondFunction"]["Properties"]["Environment"]["Variables"]
    assert env == {
        "TABLE_NAME": "<Table>",
        "LINK_KEYS_SECRET_ARN": "<LinkKeysSecret>",
        "CONSUMER_TOPIC_ARN": "<ConsumerTopic>",
    }


def test_action_lease_is_not_shorter_than_the_timeout() -> None:
    props = functions(load(TEMPLATE))["DecideFunction"]["Properties"]
    lease = int(props["Environment"]["Variables"]["ACTION_LEASE_SECS"])
    assert lease >= int(props["Timeout"]), "a sweep could take over a claim a live invocation still holds"


def test_log_settings_come_from_logging_config_not_environment() -> None:
    for name, fn in functions(load(TEMPLATE)).items():
        props = fn["Properties"]
        assert props["LoggingConfig"]["LogFormat"] == "JSON", name
        assert not any(v.startswith("AWS_") for v in props.get("Environment", {}).get("Variables", {})), name


# ---------------------------------------------------- (c) Accept/Reject scope


def service_arn(service: str) -> str:
    return f"arn:aws:ec2:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}:vpc-endpoint-service/{service}"


def grants(action: str, statement: dict) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in as_list(statement.get("Action", [])))


def role_statements(resources: dict[str, dict]) -> dict[str, list[dict]]:
    """Per role (logical id), the identity statements granted to it: its
    inline Policies and the AWS::IAM::RolePolicy / AWS::IAM::Policy resources
    naming it (resolved resources: a Ref to a role reads "<Role>")."""
    out: dict[str, list[dict]] = {}
    for name, res in resources.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::IAM::Role":
            out.setdefault(name, []).extend(st for _, st in statements(props.get("Policies", [])))
        elif res["Type"] in ("AWS::IAM::RolePolicy", "AWS::IAM::Policy"):
            roles = [props["RoleName"]] if "RoleName" in props else as_list(props.get("Roles", []))
            assert roles, f"{name}: attached to no role"
            for role in roles:
                assert re.fullmatch(r"<\w+>", role), f"{name}: role {role!r} is not one of the template's"
                out.setdefault(role.strip("<>"), []).extend(st for _, st in statements(props["PolicyDocument"]))
    return out


def allowed(role: list[dict], action: str) -> list[dict]:
    return [st for st in role if st.get("Effect") == "Allow" and grants(action, st)]


@pytest.mark.parametrize("services", [SERVICES_ONE, SERVICES_THREE], ids=["one", "three"])
def test_accept_reject_only_on_the_configured_services(services: list[str]) -> None:
    resources = provider(services).resolved_resources()
    roles = role_statements(resources)
    for action in ACCEPT_REJECT:
        anywhere = [st for _, st in statements(resources) if st.get("Effect") == "Allow" and grants(action, st)]
        by_role = {name: allowed(sts, action) for name, sts in roles.items() if allowed(sts, action)}
        assert sum(len(v) for v in by_role.values()) == len(anywhere), f"{action} granted outside a role's policies"
        assert set(by_role) == {"DecideRole", "RespondRole"}, action
        for role, found in by_role.items():
            granted: list[str] = []
            tagged = [st for st in found if "Condition" in st]
            assert len(tagged) == 1, f"{role}: {action} needs exactly one tag-scoped statement"
            assert_managed_tag_statement(role, tagged[0])
            for st in found:
                if st in tagged:
                    continue
                assert "NotResource" not in st and "Condition" not in st, role
                granted += as_list(st["Resource"])
            for arn in granted:
                assert re.fullmatch(r"arn:aws:ec2:[a-z0-9-]+:\d{12}:vpc-endpoint-service/vpce-svc-[0-9a-f]+", arn), (
                    f"{role}: {action} granted on {arn}, not on an endpoint service ARN"
                )
            assert sorted(granted) == sorted(service_arn(s) for s in services), (role, action)


MANAGED_TAG_CONDITION = {"StringEquals": {"aws:ResourceTag/endpoint-gate:managed": "true"}}


def assert_managed_tag_statement(role: str, st: dict) -> None:
    """Accept/Reject on the services the CLI's apply tagged (services as
    code): only this account's and region's endpoint service ARNs, only
    under the tag condition, never Resource "*"."""
    assert st["Effect"] == "Allow" and "NotResource" not in st and "NotAction" not in st, (role, st)
    assert sorted(as_list(st["Action"])) == sorted(ACCEPT_REJECT), (role, st)
    assert st.get("Condition") == MANAGED_TAG_CONDITION, (role, st)
    (resource,) = as_list(st["Resource"])
    assert not is_wildcard_resource(resource), (role, resource)
    assert resource == service_arn("*"), (role, resource)
    assert fnmatch.fnmatchcase(service_arn("vpce-svc-0ffffffffffffffff"), resource)
    other_account = service_arn("vpce-svc-0abc1234").replace(PSEUDO["AWS::AccountId"], "999999999999")
    assert not fnmatch.fnmatchcase(other_account, resource), resource
    assert not fnmatch.fnmatchcase(f"arn:aws:ec2:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}:vpc-endpoint/vpce-0abc1234", resource)


def test_the_tag_check_would_catch_a_grant_without_its_condition_or_on_any_resource() -> None:
    good = {"Effect": "Allow", "Action": list(ACCEPT_REJECT), "Resource": service_arn("*"),
            "Condition": MANAGED_TAG_CONDITION}
    assert_managed_tag_statement("role", good)
    for bad in (
        {**good, "Condition": {"StringLike": {"aws:ResourceTag/endpoint-gate:managed": "*"}}},
        {k: v for k, v in good.items() if k != "Condition"},
        {**good, "Resource": "*"},
        {**good, "Resource": "arn:aws:ec2:*:*:vpc-endpoint-service/*"},
        {**good, "Action": ["ec2:*"]},
    ):
        with pytest.raises(AssertionError):
            assert_managed_tag_statement("role", bad)


def test_respond_is_granted_only_what_it_calls() -> None:
    roles = role_statements(provider(SERVICES_THREE).resolved_resources())
    actions = {a for st in roles["RespondRole"] if st.get("Effect") == "Allow" for a in as_list(st["Action"])}
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "ec2:DescribeVpcEndpointConnections",
        *ACCEPT_REJECT,
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "secretsmanager:GetSecretValue",
        "sns:Publish",
    }
    for st in roles["RespondRole"]:
        if grants("sns:Publish", st):
            assert st["Resource"] == "<ConsumerTopic>", st
        if st["Resource"] == "*":
            assert as_list(st["Action"]) == ["ec2:DescribeVpcEndpointConnections"], st
        if grants("logs:PutLogEvents", st):
            assert st["Resource"] == "<RespondLogGroup.Arn>"


def test_link_keys_are_read_only_by_decide_and_respond_and_only_that_secret() -> None:
    resources = provider(SERVICES_ONE).resolved_resources()
    anywhere = [st for _, st in statements(resources) if any(str(a).startswith("secretsmanager:") for a in as_list(st.get("Action", [])))]
    by_role = {
        name: [st for st in sts if any(str(a).startswith("secretsmanager:") for a in as_list(st["Action"]))]
        for name, sts in role_statements(resources).items()
    }
    by_role = {k: v for k, v in by_role.items() if v}
    assert set(by_role) == {"DecideRole", "RespondRole"}
    assert sum(len(v) for v in by_role.values()) == len(anywhere)
    for st in anywhere:
        assert st["Effect"] == "Allow"
        assert as_list(st["Action"]) == ["secretsmanager:GetSecretValue"], st
        assert st["Resource"] == "<LinkKeysSecret>", st


def test_link_keys_secret_starts_with_a_random_current_key_and_no_previous() -> None:
    secret = provider(SERVICES_ONE).resolved_resources()["LinkKeysSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert "SecretString" not in secret["Properties"], "the key must be generated, not written in the template"
    gen = secret["Properties"]["GenerateSecretString"]
    assert json.loads(gen["SecretStringTemplate"]) == {"previous": None}
    assert gen["GenerateStringKey"] == "current"
    assert gen["PasswordLength"] >= 32 and gen["ExcludePunctuation"] is True


def test_only_respond_is_public_and_lookup_needs_a_signature() -> None:
    template = load(TEMPLATE)
    for name, fn in functions(template).items():
        assert "FunctionUrlConfig" not in fn["Properties"], f"{name}: write the URL and its permissions out"
    resources = provider(SERVICES_ONE).resolved_resources()
    urls = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::Lambda::Url"}
    assert urls == {
        "RespondFunctionUrl": {"TargetFunctionArn": "<RespondFunction.Arn>", "AuthType": "NONE"},
        "LookupFunctionUrl": {"TargetFunctionArn": "<LookupFunction.Arn>", "AuthType": "AWS_IAM"},
    }
    permissions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]
    for p in permissions:
        if p["FunctionName"] == "<LookupFunction.Arn>":
            # Signed calls through the URL only; "*" only narrowed to the
            # organization.
            assert lookup_permission_kind(p), p
            assert p["Principal"] != "*" or p.get("PrincipalOrgID"), p
    public = sorted(
        (p for p in permissions if p["Principal"] == "*" and not p.get("PrincipalOrgID")), key=lambda p: p["Action"]
    )
    assert public == [
        {"FunctionName": "<RespondFunction.Arn>", "Action": "lambda:InvokeFunction", "Principal": "*",
         "InvokedViaFunctionUrl": True},
        {"FunctionName": "<RespondFunction.Arn>", "Action": "lambda:InvokeFunctionUrl", "Principal": "*",
         "FunctionUrlAuthType": "NONE"},
    ]
    assert template["Outputs"]["RespondUrl"]["Value"] == {"Fn::GetAtt": ["RespondFunctionUrl", "FunctionUrl"]}


def lookup_permission_kind(p: dict) -> str | None:
    """Which of the two URL permissions this is: "url" (InvokeFunctionUrl
    on an AWS_IAM URL), "invoke" (InvokeFunction through a URL), or None."""
    rest = {k: v for k, v in p.items() if k not in ("FunctionName", "Principal", "PrincipalOrgID")}
    if rest == {"Action": "lambda:InvokeFunctionUrl", "FunctionUrlAuthType": "AWS_IAM"}:
        return "url"
    if rest == {"Action": "lambda:InvokeFunction", "InvokedViaFunctionUrl": True}:
        return "invoke"
    return None


@pytest.mark.parametrize("org", [None, "o-abcdef1234"], ids=["account", "organization"])
def test_each_lookup_caller_gets_both_function_url_permissions(org: str | None) -> None:
    # Function URLs created since October 2025 need lambda:InvokeFunctionUrl
    # and lambda:InvokeFunction (InvokedViaFunctionUrl) for each principal.
    params = {"ForwardingOrganizationId": org} if org else {}
    resources = provider(SERVICES_ONE, **params).resolved_resources()
    granted: dict[tuple, set] = {}
    for r in resources.values():
        p = r["Properties"]
        if r["Type"] == "AWS::Lambda::Permission" and p["FunctionName"] == "<LookupFunction.Arn>":
            who = (p["Principal"], p.get("PrincipalOrgID"))
            granted.setdefault(who, set()).add(lookup_permission_kind(p))
    expected = {(PSEUDO["AWS::AccountId"], None): {"url", "invoke"}}
    if org:
        expected[("*", org)] = {"url", "invoke"}
    assert granted == expected


@pytest.mark.parametrize("services", [SERVICES_ONE, SERVICES_THREE], ids=["one", "three"])
def test_each_service_notifies_the_connection_topic_which_only_they_may_publish_to(services: list[str]) -> None:
    resources = provider(services).resolved_resources()
    notifications = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::EC2::VPCEndpointConnectionNotification"]
    assert sorted(n["ServiceId"] for n in notifications) == sorted(services)
    for n in notifications:
        assert "Connect" in n["ConnectionEvents"]
        assert n["ConnectionNotificationArn"] == "<ConnectionTopic>"

    (policy,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::SNS::TopicPolicy" and "<ConnectionTopic>" in r["Properties"]["Topics"]
    ]
    assert policy["Topics"] == ["<ConnectionTopic>"]
    (st,) = policy["PolicyDocument"]["Statement"]
    assert st["Principal"] == {"Service": "vpce.amazonaws.com"}
    assert st["Condition"]["StringEquals"]["aws:SourceAccount"] == PSEUDO["AWS::AccountId"]
    # Any service of this account and region: apply adds notifications for
    # the services the policy file manages, which the stack cannot name.
    source_arns = as_list(st["Condition"]["ArnLike"]["aws:SourceArn"])
    assert source_arns == [service_arn("*")], source_arns
    for service in [*services, "vpce-svc-0ffffffffffffffff"]:
        assert any(fnmatch.fnmatchcase(service_arn(service), p) for p in source_arns), service
    elsewhere = service_arn("vpce-svc-0abc1234").replace(PSEUDO["AWS::AccountId"], "999999999999")
    assert not any(fnmatch.fnmatchcase(elsewhere, p) for p in source_arns)


# ------------------------------------------------ the review topic (issue 13)

REVIEW_SUBSCRIPTION_ACTIONS = {"sns:Subscribe", "sns:SetSubscriptionAttributes"}


def review_topic_policy(topic: str = "<ReviewTopic>", **params: Any) -> dict:
    resources = provider(SERVICES_ONE, **params).resolved_resources()
    (policy,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::SNS::TopicPolicy" and topic in r["Properties"]["Topics"]
    ]
    assert policy["Topics"] == [topic]
    return policy["PolicyDocument"]


def denies_subscribe(document: dict, principal_arn: str) -> bool:
    """Whether the topic policy denies sns:Subscribe to this principal
    (ArnNotLike with several values: denied when none matches)."""
    for st in document["Statement"]:
        if st["Effect"] != "Deny" or not grants("sns:Subscribe", st):
            continue
        assert st["Principal"] == "*" and st["Resource"] in ("<ReviewTopic>", "<ConsumerTopic>"), st
        condition = st.get("Condition")
        if condition is None:
            return True
        assert list(condition) == ["ArnNotLike"] and list(condition["ArnNotLike"]) == ["aws:PrincipalArn"], condition
        patterns = as_list(condition["ArnNotLike"]["aws:PrincipalArn"])
        if not any(fnmatch.fnmatchcase(principal_arn, p) for p in patterns):
            return True
    return False


def test_approver_emails_are_not_subscribed_by_the_stack() -> None:
    # The CLI's apply subscribes each policy's approvers with a filter
    # policy; the stack neither takes their addresses nor subscribes anyone.
    template = load(TEMPLATE)
    assert "ApproverEmails" not in template["Parameters"]
    for params in PARAMETER_SETS:
        resources = provider(SERVICES_THREE, **params).resolved_resources()
        assert not [k for k, r in resources.items() if r["Type"] == "AWS::SNS::Subscription"], params
    # Nor does any deploy path, example or document still pass it.
    for path in [ROOT / "README.md", ROOT / "infra.mk", ROOT / "Makefile", *TEMPLATES, *ROOT.glob("samconfig*")]:
        assert "ApproverEmails" not in path.read_text(), path


def test_only_the_operators_may_subscribe_to_the_review_topic() -> None:
    operator = "arn:aws:iam::111122223333:role/NetOps"
    sso = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_*"
    document = review_topic_policy(OperatorArns=[operator, sso])
    for st in document["Statement"]:
        # Only Deny statements: publishing stays with decide's role.
        assert st["Effect"] == "Deny", st
        assert set(as_list(st["Action"])) == REVIEW_SUBSCRIPTION_ACTIONS, st
    assert not denies_subscribe(document, operator)
    assert not denies_subscribe(document, "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123")
    for other in (
        "arn:aws:iam::111122223333:role/Developer",
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::111122223333:role/NetOpsReadOnly",
        "arn:aws:iam::444455556666:role/NetOps",
    ):
        assert denies_subscribe(document, other), other


def test_only_the_operators_may_subscribe_to_the_consumer_topic() -> None:
    # An unfiltered subscription would read every tenant's notices.
    operator = "arn:aws:iam::111122223333:role/NetOps"
    document = review_topic_policy("<ConsumerTopic>", OperatorArns=[operator])
    for st in document["Statement"]:
        assert st["Effect"] == "Deny" and st["Resource"] == "<ConsumerTopic>", st
        assert set(as_list(st["Action"])) == REVIEW_SUBSCRIPTION_ACTIONS, st
    assert not denies_subscribe(document, operator)
    for other in ("arn:aws:iam::111122223333:role/Developer", "arn:aws:iam::222222222222:role/NetOps"):
        assert denies_subscribe(document, other), other
    for who in ("arn:aws:iam::111122223333:root", operator):
        assert denies_subscribe(review_topic_policy("<ConsumerTopic>"), who), who


def test_without_operators_nobody_may_subscribe_to_the_review_topic() -> None:
    # Failing closed: no exception for "the account" or its administrators.
    document = review_topic_policy()
    for who in ("arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:role/Admin"):
        assert denies_subscribe(document, who), who
    (st,) = document["Statement"]
    assert "Condition" not in st


def test_decide_may_publish_and_list_the_review_topic_subscriptions() -> None:
    roles = role_statements(provider(SERVICES_ONE).resolved_resources())
    # Approvers' links go out from decide alone; decision notices from
    # decide and from respond (an approver's answer).
    publishers = {
        name: sorted(st["Resource"] for st in allowed(sts, "sns:Publish"))
        for name, sts in roles.items()
        if allowed(sts, "sns:Publish")
    }
    assert publishers == {"DecideRole": ["<ConsumerTopic>", "<ReviewTopic>"], "RespondRole": ["<ConsumerTopic>"]}
    for action in ("sns:ListSubscriptionsByTopic", "sns:GetSubscriptionAttributes"):
        found = allowed(roles["DecideRole"], action)
        assert sorted(st["Resource"] for st in found) == ["<ConsumerTopic>", "<ReviewTopic>"], action
        others = {name for name, sts in roles.items() if name != "DecideRole" and allowed(sts, action)}
        assert not others, (action, others)
    # decide only looks at subscriptions; it never makes or changes one.
    for action in ("sns:Subscribe", "sns:SetSubscriptionAttributes", "sns:Unsubscribe"):
        assert not any(allowed(sts, action) for sts in roles.values()), action


UNKNOWN_SUBSCRIPTION_MESSAGE = "review topic has a subscription no policy names"
STRAY_CONSUMER_SUBSCRIPTION_MESSAGE = "consumer topic has a subscription no contact names"


@pytest.mark.parametrize("message,metric", [
    (UNKNOWN_SUBSCRIPTION_MESSAGE, "UnknownReviewSubscriptions"),
    (STRAY_CONSUMER_SUBSCRIPTION_MESSAGE, "StrayConsumerSubscriptions"),
])
def test_an_unknown_topic_subscription_raises_an_alarm(message: str, metric: str) -> None:
    resources = provider(SERVICES_ONE, AlarmTopicArn="arn:aws:sns:eu-west-1:111122223333:pager").resolved_resources()
    filters = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Logs::MetricFilter"]
    (metric_filter,) = [f for f in filters if f["MetricTransformations"][0]["MetricName"] == metric]
    assert metric_filter["LogGroupName"] == "<DecideLogGroup>"
    # decide's JSON logs (tracing): the message is at $.fields.message.
    pattern = re.fullmatch(r'\{\s*\$\.fields\.message\s*=\s*"([^"]*)"\s*\}', metric_filter["FilterPattern"])
    assert pattern and pattern.group(1) == message, metric_filter["FilterPattern"]
    # The Rust side logs that exact text (a constant, with the subscription
    # in other fields): the filter counts nothing if the two drift apart.
    logged = [f for f in (ROOT / "crates").rglob("*.rs") if f'"{message}"' in f.read_text()]
    assert logged, f"no Rust source logs {message!r}"
    (transformation,) = metric_filter["MetricTransformations"]
    assert (transformation["MetricNamespace"], transformation["MetricName"]) == ("EndpointGate", metric)
    assert transformation["MetricValue"] == "1"
    alarms = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("MetricName") == metric
    ]
    (alarm,) = alarms
    assert alarm["Namespace"] == "EndpointGate" and alarm["Statistic"] == "Sum"
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == (
        1, "GreaterThanOrEqualToThreshold", 1)
    assert alarm["AlarmActions"] == ["arn:aws:sns:eu-west-1:111122223333:pager"]


# --------------------------------------------- alarms and concurrency (issue 13)


def test_every_function_has_an_errors_alarm() -> None:
    resources = provider(SERVICES_ONE).resolved_resources()
    with_alarm = {
        dim["Value"].strip("<>")
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and (r["Properties"].get("Namespace"), r["Properties"].get("MetricName")) == ("AWS/Lambda", "Errors")
        for dim in r["Properties"]["Dimensions"]
        if dim["Name"] == "FunctionName"
    }
    assert with_alarm == set(functions(load(TEMPLATE))) == {
        "DecideFunction", "RecordFunction", "RespondFunction", "LookupFunction"}
    # decide keeps its other alarms.
    names = {k for k, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert {"DecideThrottlesAlarm", "DecideDurationNearTimeoutAlarm", "FailureQueueDepthAlarm"} <= names


def test_reserved_concurrency_is_opt_in() -> None:
    # New accounts often have a concurrency limit of 10, and Lambda keeps 100
    # unreserved: any reservation by default would fail the deploy there.
    template = load(TEMPLATE)
    reserved = {k: v for k, v in template["Parameters"].items() if "ReservedConcurrency" in k}
    assert set(reserved) == {"ReservedConcurrency", "RespondReservedConcurrency"}
    for name, spec in reserved.items():
        assert int(spec["Default"]) == 0 and int(spec["MinValue"]) == 0, name
    defaults = provider(SERVICES_ONE).resolved_resources()
    for name in functions(template):
        assert "ReservedConcurrentExecutions" not in defaults[name]["Properties"], name
    chosen = provider(SERVICES_ONE, ReservedConcurrency="10", RespondReservedConcurrency="5").resolved_resources()
    assert {n: chosen[n]["Properties"].get("ReservedConcurrentExecutions") for n in functions(template)} == {
        "DecideFunction": "10", "RecordFunction": "10", "RespondFunction": "5", "LookupFunction": "5"}


# -------------------------------------------- rules that trust CloudTrail (issue 13)


def pattern_matches(pattern: Any, event: Any) -> bool:
    """EventBridge matching for the operators the template uses: exact
    values and {"prefix": ...} in lists, nested objects."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(k in event and pattern_matches(v, event[k]) for k, v in pattern.items())
    assert isinstance(pattern, list), pattern
    for value in pattern:
        if isinstance(value, dict):
            assert list(value) == ["prefix"], value
            if isinstance(event, str) and event.startswith(value["prefix"]):
                return True
        elif event == value:
            return True
    return False


def cloudtrail_rules(resources: dict[str, dict]) -> dict[str, dict]:
    """Each function event (logical id <Function><Event>) whose pattern
    takes "AWS API Call via CloudTrail" events."""
    out = {}
    for name, res in resources.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for event, spec in res["Properties"].get("Events", {}).items():
            pattern = spec["Properties"].get("Pattern")
            if pattern and "AWS API Call via CloudTrail" in pattern.get("detail-type", []):
                out[name + event] = pattern
    return out


def sample(path: str, **changes: Any) -> dict:
    event = json.loads((ROOT / "events" / path).read_text())
    event.update(changes)
    return event


def test_rules_that_trust_cloudtrail_take_only_this_accounts_events() -> None:
    # A default bus opened to the organization accepts PutEvents from every
    # account in it. Only decide's CreateVpcEndpoint rule takes other
    # accounts' events, by design (and decide re-reads the truth from EC2).
    resources = provider(SERVICES_ONE, ForwardingOrganizationId="o-abcdef1234").resolved_resources()
    rules = cloudtrail_rules(resources)
    assert set(rules) == {"RecordFunctionAcceptReject", "DecideFunctionCreateVpcEndpoint"}
    for name, pattern in rules.items():
        if name != "DecideFunctionCreateVpcEndpoint":
            assert pattern.get("account") == [PSEUDO["AWS::AccountId"]], name
    accept_reject = rules["RecordFunctionAcceptReject"]
    for path in ("record/cloudtrail-console-accept.json", "record/cloudtrail-console-reject.json"):
        assert pattern_matches(accept_reject, sample(path, account=PSEUDO["AWS::AccountId"])), path
        assert not pattern_matches(accept_reject, sample(path, account="444455556666")), path


def test_create_vpc_endpoint_rule_takes_only_endpoints_to_endpoint_services() -> None:
    pattern = cloudtrail_rules(provider(SERVICES_ONE).resolved_resources())["DecideFunctionCreateVpcEndpoint"]
    assert "account" not in pattern
    request = pattern["detail"].get("requestParameters", {}).get("CreateVpcEndpointRequest", {})
    assert request.get("ServiceName") == [{"prefix": "com.amazonaws.vpce."}], pattern
    event = sample("decide/cloudtrail-create-vpc-endpoint.json")
    assert pattern_matches(pattern, event)
    assert pattern_matches(pattern, {**event, "account": "555566667777"})
    for name in ("com.amazonaws.us-east-1.s3", "com.amazonaws.eu-west-1.ssm", "aws.sagemaker.us-east-1.notebook"):
        other = copy.deepcopy(event)
        other["detail"]["requestParameters"]["CreateVpcEndpointRequest"]["ServiceName"] = name
        assert not pattern_matches(pattern, other), name


def forwarding(**params: Any) -> dict[str, dict]:
    return Evaluator(load(CONSUMER_FORWARDING), {"ProviderAccountId": "111122223333", **params}).resolved_resources()


def test_the_consumer_kit_forwards_what_the_provider_rule_takes_and_nothing_else() -> None:
    provider_pattern = cloudtrail_rules(provider(SERVICES_ONE).resolved_resources())["DecideFunctionCreateVpcEndpoint"]
    rule = forwarding()["ForwardCreateVpcEndpoint"]["Properties"]
    assert rule["EventPattern"] == provider_pattern, "the two patterns drifted apart"
    event = sample("decide/cloudtrail-create-vpc-endpoint.json")
    assert pattern_matches(rule["EventPattern"], {**event, "account": "555566667777"})
    s3 = copy.deepcopy(event)
    s3["detail"]["requestParameters"]["CreateVpcEndpointRequest"]["ServiceName"] = "com.amazonaws.us-east-1.s3"
    assert not pattern_matches(rule["EventPattern"], s3), "endpoints to AWS services stay home"


def test_the_consumer_kit_puts_events_only_on_the_providers_default_bus() -> None:
    for params, region in (({}, PSEUDO["AWS::Region"]), ({"ProviderRegion": "us-east-1"}, "us-east-1")):
        resources = forwarding(**params)
        bus = f"arn:aws:events:{region}:111122223333:event-bus/default"
        (target,) = resources["ForwardCreateVpcEndpoint"]["Properties"]["Targets"]
        assert target["Arn"] == bus and target["RoleArn"] == "<ForwardingRole.Arn>", target
        role = resources["ForwardingRole"]["Properties"]
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "events.amazonaws.com"}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": PSEUDO["AWS::AccountId"]}}
        grants = [st for _, st in statements(role["Policies"])]
        assert grants == [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus}], grants
    spec = load(CONSUMER_FORWARDING)["Parameters"]["ProviderRegion"]
    for bad in ("us-east-1a", "*", "arn:aws:events"):
        assert not re.fullmatch(spec["AllowedPattern"], bad), bad


# ------------------------------------------- respond's writes (issue 13)

ITEMS_RS = ROOT / "crates" / "aws" / "src" / "items"
WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                 "dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"}


def partition_prefix(function: str) -> str:
    """The literal partition key prefix a key function of the adapter's item
    types formats (`key(format!("REQUEST#{endpoint}"), ...)`, `format!("AUDIT#{endpoint}")`)."""
    for path in sorted(ITEMS_RS.glob("*.rs")):
        body = re.search(rf"\nfn {function}\(.*?\n\}}|\npub\(crate\) fn {function}\(.*?\n\}}", path.read_text(), re.S)
        if body:
            found = re.search(r'format!\("([A-Z]+#)', body.group(0))
            assert found, f"{function}: no partition key format in {path}"
            return found.group(1)
    raise AssertionError(f"no fn {function} in {ITEMS_RS}")


def test_respond_writes_only_request_audit_notice_and_guard_items() -> None:
    # Its URL is public: it may update a request record, append audit
    # entries, claim the consumer's notice and move a service's CIDR guard,
    # never write a policy, an allow entry, a contact or the registry.
    prefixes = {partition_prefix(f) for f in ("request_key", "audit_partition", "notice_key", "cidr_claims_key")}
    assert prefixes == {"REQUEST#", "AUDIT#", "NOTICE#", "CIDRS#"}
    roles = role_statements(provider(SERVICES_ONE).resolved_resources())
    writes = [st for st in roles["RespondRole"] if st.get("Effect") == "Allow"
              and any(grants(a, st) for a in WRITE_ACTIONS)]
    assert writes
    for st in writes:
        assert as_list(st["Action"]) == ["dynamodb:PutItem"], st
        assert as_list(st["Resource"]) == ["<Table.Arn>"], st
        assert st.get("Condition") == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["REQUEST#*", "AUDIT#*", "NOTICE#*", "CIDRS#*"]}}, st
        keys = st["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        for pk in ("REQUEST#vpce-0f1e2d3c4b5a69788", "AUDIT#vpce-0f1e2d3c4b5a69788", "NOTICE#vpce-0f1e2d3c4b5a69788",
                   "CIDRS#vpce-svc-0abc1234def567890"):
            assert any(fnmatch.fnmatchcase(pk, k) for k in keys), pk
        for pk in ("POLICY#*", "ALLOW#*", "CONTACT#210000000001", "ENDPOINT#vpce-0f1e2d3c4b5a69788", "CONFIG"):
            assert not any(fnmatch.fnmatchcase(pk, k) for k in keys), pk


def test_assume_role_only_on_the_consumer_role_name_and_external_id_when_set() -> None:
    for params, condition in (
        ({}, None),
        ({"ConsumerRoleName": "GateReader", "ConsumerRoleExternalId": "ext-42"}, {"StringEquals": {"sts:ExternalId": "ext-42"}}),
    ):
        resources = provider(SERVICES_ONE, **params).resolved_resources()
        found = [st for _, st in statements(resources) if "Principal" not in st and grants("sts:AssumeRole", st)]
        assert len(found) == 1
        name = params.get("ConsumerRoleName", "EndpointGateCidrReader")
        assert found[0]["Resource"] == f"arn:aws:iam::*:role/{name}"
        assert found[0].get("Condition") == condition


def test_table_access_only_on_the_table_and_its_indexes() -> None:
    resources = provider(SERVICES_ONE).resolved_resources()
    allowed = {"<Table.Arn>", "<Table.Arn>/index/gsi1", "<Table.Arn>/index/gsi2"}
    for _, st in statements(resources):
        if any(str(a).startswith("dynamodb:") for a in as_list(st.get("Action", []))):
            assert "<Table.Arn>" in as_list(st["Resource"]) and set(as_list(st["Resource"])) <= allowed, st
            # Nothing deletes or rewrites in bulk: the audit is append-only.
            assert not {"dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:Scan"} & set(as_list(st["Action"])), st


def test_lookup_only_reads() -> None:
    role = provider(SERVICES_ONE).resolved_resources()["LookupRole"]
    actions = {a for policy in role["Properties"]["Policies"] for st in policy["PolicyDocument"]["Statement"]
               for a in as_list(st["Action"])}
    writes = {a for a in actions if not a.split(":")[1].startswith(("Get", "BatchGet", "Query", "Describe"))}
    assert writes <= {"logs:CreateLogStream", "logs:PutLogEvents"}, writes


def test_other_accounts_may_put_events_only_when_an_organization_is_named() -> None:
    def bus_policies(**params: Any) -> list[dict]:
        resources = provider(SERVICES_ONE, **params).resolved_resources()
        return [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Events::EventBusPolicy"]

    assert bus_policies() == []
    (policy,) = bus_policies(ForwardingOrganizationId="o-abcdef1234")
    st = policy["Statement"]
    assert st["Action"] == "events:PutEvents"
    assert st["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdef1234"}}
    assert st["Resource"] == "arn:aws:events:eu-west-1:111122223333:event-bus/default"


DECIDE_ROLE_ARN = "arn:aws:iam::111122223333:role/endpoint-gate-DecideRole-1A2B3C4D5E6F"


def test_consumer_role_trusts_only_decides_role_in_the_provider_account() -> None:
    only_decide = {"ArnEquals": {"aws:PrincipalArn": DECIDE_ROLE_ARN}}
    for params, condition in (
        ({}, only_decide),
        ({"ExternalId": "ext-42"}, {**only_decide, "StringEquals": {"sts:ExternalId": "ext-42"}}),
    ):
        resources = Evaluator(
            load(CONSUMER_ROLE), {"ProviderAccountId": "111122223333", "DecideRoleArn": DECIDE_ROLE_ARN, **params}
        ).resolved_resources()
        role = resources["CidrReaderRole"]["Properties"]
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
        assert trust.get("Condition") == condition
        actions = sorted(a for _, st in statements(role["Policies"]) for a in as_list(st["Action"]))
        assert actions == ["ec2:DescribeVpcEndpoints", "ec2:DescribeVpcs"]


def test_the_consumer_role_is_given_decides_role_arn_by_the_provider_stack() -> None:
    spec = load(CONSUMER_ROLE)["Parameters"]["DecideRoleArn"]
    assert "Default" not in spec, "without decide's role the trust would have nobody (or everybody) to name"
    assert re.fullmatch(spec["AllowedPattern"], DECIDE_ROLE_ARN)
    for bad in ("", "*", "arn:aws:iam::111122223333:root", "arn:aws:sts::111122223333:assumed-role/R/s"):
        assert not re.fullmatch(spec["AllowedPattern"], bad), bad
    outputs = load(TEMPLATE)["Outputs"]
    assert outputs["DecideRoleArn"]["Value"] == {"Fn::GetAtt": ["DecideRole", "Arn"]}
    assert outputs["ProviderAccountId"]["Value"] == {"Ref": "AWS::AccountId"}


def test_organizations_role_reads_only_and_trusts_only_named_provider_roles() -> None:
    operator = "arn:aws:iam::111122223333:role/netops"
    lookup = "arn:aws:iam::111122223333:role/endpoint-gate-LookupRole-1A2B3C"
    for params, principals in (
        ({}, [DECIDE_ROLE_ARN]),
        ({"OperatorRoleArn": operator}, [DECIDE_ROLE_ARN, operator]),
        ({"LookupRoleArn": lookup}, [DECIDE_ROLE_ARN, lookup]),
    ):
        resources = Evaluator(
            load(ORGANIZATIONS_ROLE), {"ProviderAccountId": "111122223333", "DecideRoleArn": DECIDE_ROLE_ARN, **params}
        ).resolved_resources()
        role = resources["OrgReaderRole"]["Properties"]
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
        assert trust["Condition"] == {"ArnEquals": {"aws:PrincipalArn": principals}}
        actions = sorted(a for _, st in statements(role["Policies"]) for a in as_list(st["Action"]))
        assert all(a.split(":")[1].startswith(("Describe", "List")) for a in actions), actions
        assert "organizations:ListParents" in actions


def test_decide_and_lookup_may_assume_only_the_organizations_role_they_are_given() -> None:
    arn = "arn:aws:iam::999988887777:role/EndpointGateOrgReader"
    for role, function in (("DecideRole", "DecideFunction"), ("LookupRole", "LookupFunction")):
        resources = provider(SERVICES_ONE).resolved_resources()
        without = resources[role]["Properties"]["Policies"]
        assert not any(p.get("PolicyName") == "organizations-reader" for p in without), role
        assert "ORGANIZATIONS_ROLE_ARN" not in resources[function]["Properties"]["Environment"]["Variables"]
        with_role = provider(SERVICES_ONE, OrganizationsRoleArn=arn).resolved_resources()
        policies = with_role[role]["Properties"]["Policies"]
        (policy,) = [p for p in policies if p.get("PolicyName") == "organizations-reader"]
        (statement,) = policy["PolicyDocument"]["Statement"]
        assert statement == {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn}, role
        env = with_role[function]["Properties"]["Environment"]["Variables"]
        assert env["ORGANIZATIONS_ROLE_ARN"] == arn
