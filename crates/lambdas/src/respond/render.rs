//! What respond shows: pages for approvers who follow an email link,
//! plain text for Slack's servers and replies in the Slack message. Each
//! outcome of an answer is worded here, once per channel.

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlResponse;
use aws_lambda_events::http::HeaderValue;
use gate_app::ports::SlackReply;
use gate_app::{Answered, PortError, Verdict, answer_note};
use gate_core::RequestRecord;
use gate_core::link::{Link, LinkError};
use gate_inputs::body::BodyError;
use gate_inputs::link::LinkFormError;
use gate_inputs::slack::ButtonPress;

use crate::pages::{Page, html as page};

/// An answer as the answer use case took it, with the verdict it was given.
pub(super) struct Taken {
    pub verdict: Verdict,
    pub result: Result<Answered, PortError>,
}

/// A plain-text answer to Slack's servers; people see the replies instead.
pub(super) fn to_slack(status: i64, text: &str) -> LambdaFunctionUrlResponse {
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
pub(super) struct Refusal {
    pub status: i64,
    title: &'static str,
    text: String,
}

impl Refusal {
    pub(super) fn new(status: i64, title: &'static str, text: String) -> Self {
        Self { status, title, text }
    }

    pub(super) fn respond(self) -> LambdaFunctionUrlResponse {
        tracing::warn!(status = self.status, reason = %self.text, "approval request refused");
        page(self.status, Page::message(self.title, &self.text))
    }

    pub(super) fn body(e: &BodyError) -> Self {
        match e {
            BodyError::TooLarge => Self::new(413, "Request too large", e.to_string()),
            BodyError::NotBase64 | BodyError::NotUtf8 => Self::new(400, "Bad request", e.to_string()),
        }
    }

    pub(super) fn form(e: &LinkFormError) -> Self {
        Self::new(400, "This link is not valid", e.to_string())
    }

    pub(super) fn link(e: &LinkError) -> Self {
        match e {
            LinkError::Tampered => Self::new(403, "This link is not valid", e.to_string()),
            LinkError::Expired(_) => Self::new(
                410,
                "This link has expired",
                format!("{e}. Ask for a new one, or answer from the CLI."),
            ),
        }
    }
}

/// The confirmation page of a verified link, or why it cannot be answered.
pub(super) fn confirm_page(
    answerable: Result<Result<RequestRecord, Answered>, PortError>,
    link: &Link,
    sig: &str,
) -> Result<LambdaFunctionUrlResponse, Refusal> {
    let rec = match answerable {
        Ok(Ok(rec)) => rec,
        Ok(Err(closed)) => return Ok(closed_page(&closed, link)),
        Err(e) => {
            let text = format!("the request could not be read ({})", e.what);
            return Err(Refusal::new(503, "Try again", text));
        }
    };
    let fields = [
        ("e", link.endpoint.to_string()),
        ("a", link.action.as_str().to_owned()),
        ("by", link.approver.clone()),
        ("exp", link.expires.unix().to_string()),
        ("sig", sig.to_owned()),
    ];
    Ok(page(200, Page::confirm(&rec, link.action, &link.approver, &fields)))
}

/// The page after the confirmation form's POST.
pub(super) fn link_answered(taken: Taken, link: &Link) -> LambdaFunctionUrlResponse {
    match taken.result {
        Ok(Answered::Done { record, report }) => {
            let followed = answer_note(taken.verdict, None, report.failed.is_empty());
            let text = format!("{} {} by {}. {followed}", record.endpoint, record.state, link.approver);
            page(200, Page::message("Done", &text))
        }
        Ok(Answered::AlreadyDecided(rec)) => page(409, Page::message("Already decided", &already(&rec))),
        Ok(closed) => closed_page(&closed, link),
        Err(e) => {
            tracing::error!(error = %e.chain(), endpoint_id = %link.endpoint, "answer failed");
            Refusal::new(
                503,
                "Try again",
                "the answer could not be recorded; nothing changed. Try again shortly.".into(),
            )
            .respond()
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
        Answered::NotAnApprover => Refusal::new(
            403,
            "Not an approver",
            format!(
                "{} is not an approver of this request's service (any more); nothing changed",
                link.approver
            ),
        )
        .respond(),
        Answered::Denied(deny) => Refusal::new(
            403,
            "Denied by policy",
            format!(
                "{deny}: a deny wins over an approval, so this request cannot be approved; nothing changed"
            ),
        )
        .respond(),
        Answered::Overlaps(overlap) => Refusal::new(
            403,
            "Refused by policy",
            format!("{overlap}: the rule wins over an approval, so this request cannot be approved; nothing changed"),
        )
        .respond(),
        Answered::Unknown | Answered::Done { .. } => Refusal::new(
            404,
            "Unknown request",
            format!("Endpoint Gate has no request for {}", link.endpoint),
        )
        .respond(),
    }
}

/// The reply in the Slack message after a button press.
pub(super) fn slack_answered(taken: Taken, press: &ButtonPress) -> SlackReply {
    let ephemeral = |text: String| {
        tracing::warn!(endpoint_id = %press.endpoint, user = press.user_id, reason = text, "Slack answer refused");
        SlackReply::Ephemeral(text)
    };
    match taken.result {
        Ok(Answered::Done { record, report }) => SlackReply::Outcome {
            record: Box::new(record),
            note: answer_note(taken.verdict, press.reason.as_deref(), report.failed.is_empty()),
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
        Ok(Answered::Unknown) => ephemeral(format!("Endpoint Gate has no request for {}.", press.endpoint)),
        Ok(Answered::Denied(deny)) => ephemeral(format!(
            "{deny}: a deny wins over an approval, so this request cannot be approved; your click changed nothing."
        )),
        Ok(Answered::Overlaps(overlap)) => ephemeral(format!(
            "{overlap}: the rule wins over an approval, so this request cannot be approved; your click changed nothing."
        )),
        Err(e) => {
            tracing::error!(error = %e.chain(), endpoint_id = %press.endpoint, "answer failed");
            ephemeral("The answer could not be recorded; nothing changed. Try again shortly.".into())
        }
    }
}

fn already(rec: &RequestRecord) -> String {
    format!("{} was already {} by {} at {}.", rec.endpoint, rec.state, rec.actor, rec.decided_at)
}
