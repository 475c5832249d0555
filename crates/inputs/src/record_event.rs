//! What reaches the `record` function, turned into the endpoints it names.
//! Events are hints; the connection is read again from EC2.
//!
//! - SNS: the endpoint services' connection notifications (Connect, Accept,
//!   Reject, Delete); ids are pulled out of the undocumented body.
//! - EventBridge `AWS API Call via CloudTrail`: `AcceptVpcEndpointConnections`
//!   and `RejectVpcEndpointConnections` in the provider account, including a
//!   person's in the console; the caller of an Accept is who accepted. A
//!   default bus opened to an organization takes `PutEvents` from all of its
//!   accounts, and EventBridge sets an event's `account` to the account it
//!   came from, so only events of the provider's own account count
//!   (<https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html>).
//!   Endpoints listed under `unsuccessful` in the response were not accepted
//!   (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AcceptVpcEndpointConnections.html>).
//! - EventBridge `Scheduled Event`: sweep every connection of the services.

use aws_lambda_events::event::sns::SnsEvent;
use gate_core::{AccountId, EndpointId, scan_ids};
use serde_json::Value;

/// An endpoint an event names, and who accepted it if the event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub endpoint: EndpointId,
    pub accepted_by: Option<String>,
}

/// What an event asks `record` to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecordTrigger {
    pub named: Vec<Named>,
    pub sweep: bool,
    pub ignored: Vec<String>,
    pub rejected: Vec<String>,
}

fn short(text: &str) -> String {
    text.chars().take(120).collect()
}

/// Classifies an event and collects the endpoints it names. `provider` is
/// the account the function runs in; without it no CloudTrail event counts.
pub fn parse(event: &Value, provider: Option<&AccountId>) -> RecordTrigger {
    let mut work = RecordTrigger::default();
    if event.get("Records").is_some() {
        match serde_json::from_value::<SnsEvent>(event.clone()) {
            Ok(sns) => {
                for record in sns.records {
                    let (_, endpoints) = scan_ids(&record.sns.message);
                    if endpoints.is_empty() {
                        work.rejected.push(format!(
                            "SNS message {} names no endpoint id",
                            short(&record.sns.message_id)
                        ));
                    }
                    work.named
                        .extend(endpoints.into_iter().map(|endpoint| Named { endpoint, accepted_by: None }));
                }
            }
            Err(e) => work.rejected.push(format!("Records is not an SNS event: {e}")),
        }
        return work;
    }
    let detail = event.get("detail").unwrap_or(&Value::Null);
    match event.get("detail-type").and_then(Value::as_str) {
        Some("Scheduled Event") => work.sweep = true,
        Some("AWS API Call via CloudTrail") => {
            let from = event.get("account").and_then(Value::as_str).unwrap_or_default();
            if provider.is_some_and(|p| p.as_str() == from) {
                cloudtrail(detail, &mut work);
            } else {
                work.ignored.push(format!(
                    "a CloudTrail event from account {:?}, not this provider's; it changes nothing",
                    short(from)
                ));
            }
        }
        Some(other) => {
            work.ignored.push(format!("EventBridge detail-type {:?} is not for record", short(other)))
        }
        None => work
            .rejected
            .push("unknown event shape (expected SNS Records or an EventBridge detail-type)".into()),
    }
    work
}

fn cloudtrail(detail: &Value, work: &mut RecordTrigger) {
    let name = detail.get("eventName").and_then(Value::as_str).unwrap_or_default();
    let accept = match name {
        "AcceptVpcEndpointConnections" => true,
        "RejectVpcEndpointConnections" => false,
        _ => return work.ignored.push(format!("CloudTrail {} does not change a connection", short(name))),
    };
    if let Some(code) = detail.get("errorCode").and_then(Value::as_str) {
        return work.ignored.push(format!("the {name} call failed ({}); nothing changed", short(code)));
    }
    let (_, endpoints) = scan_ids(&detail.get("requestParameters").map(Value::to_string).unwrap_or_default());
    if endpoints.is_empty() {
        return work.rejected.push(format!("CloudTrail {name} names no endpoint id in requestParameters"));
    }
    let refused = unsuccessful(detail.get("responseElements").unwrap_or(&Value::Null));
    let (endpoints, refused): (Vec<EndpointId>, Vec<EndpointId>) =
        endpoints.into_iter().partition(|e| !refused.contains(e));
    for e in refused {
        work.ignored.push(format!("{name} did not succeed for {e}; nothing changed"));
    }
    let actor = detail
        .pointer("/userIdentity/arn")
        .and_then(Value::as_str)
        .filter(|a| a.starts_with("arn:") && a.len() <= 2048 && !a.chars().any(char::is_control))
        .map(str::to_owned);
    let accepted_by = if accept { actor } else { None };
    work.named
        .extend(endpoints.into_iter().map(|endpoint| Named { endpoint, accepted_by: accepted_by.clone() }));
}

/// Endpoint ids under any `unsuccessful` key of the response, however
/// CloudTrail nests them (`{"unsuccessful": {"item": [...]}}` or a list).
fn unsuccessful(response: &Value) -> Vec<EndpointId> {
    let mut found = Vec::new();
    let mut stack = vec![response];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                for (key, value) in map {
                    if key.eq_ignore_ascii_case("unsuccessful") {
                        found.extend(scan_ids(&value.to_string()).1);
                    } else {
                        stack.push(value);
                    }
                }
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PROVIDER: &str = "123456789012";

    fn provider() -> AccountId {
        PROVIDER.parse().expect("account")
    }

    fn parse(event: &Value) -> RecordTrigger {
        super::parse(event, Some(&provider()))
    }

    fn trail(name: &str, params: Value, extra: Value) -> Value {
        let mut detail = json!({"eventName": name, "requestParameters": params,
            "userIdentity": {"arn": "arn:aws:sts::123456789012:assumed-role/Admin/alice"}});
        if let (Some(d), Some(e)) = (detail.as_object_mut(), extra.as_object()) {
            d.extend(e.clone());
        }
        json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2", "account": PROVIDER,
            "detail": detail})
    }

    #[test]
    fn another_accounts_cloudtrail_event_changes_nothing() {
        let params = json!({"VpcEndpointId": "vpce-0123456789abcdef0"});
        let mut forged = trail("AcceptVpcEndpointConnections", params, json!({}));
        forged["account"] = json!("999988887777");
        let work = parse(&forged);
        assert!(work.named.is_empty(), "{work:?}");
        assert!(work.ignored[0].contains("999988887777"), "{work:?}");
        let own = trail(
            "AcceptVpcEndpointConnections",
            json!({"VpcEndpointId": "vpce-0123456789abcdef0"}),
            json!({}),
        );
        assert!(
            super::parse(&own, None).named.is_empty(),
            "without knowing its account, record trusts no trail"
        );
        let mut unsigned = own.clone();
        unsigned.as_object_mut().map(|o| o.remove("account"));
        assert!(parse(&unsigned).named.is_empty());
    }

    #[test]
    fn endpoints_the_accept_did_not_succeed_for_are_not_accepted() {
        let params = json!({"AcceptVpcEndpointConnectionsRequest": {"ServiceId": "vpce-svc-0123456789abcdef0",
            "VpcEndpointId": [{"content": "vpce-0123456789abcdef0"}, {"content": "vpce-0fedcba9876543210"}]}});
        let response = json!({"responseElements": {"AcceptVpcEndpointConnectionsResponse": {
            "unsuccessful": {"item": {"resourceId": "vpce-0fedcba9876543210",
                "error": {"code": "InvalidVpcEndpoint.NotFound", "message": "gone"}}}}}});
        let work = parse(&trail("AcceptVpcEndpointConnections", params, response));
        let named: Vec<&str> = work.named.iter().map(|n| n.endpoint.as_str()).collect();
        assert_eq!(named, vec!["vpce-0123456789abcdef0"]);
        assert!(work.ignored.iter().any(|w| w.contains("vpce-0fedcba9876543210")), "{work:?}");
    }

    #[test]
    fn a_console_accept_names_its_caller() {
        let params = json!({"AcceptVpcEndpointConnectionsRequest": {"ServiceId": "vpce-svc-0123456789abcdef0",
            "VpcEndpointId": {"tag": 1, "content": "vpce-0123456789abcdef0"}}});
        let work = parse(&trail("AcceptVpcEndpointConnections", params, json!({})));
        assert_eq!(work.named.len(), 1);
        assert_eq!(
            work.named[0].accepted_by.as_deref(),
            Some("arn:aws:sts::123456789012:assumed-role/Admin/alice")
        );
    }

    #[test]
    fn hostile_and_irrelevant_events_are_refused_or_ignored_by_name() {
        let ids = json!({"VpcEndpointId": "vpce-0123456789abcdef0"});
        let cases = [
            (
                trail(
                    "AcceptVpcEndpointConnections",
                    ids.clone(),
                    json!({"errorCode": "Client.UnauthorizedOperation"}),
                ),
                "ignored",
            ),
            (trail("DescribeVpcEndpoints", ids.clone(), json!({})), "ignored"),
            (trail("AcceptVpcEndpointConnections", json!({"x": "vpce-nothex!"}), json!({})), "rejected"),
            (trail("AcceptVpcEndpointConnections", Value::Null, json!({})), "rejected"),
            (json!({"Records": "nope"}), "rejected"),
            (json!({"Records": [{"Sns": {"Message": "no ids here"}}]}), "rejected"),
            (json!({"detail-type": "Something Else"}), "ignored"),
            (json!([1, 2, 3]), "rejected"),
            (json!(null), "rejected"),
        ];
        for (event, want) in cases {
            let work = parse(&event);
            assert!(work.named.is_empty(), "{event}");
            let got = if work.rejected.is_empty() { "ignored" } else { "rejected" };
            assert_eq!(got, want, "{event}: {work:?}");
        }
        // A forged actor with control characters is not recorded as one.
        let forged =
            trail("AcceptVpcEndpointConnections", ids, json!({"userIdentity": {"arn": "arn:x\nFAKE"}}));
        assert_eq!(parse(&forged).named[0].accepted_by, None);
    }

    #[test]
    fn a_reject_names_no_acceptor_and_a_schedule_sweeps() {
        let work = parse(&trail(
            "RejectVpcEndpointConnections",
            json!({"VpcEndpointId": "vpce-0123456789abcdef0"}),
            json!({}),
        ));
        assert_eq!(work.named[0].accepted_by, None);
        assert!(parse(&json!({"detail-type": "Scheduled Event", "detail": {}})).sweep);
    }
}
