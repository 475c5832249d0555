//! Turns the events that reach `decide` into what to look at. An event is
//! only a hint: it names endpoints, and the truth is read back from EC2.
//!
//! - SNS: the endpoint service's connection notification. AWS does not
//!   document its body, so ids are pulled out of the text.
//! - EventBridge `AWS API Call via CloudTrail` / `CreateVpcEndpoint`,
//!   forwarded from a consumer account.
//! - EventBridge `Scheduled Event`: sweep everything pending.

use aws_lambda_events::event::sns::SnsEvent;
use gate_core::{EndpointId, scan_ids};
use serde_json::Value;

/// What an event asks `decide` to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DecideTrigger {
    pub endpoints: Vec<EndpointId>,
    pub sweep: bool,
    /// Parts of the event that were acknowledged without action, and why.
    pub ignored: Vec<String>,
    /// Parts of the event that are malformed; recorded and acknowledged,
    /// since retrying the same bytes cannot help.
    pub rejected: Vec<String>,
}

impl DecideTrigger {
    fn add(&mut self, endpoint: EndpointId) {
        if !self.endpoints.contains(&endpoint) {
            self.endpoints.push(endpoint);
        }
    }
}

fn short(text: &str) -> String {
    let mut s: String = text.chars().take(120).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

/// Classifies an event by its shape and collects the work it names.
pub fn parse(event: &Value) -> DecideTrigger {
    let mut work = DecideTrigger::default();
    if event.get("Records").is_some() {
        parse_sns(event, &mut work);
    } else if let Some(kind) = event.get("detail-type").and_then(Value::as_str) {
        parse_eventbridge(kind, event, &mut work);
    } else {
        let keys: Vec<&str> =
            event.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        work.rejected.push(format!(
            "unknown event shape (expected SNS Records or an EventBridge detail-type); top-level keys: {}",
            short(&keys.join(", "))
        ));
    }
    work
}

fn parse_sns(event: &Value, work: &mut DecideTrigger) {
    let sns: SnsEvent = match serde_json::from_value(event.clone()) {
        Ok(e) => e,
        Err(e) => {
            work.rejected.push(format!("Records is not an SNS event: {e}"));
            return;
        }
    };
    for record in sns.records {
        let id = record.sns.message_id.clone();
        let (_, endpoints) = scan_ids(&record.sns.message);
        if endpoints.is_empty() {
            work.rejected.push(format!(
                "SNS message {} names no endpoint id (vpce-…): {}",
                short(&id),
                short(&record.sns.message)
            ));
        }
        for e in endpoints {
            work.add(e);
        }
    }
}

fn parse_eventbridge(kind: &str, event: &Value, work: &mut DecideTrigger) {
    let detail = event.get("detail").unwrap_or(&Value::Null);
    match kind {
        "Scheduled Event" => work.sweep = true,
        "AWS API Call via CloudTrail" => {
            let name = detail.get("eventName").and_then(Value::as_str).unwrap_or_default();
            if name != "CreateVpcEndpoint" {
                work.ignored.push(format!("CloudTrail {} is not a connection request", short(name)));
                return;
            }
            if let Some(code) = detail.get("errorCode").and_then(Value::as_str) {
                work.ignored.push(format!(
                    "the consumer's CreateVpcEndpoint failed ({}); nothing to decide",
                    short(code)
                ));
                return;
            }
            let response = detail.get("responseElements").map(Value::to_string).unwrap_or_default();
            let (_, endpoints) = scan_ids(&response);
            if endpoints.is_empty() {
                work.rejected
                    .push("CloudTrail CreateVpcEndpoint has no endpoint id in responseElements".to_owned());
            }
            for e in endpoints {
                work.add(e);
            }
        }
        other => work.ignored.push(format!("EventBridge detail-type {:?} is not for decide", short(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sns(messages: &[&str]) -> Value {
        let records: Vec<Value> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                json!({
                    "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:aws:sns:us-east-1:111122223333:n:1",
                    "Sns": { "Type": "Notification", "MessageId": format!("m-{i}"), "TopicArn": "arn:aws:sns:us-east-1:111122223333:n",
                             "Subject": null, "Message": m, "Timestamp": "2026-11-22T10:00:00.000Z", "SignatureVersion": "1",
                             "Signature": "x", "SigningCertUrl": "https://x", "UnsubscribeUrl": "https://x", "MessageAttributes": {} }
                })
            })
            .collect();
        json!({ "Records": records })
    }

    #[test]
    fn connection_notification_names_its_endpoint() {
        let w = parse(&sns(&[
            r#"{"Event":"Connect","ServiceId":"vpce-svc-0abc1234","EndpointId":"vpce-0123456789abcdef0"}"#,
        ]));
        assert_eq!(w.endpoints, vec!["vpce-0123456789abcdef0".parse::<EndpointId>().expect("id")]);
        assert!(w.rejected.is_empty() && !w.sweep);
    }

    #[test]
    fn duplicate_records_name_one_endpoint_once() {
        let m = r#"{"EndpointId":"vpce-0123456789abcdef0"}"#;
        assert_eq!(parse(&sns(&[m, m, m])).endpoints.len(), 1);
    }

    #[test]
    fn message_without_ids_is_rejected_by_name() {
        let w = parse(&sns(&["hello", r#"{"EndpointId":"vpce-0123456789abcdef0"}"#]));
        assert_eq!(w.endpoints.len(), 1);
        assert_eq!(w.rejected.len(), 1);
        assert!(w.rejected[0].contains("m-0") && w.rejected[0].contains("hello"), "{:?}", w.rejected);
    }

    #[test]
    fn schedule_means_sweep() {
        let w = parse(&json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}));
        assert!(w.sweep);
    }

    #[test]
    fn cloudtrail_create_endpoint_names_the_new_endpoint() {
        let w = parse(&json!({
            "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
            "detail": { "eventName": "CreateVpcEndpoint",
                        "requestParameters": {"CreateVpcEndpointRequest": {"ServiceName": "com.amazonaws.vpce.us-east-1.vpce-svc-0abc1234"}},
                        "responseElements": {"CreateVpcEndpointResponse": {"vpcEndpoint": {"vpcEndpointId": "vpce-0123456789abcdef0"}}} }
        }));
        assert_eq!(w.endpoints.len(), 1);
    }

    #[test]
    fn failed_or_unrelated_cloudtrail_calls_are_ignored() {
        let failed = parse(&json!({"detail-type": "AWS API Call via CloudTrail",
            "detail": {"eventName": "CreateVpcEndpoint", "errorCode": "UnauthorizedOperation", "responseElements": null}}));
        assert!(failed.endpoints.is_empty() && failed.ignored.len() == 1 && failed.rejected.is_empty());
        let other = parse(
            &json!({"detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "DeleteVpcs"}}),
        );
        assert_eq!(other.ignored.len(), 1);
    }

    #[test]
    fn hostile_shapes_are_rejected_not_panicked_on() {
        let cases = [
            json!(null),
            json!([]),
            json!("vpce-0123456789abcdef0"),
            json!({"Records": "nope"}),
            json!({"Records": [{"Sns": 5}]}),
            json!({"Records": [{}]}),
            json!({"detail-type": 7}),
            json!({"detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "CreateVpcEndpoint"}}),
            json!({"whatever": {"EndpointId": "vpce-0123456789abcdef0"}}),
        ];
        for c in cases {
            let w = parse(&c);
            assert!(w.endpoints.is_empty() && !w.sweep, "{c}: {w:?}");
            assert!(!w.rejected.is_empty(), "{c} should be rejected: {w:?}");
        }
    }

    #[test]
    fn an_enormous_message_is_summarised_in_errors() {
        let big = "x".repeat(100_000);
        let w = parse(&sns(&[&big]));
        assert!(w.rejected[0].len() < 400);
    }
}
