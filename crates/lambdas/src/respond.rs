//! The `respond` function behind a Lambda Function URL: approvers answer
//! from the links in the review email or the buttons in Slack.
//!
//! `GET /link?…` only shows a confirmation page (mail scanners fetch every
//! link); the POST from that page verifies the signature again and answers
//! once through the same exactly-once path as the CLI. `POST /slack` takes
//! Slack's signed button presses and replies in the message.

use std::sync::Arc;

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use aws_lambda_events::http::HeaderValue;
use gate_app::ports::{SlackReplies, SlackReply};
use gate_app::{Answer, Answered, PortError, Verdict, answer_note};
use gate_aws::LinkKeyRing;
use gate_aws::wiring::Wiring;
use gate_core::link::{Link, LinkError};
use gate_core::slack::{ButtonPress, MAX_REASON_CHARS, SlackError};
use gate_core::{Answerer, RequestRecord, Timestamp};

use crate::config::RespondConfig;
use crate::pages::{Page, html as page};

/// Request bodies larger than this are refused: a form has five fields.
pub const MAX_BODY: usize = 16 * 1024;

/// What the function needs, built once per cold start.
#[derive(Debug)]
pub struct Responder {
    pub answer: Answer,
    pub keys: LinkKeyRing,
    /// The Slack route; `None` when no Slack app is set up.
    pub slack: Option<SlackRoute>,
}

/// What the Slack route needs: the signing secret that proves a request
/// came from Slack, where replies may go, and how they are sent.
pub struct SlackRoute {
    pub signing_secret: Vec<u8>,
    /// Every `response_url` must start with this.
    pub hooks: String,
    pub replies: Arc<dyn SlackReplies>,
}

impl std::fmt::Debug for SlackRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlackRoute(signing_secret: [redacted], hooks: {})", self.hooks)
    }
}

/// A plain-text answer to Slack's servers; people see the replies instead.
fn to_slack(status: i64, text: &str) -> LambdaFunctionUrlResponse {
    if status >= 400 {
        tracing::warn!(status, reason = text, "Slack request refused");
    }
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = status;
    response.headers.insert("content-type", HeaderValue::from_static("text/plain; charset=utf-8"));
    response.headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response.body = Some(text.to_owned());
    response
}

/// A request turned away: its status and the words shown.
#[derive(Debug)]
struct Refusal {
    status: i64,
    title: &'static str,
    text: String,
}

impl Refusal {
    fn new(status: i64, title: &'static str, text: String) -> Self {
        Self { status, title, text }
    }

    fn respond(self) -> LambdaFunctionUrlResponse {
        tracing::warn!(status = self.status, reason = %self.text, "approval request refused");
        page(self.status, Page::message(self.title, &self.text))
    }
}

fn refusal(status: i64, title: &'static str, text: String) -> LambdaFunctionUrlResponse {
    Refusal::new(status, title, text).respond()
}

fn link_refusal(e: &LinkError) -> Refusal {
    match e {
        LinkError::Malformed(_) => Refusal::new(400, "This link is not valid", e.to_string()),
        LinkError::Tampered => Refusal::new(403, "This link is not valid", e.to_string()),
        LinkError::Expired(_) => Refusal::new(
            410,
            "This link has expired",
            format!("{e}. Ask for a new one, or answer from the CLI."),
        ),
    }
}

/// The body as text, decoding base64 when the Function URL sent it so.
fn body_text(req: &LambdaFunctionUrlRequest) -> Result<String, Refusal> {
    let raw = req.body.as_deref().unwrap_or_default();
    if raw.len() > MAX_BODY * 2 {
        return Err(Refusal::new(
            413,
            "Request too large",
            format!("the body is larger than {MAX_BODY} bytes"),
        ));
    }
    let bytes = if req.is_base64_encoded {
        decode_base64(raw)
            .ok_or_else(|| Refusal::new(400, "Bad request", "the body is not valid base64".into()))?
    } else {
        raw.as_bytes().to_vec()
    };
    if bytes.len() > MAX_BODY {
        return Err(Refusal::new(
            413,
            "Request too large",
            format!("the body is larger than {MAX_BODY} bytes"),
        ));
    }
    String::from_utf8(bytes).map_err(|_| Refusal::new(400, "Bad request", "the body is not UTF-8".into()))
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let trimmed = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in trimmed.bytes() {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

impl Responder {
    /// Builds the responder on real AWS clients, once per cold start. The
    /// link keys and the Slack secret are read here and never logged.
    pub async fn build(config: &RespondConfig, wiring: &Wiring, now: Timestamp) -> Result<Self, PortError> {
        let keys = LinkKeyRing::load(wiring.secrets(), &config.keys_secret_arn, now).await?;
        let Some(slack) = &config.slack else {
            return Ok(Self { answer: wiring.answer(None), keys, slack: None });
        };
        let app = wiring.slack(&slack.app).await?;
        let route = SlackRoute {
            signing_secret: app.signing_secret,
            hooks: slack.hooks_url.clone(),
            replies: Arc::new(app.notifier.hooks()),
        };
        // An answer by email replaces the review message in Slack too.
        Ok(Self { answer: wiring.answer(Some(Arc::new(app.notifier))), keys, slack: Some(route) })
    }

    pub async fn handle(&self, req: LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
        self.handle_at(req, Timestamp::now()).await
    }

    pub async fn handle_at(
        &self,
        req: LambdaFunctionUrlRequest,
        now: Timestamp,
    ) -> LambdaFunctionUrlResponse {
        let http = &req.request_context.http;
        let method = http.method.as_deref().unwrap_or_default().to_ascii_uppercase();
        let path = req.raw_path.as_deref().unwrap_or("/");
        if path == "/slack" {
            return match (&self.slack, method.as_str()) {
                (None, _) => to_slack(404, "Slack is not set up for Endpoint Gate"),
                (Some(route), "POST") => self.slack_press(route, &req, now).await,
                (Some(_), _) => to_slack(405, "Slack sends POST requests"),
            };
        }
        if path != "/link" {
            return refusal(404, "Not found", "there is nothing here".into());
        }
        match method.as_str() {
            "GET" => {
                let query = req.raw_query_string.as_deref().unwrap_or_default();
                match self.verified(query, now).await {
                    Ok((link, sig)) => self.confirm(&link, &sig).await,
                    Err(r) => r.respond(),
                }
            }
            "POST" => {
                let body = match body_text(&req) {
                    Ok(b) => b,
                    Err(r) => return r.respond(),
                };
                match self.verified(&body, now).await {
                    Ok((link, _)) => self.act(&link, &body, now).await,
                    Err(r) => r.respond(),
                }
            }
            _ => refusal(405, "Method not allowed", "use the link in the email".into()),
        }
    }

    /// A link whose signature checks out with the keys held, or with the
    /// keys read again after a rotation.
    async fn verified(&self, fields: &str, now: Timestamp) -> Result<(Link, String), Refusal> {
        let (link, sig) = Link::parse(fields).map_err(|e| link_refusal(&e))?;
        let mut checked = link.verify(&self.keys.keys().all(), &sig, now);
        if checked == Err(LinkError::Tampered) && self.keys.refresh(now).await {
            checked = link.verify(&self.keys.keys().all(), &sig, now);
        }
        checked.map_err(|e| link_refusal(&e))?;
        Ok((link, sig))
    }

    /// GET: show what the POST would do, if the link's approver may still
    /// answer. Changes nothing.
    async fn confirm(&self, link: &Link, sig: &str) -> LambdaFunctionUrlResponse {
        let who = Answerer::Email(link.approver.clone());
        let rec = match self.answer.answerable(&link.endpoint, &who).await {
            Ok(Ok(rec)) => rec,
            Ok(Err(closed)) => return closed_page(&closed, link),
            Err(e) => {
                return refusal(503, "Try again", format!("the request could not be read ({})", e.what));
            }
        };
        let fields = [
            ("e", link.endpoint.to_string()),
            ("a", link.action.as_str().to_owned()),
            ("by", link.approver.clone()),
            ("exp", link.expires.unix().to_string()),
            ("sig", sig.to_owned()),
        ];
        page(200, Page::confirm(&rec, link.action, &link.approver, &fields))
    }

    /// POST: answer once.
    async fn act(&self, link: &Link, body: &str, now: Timestamp) -> LambdaFunctionUrlResponse {
        let reason = body
            .split('&')
            .find_map(|p| p.strip_prefix("reason="))
            .and_then(gate_core::link::percent_decode)
            .map(|r| r.chars().take(MAX_REASON_CHARS).collect::<String>());
        let verdict = Verdict::from(link.action);
        let who = Answerer::Email(link.approver.clone());
        match self.answer.answer(&link.endpoint, verdict, &who, reason.as_deref(), now).await {
            Ok(Answered::Done { record, report }) => {
                let followed = answer_note(verdict, None, report.failed.is_empty());
                let text = format!("{} {} by {}. {followed}", record.endpoint, record.state, link.approver);
                page(200, Page::message("Done", &text))
            }
            Ok(Answered::AlreadyDecided(rec)) => page(409, Page::message("Already decided", &already(&rec))),
            Ok(closed) => closed_page(&closed, link),
            Err(e) => {
                tracing::error!(error = %e.chain(), endpoint_id = %link.endpoint, "answer failed");
                refusal(
                    503,
                    "Try again",
                    "the answer could not be recorded; nothing changed. Try again shortly.".into(),
                )
            }
        }
    }
}

/// The page for a request that this link cannot answer.
fn closed_page(closed: &Answered, link: &Link) -> LambdaFunctionUrlResponse {
    match closed {
        Answered::AlreadyDecided(rec) => page(200, Page::message("Already decided", &already(rec))),
        Answered::NotPending(state) => page(
            409,
            Page::message(
                "Nothing to decide",
                &format!("the connection is {state}, not awaiting acceptance"),
            ),
        ),
        Answered::NotAnApprover => refusal(
            403,
            "Not an approver",
            format!(
                "{} is not an approver of this request's service (any more); nothing changed",
                link.approver
            ),
        ),
        Answered::Unknown | Answered::Done { .. } => {
            refusal(404, "Unknown request", format!("Endpoint Gate has no request for {}", link.endpoint))
        }
    }
}

impl Responder {
    /// A Slack button press: verified, checked against the service's
    /// approvers, answered once, and replied to in the message.
    async fn slack_press(
        &self,
        route: &SlackRoute,
        req: &LambdaFunctionUrlRequest,
        now: Timestamp,
    ) -> LambdaFunctionUrlResponse {
        let body = match body_text(req) {
            Ok(b) => b,
            Err(r) => return to_slack(r.status, &r.text),
        };
        let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let verified = gate_core::slack::verify(
            &route.signing_secret,
            header("x-slack-request-timestamp"),
            header("x-slack-signature"),
            body.as_bytes(),
            now,
        );
        if let Err(e) = verified {
            return to_slack(401, &e.to_string());
        }
        let press = match gate_core::slack::parse_button(&body, &route.hooks) {
            Ok(p) => p,
            Err(e @ SlackError::Malformed(_)) => return to_slack(400, &e.to_string()),
            Err(e) => return to_slack(401, &e.to_string()),
        };
        let reply = self.answer_press(&press, now).await;
        if let Err(e) = route.replies.reply(&press.response_url, &reply).await {
            tracing::error!(error = %e.chain(), endpoint_id = %press.endpoint, "replying in Slack failed");
        }
        to_slack(200, "")
    }

    async fn answer_press(&self, press: &ButtonPress, now: Timestamp) -> SlackReply {
        let ephemeral = |text: String| {
            tracing::warn!(endpoint_id = %press.endpoint, user = press.user_id, reason = text, "Slack answer refused");
            SlackReply::Ephemeral(text)
        };
        let verdict = Verdict::from(press.action);
        let who = Answerer::Slack { user_id: press.user_id.clone(), user_name: press.user_name.clone() };
        let reason = press.reason.as_deref();
        match self.answer.answer(&press.endpoint, verdict, &who, reason, now).await {
            Ok(Answered::Done { record, report }) => SlackReply::Outcome {
                record: Box::new(record),
                note: answer_note(verdict, reason, report.failed.is_empty()),
            },
            // Show the message as it ended, whichever channel answered first.
            Ok(Answered::AlreadyDecided(record)) => SlackReply::Outcome {
                note: format!("This was already decided; your click changed nothing. {}", already(&record)),
                record: Box::new(record),
            },
            Ok(Answered::NotAnApprover) => ephemeral(
                "You are not an approver of this request's service; your click changed nothing. The \
                 policy's approvers list Slack users as slack:<user id>."
                    .into(),
            ),
            Ok(Answered::NotPending(state)) => {
                ephemeral(format!("Nothing to decide: the connection is {state}, not awaiting acceptance."))
            }
            Ok(Answered::Unknown) => {
                ephemeral(format!("Endpoint Gate has no request for {}.", press.endpoint))
            }
            Err(e) => {
                tracing::error!(error = %e.chain(), endpoint_id = %press.endpoint, "answer failed");
                ephemeral("The answer could not be recorded; nothing changed. Try again shortly.".into())
            }
        }
    }
}

fn already(rec: &RequestRecord) -> String {
    format!("{} was already {} by {} at {}.", rec.endpoint, rec.state, rec.actor, rec.decided_at)
}
