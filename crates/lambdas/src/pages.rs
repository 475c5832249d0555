//! The few HTML pages approvers see. No scripts, no external resources;
//! every value is escaped.

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlResponse;
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use gate_core::RequestRecord;
use gate_core::link::LinkAction;
use gate_core::slack::MAX_REASON_CHARS;

/// A page as a Function URL response: no scripts, never framed or cached.
pub fn html(status: i64, page: Page) -> LambdaFunctionUrlResponse {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = status;
    response.headers = headers;
    response.body = Some(page.render());
    response
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Debug)]
pub struct Page {
    title: String,
    body: String,
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:64rem;margin:3rem auto;padding:0 1rem;color:#1d2430}\
    h1{font-size:1.4rem}dl{display:grid;grid-template-columns:max-content auto;gap:.3rem 1rem}dt{color:#5b6677}\
    li{margin:.2rem 0}textarea{width:100%;min-height:4rem}\
    button{font-size:1rem;padding:.6rem 1.4rem;border:0;border-radius:.3rem;color:#fff;cursor:pointer}\
    .approve{background:#1f7a3f}.reject{background:#a32b2b}\
    table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #dde2ea;vertical-align:top}\
    code{font-size:.85rem}.state{font-weight:600}";

impl Page {
    /// A page from a title and a body that is already escaped HTML.
    pub fn new(title: &str, body: String) -> Self {
        Self { title: title.to_owned(), body }
    }

    pub fn message(title: &str, text: &str) -> Self {
        Self { title: title.to_owned(), body: format!("<p id=\"result\">{}</p>", escape(text)) }
    }

    /// The confirmation page: the request's details and a POST button
    /// carrying the link's fields.
    pub fn confirm(
        rec: &RequestRecord,
        action: LinkAction,
        approver: &str,
        fields: &[(&str, String)],
    ) -> Self {
        let verb = match action {
            LinkAction::Approve => "Approve",
            LinkAction::Reject => "Reject",
        };
        let reasons: String =
            rec.reasons.iter().map(|r| format!("<li>{}</li>", escape(&r.to_string()))).collect();
        let cidrs: Vec<String> = rec.consumer_cidrs.iter().map(ToString::to_string).collect();
        let hidden: String = fields
            .iter()
            .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(k), escape(v)))
            .collect();
        let body = format!(
            "<p>{verb} this connection request as <strong>{approver}</strong>?</p>\
             <dl><dt>Endpoint</dt><dd id=\"endpoint\">{endpoint}</dd><dt>Consumer account</dt><dd>{owner}</dd>\
             <dt>Endpoint service</dt><dd>{service}</dd><dt>Consumer CIDRs</dt><dd>{cidrs}</dd>\
             <dt>Waiting since</dt><dd>{since}</dd></dl>\
             <p>Why it needs review:</p><ul>{reasons}</ul>\
             <form method=\"post\" action=\"link\">{hidden}\
             <p><label for=\"reason\">Reason (optional, recorded in the audit)</label><br>\
             <textarea id=\"reason\" name=\"reason\" maxlength=\"{MAX_REASON_CHARS}\"></textarea></p>\
             <button type=\"submit\" id=\"confirm\" class=\"{class}\">{verb}</button></form>",
            approver = escape(approver),
            endpoint = escape(rec.endpoint.as_str()),
            owner = escape(rec.owner.as_str()),
            service = escape(rec.service.as_str()),
            cidrs = escape(&if cidrs.is_empty() { "unknown".to_owned() } else { cidrs.join(", ") }),
            since = escape(&rec.decided_at.to_string()),
            class = verb.to_lowercase(),
        );
        Self { title: format!("{verb} {}?", rec.endpoint), body }
    }

    pub fn render(&self) -> String {
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · Endpoint Gate</title><style>{STYLE}</style></head>\
             <body><h1>{title}</h1>{body}</body></html>",
            title = escape(&self.title),
            body = self.body,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_defuses_markup() {
        assert_eq!(
            escape("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        let page = Page::message("<b>", "<img src=x onerror=alert(1)>").render();
        assert!(!page.contains("<img") && !page.contains("<b>"), "{page}");
    }
}
