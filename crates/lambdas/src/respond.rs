//! The `respond` function behind a Lambda Function URL: approvers answer
//! from the links in the review email or the buttons in Slack.
//!
//! `GET /link?…` only shows a confirmation page (mail scanners fetch every
//! link); the POST from that page verifies the signature again and answers
//! once through the same exactly-once path as the CLI. `POST /slack` takes
//! Slack's signed button presses and replies in the message.
//!
//! Each route parses (`gate_inputs`), verifies (`gate_core`), answers
//! through the answer use case, and renders ([`render`]).

mod render;

use std::sync::Arc;
use std::time::SystemTime;

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use gate_app::ports::SlackReplies;
use gate_app::{Answer, PortError, Verdict};
use gate_aws::LinkKeyRing;
use gate_aws::wiring::Wiring;
use gate_core::link::{Link, LinkAction, LinkError};
use gate_core::{Answerer, EndpointId, Timestamp};
use gate_inputs::{body, link, slack};

use crate::config::RespondConfig;
use render::{Refusal, Taken, to_slack};

pub use gate_inputs::body::MAX_BODY;

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

impl Responder {
    /// Builds the responder on real AWS clients, once per cold start. The
    /// link keys and the Slack secret are read here, at `now`, and never logged.
    pub async fn build(config: &RespondConfig, wiring: &Wiring, now: Timestamp) -> Result<Self, PortError> {
        let keys = LinkKeyRing::load(wiring.secrets(), &config.keys_secret_arn, now).await?;
        let placements = match &config.organizations_role_arn {
            Some(arn) => Some(wiring.placements(arn).await),
            None => None,
        };
        // Approvals meet the OU and organization denies where the role is given.
        let with_placements = |answer: Answer| match &placements {
            Some(p) => answer.with_placements(p.clone()),
            None => answer,
        };
        // Who answered, and why, goes to the consumer's contact too.
        let notices = |slack| config.consumer_topic_arn.as_ref().map(|topic| wiring.notices(topic, slack));
        let Some(slack) = &config.slack else {
            let answer = with_placements(wiring.answer(None));
            let answer = match notices(None) {
                Some(n) => answer.with_notices(n),
                None => answer,
            };
            return Ok(Self { answer, keys, slack: None });
        };
        let app = wiring.slack(&slack.app).await?;
        let route = SlackRoute {
            signing_secret: app.signing_secret,
            hooks: slack.hooks_url.clone(),
            replies: Arc::new(app.notifier.hooks()),
        };
        // An answer by email replaces the review message in Slack too.
        let answer = with_placements(wiring.answer(Some(Arc::new(app.notifier.clone()))));
        let answer = match notices(Some(app.notifier)) {
            Some(n) => answer.with_notices(n),
            None => answer,
        };
        Ok(Self { answer, keys, slack: Some(route) })
    }

    /// One invocation, at the time it arrives.
    pub async fn handle(&self, req: LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
        self.handle_at(req, Timestamp::from(SystemTime::now())).await
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
            return Refusal::new(404, "Not found", "there is nothing here".into()).respond();
        }
        let answered = match method.as_str() {
            "GET" => self.confirm(req.raw_query_string.as_deref().unwrap_or_default(), now).await,
            "POST" => self.link_answer(&req, now).await,
            _ => Err(Refusal::new(405, "Method not allowed", "use the link in the email".into())),
        };
        answered.unwrap_or_else(Refusal::respond)
    }

    /// GET: show what the POST would do, if the link's approver may still
    /// answer. Changes nothing.
    async fn confirm(&self, query: &str, now: Timestamp) -> Result<LambdaFunctionUrlResponse, Refusal> {
        let (link, sig) = self.verified(query, now).await?;
        let who = Answerer::Email(link.approver.clone());
        let answerable = self.answer.answerable(&link.endpoint, &who, link.action.into(), now).await;
        render::confirm_page(answerable, &link, &sig)
    }

    /// POST from the confirmation page: answer once.
    async fn link_answer(
        &self,
        req: &LambdaFunctionUrlRequest,
        now: Timestamp,
    ) -> Result<LambdaFunctionUrlResponse, Refusal> {
        let form = body::text(req.body.as_deref(), req.is_base64_encoded).map_err(|e| Refusal::body(&e))?;
        let (link, _) = self.verified(&form, now).await?;
        let reason = link::reason(&form);
        let who = Answerer::Email(link.approver.clone());
        let taken = self.answer(&link.endpoint, link.action, &who, reason.as_deref(), now).await;
        Ok(render::link_answered(taken, &link))
    }

    /// A link whose signature checks out with the keys held, or with the
    /// keys read again after a rotation.
    async fn verified(&self, fields: &str, now: Timestamp) -> Result<(Link, String), Refusal> {
        let (link, sig) = link::parse(fields).map_err(|e| Refusal::form(&e))?;
        let mut checked = link.verify(&self.keys.keys().all(), &sig, now);
        if checked == Err(LinkError::Tampered) && self.keys.refresh(now).await {
            checked = link.verify(&self.keys.keys().all(), &sig, now);
        }
        checked.map_err(|e| Refusal::link(&e))?;
        Ok((link, sig))
    }

    /// A Slack button press: verified, answered once (the answer use case checks
    /// the service's approvers), and replied to in the message.
    async fn slack_press(
        &self,
        route: &SlackRoute,
        req: &LambdaFunctionUrlRequest,
        now: Timestamp,
    ) -> LambdaFunctionUrlResponse {
        let body = match body::text(req.body.as_deref(), req.is_base64_encoded) {
            Ok(b) => b,
            Err(e) => return to_slack(Refusal::body(&e).status, &e.to_string()),
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
        let press = match slack::parse_button(&body, &route.hooks) {
            Ok(p) => p,
            Err(e) => return to_slack(400, &e.to_string()),
        };
        let who = Answerer::Slack { user_id: press.user_id.clone(), user_name: press.user_name.clone() };
        let taken = self.answer(&press.endpoint, press.action, &who, press.reason.as_deref(), now).await;
        let reply = render::slack_answered(taken, &press);
        if let Err(e) = route.replies.reply(&press.response_url, &reply).await {
            tracing::error!(error = %e.chain(), endpoint_id = %press.endpoint, "replying in Slack failed");
        }
        to_slack(200, "")
    }

    /// Every channel's answer goes through here: the one place a link's or
    /// a button's action becomes a verdict.
    async fn answer(
        &self,
        endpoint: &EndpointId,
        action: LinkAction,
        who: &Answerer,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Taken {
        let verdict = Verdict::from(action);
        let result = self.answer.answer(endpoint, verdict, who, reason, now).await;
        Taken { verdict, result }
    }
}
