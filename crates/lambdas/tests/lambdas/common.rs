//! What the respond tests share: a world of three reviewed requests over
//! in-memory ports, and ways to build Function URL requests.

#![allow(dead_code)]

use std::sync::Arc;

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use gate_app::memory::*;
use gate_app::{Answer, Decide, Settings};
use gate_aws::{LinkKeyRing, LinkKeys};
use gate_core::link::{Link, LinkAction};
use gate_core::*;
use gate_lambdas::respond::{Responder, SlackRoute};

pub const SVC: &str = "vpce-svc-0a1b2c3d4e5f60718";
pub const KEY: &str = "current-link-key-0123456789abcdef";
pub const OLD: &str = "previous-link-key-0123456789abcdef";

pub fn now() -> Timestamp {
    "2026-11-22T12:00:00Z".parse().expect("time")
}

pub fn endpoint(n: u32) -> EndpointId {
    format!("vpce-{n:017x}").parse().expect("endpoint")
}

pub struct World {
    pub connections: Arc<InMemoryConnections>,
    pub policies: Arc<InMemoryPolicies>,
    pub requests: Arc<InMemoryRequests>,
    pub audit: Arc<InMemoryAudit>,
    pub replies: Arc<RecordingReplies>,
    pub responder: Responder,
}

/// The Slack app's signing secret in these tests.
pub const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
/// Where response URLs may point in these tests.
pub const HOOKS: &str = "https://hooks.slack.com/";
/// The one Slack user the policy names as an approver.
pub const SLACK_APPROVER: &str = "U0APPROVER";

pub async fn world() -> World {
    let conns = (1..=3).map(|n| Connection {
        service: SVC.parse().expect("svc"),
        endpoint: endpoint(n),
        owner: "333344445555".parse().expect("owner"),
        state: ConnectionState::PendingAcceptance,
        dns_entries: vec![],
        created_at: None,
        region: None,
    });
    let connections = Arc::new(InMemoryConnections::with(conns));
    let requests = Arc::new(InMemoryRequests::default());
    let audit = Arc::new(InMemoryAudit::default());
    let policies = Arc::new(InMemoryPolicies::new(
        vec![ServicePolicy {
            approvers: vec!["netops@example.com".into(), format!("slack:{SLACK_APPROVER}")],
            slack_channel: Some("#netops".into()),
            ..ServicePolicy::cautious(Scope::Any)
        }],
        vec![],
    ));
    let notifier = Arc::new(RecordingNotifier::default());
    let decider = Decide::new(
        connections.clone(),
        Arc::new(StaticNetworks::default()),
        policies.clone(),
        requests.clone(),
        audit.clone(),
        notifier.clone(),
        Settings::default(),
    );
    let answer =
        Answer::new(connections.clone(), policies.clone(), requests.clone(), audit.clone(), Some(notifier));
    for n in 1..=3 {
        decider.decide_endpoint(&endpoint(n), now()).await.expect("decides");
    }
    let keys = LinkKeys { current: KEY.as_bytes().to_vec(), previous: Some(OLD.as_bytes().to_vec()) };
    let replies = Arc::new(RecordingReplies::default());
    let slack = SlackRoute {
        signing_secret: SLACK_SECRET.as_bytes().to_vec(),
        hooks: HOOKS.into(),
        replies: replies.clone(),
    };
    World {
        connections,
        policies,
        requests,
        audit,
        replies,
        responder: Responder { answer, keys: LinkKeyRing::fixed(keys), slack: Some(slack) },
    }
}

pub fn link(n: u32, action: LinkAction) -> Link {
    Link {
        endpoint: endpoint(n),
        action,
        approver: "netops@example.com".into(),
        expires: now().plus_secs(3600),
    }
}

pub fn request(
    method: &str,
    path: &str,
    query: &str,
    body: Option<&str>,
    base64: bool,
) -> LambdaFunctionUrlRequest {
    let mut r = LambdaFunctionUrlRequest::default();
    r.raw_path = Some(path.into());
    r.raw_query_string = Some(query.into());
    r.request_context.http.method = Some(method.into());
    r.body = body.map(str::to_owned);
    r.is_base64_encoded = base64;
    r
}

pub fn b64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        out.push_str(&"=".repeat(3 - chunk.len()));
    }
    out
}
