//! The pages a consumer opens: what they may connect to, what happened to
//! their requests, and their DNS names, on one page; and the page of one
//! endpoint. Plain HTML, no scripts, no links a signed URL would not cover;
//! every value escaped.

use gate_app::lookup::{EndpointView, RequestView, ServiceOffer};
use gate_core::caller::Caller;
use gate_core::{AccountId, DnsEntry, Region, RegistryEntry, Timestamp, ViewPosition};

use crate::pages::{Page, escape};

/// What the overview shows of an account.
#[derive(Debug)]
pub struct Overview<'a> {
    /// The account shown (an operator may ask for any).
    pub account: Option<AccountId>,
    pub endpoints: &'a [RegistryEntry],
    /// The endpoints not yet available, with their requests.
    pub waiting: &'a [EndpointView],
    /// Where the next page starts, when more endpoints may follow.
    pub next: Option<&'a ViewPosition>,
}

/// The overview: the account's endpoints with their DNS names, why the
/// waiting ones wait, and the services with what a request from the
/// account would meet.
pub fn page(caller: &Caller, o: &Overview<'_>, offers: &[ServiceOffer], link: Option<Timestamp>) -> Page {
    let shown = o.account.unwrap_or(caller.account);
    let mut body = signed_in(caller, link);

    body.push_str(&format!("<h2>Endpoints of account {}</h2>", escape(shown.as_str())));
    if o.endpoints.is_empty() {
        body.push_str("<p id=\"no-endpoints\">No endpoints yet.</p>");
    } else {
        body.push_str(
            "<table id=\"endpoints\"><tr><th>Endpoint</th><th>Service</th><th>Region</th><th>State</th>\
             <th>DNS names</th><th>Accepted</th></tr>",
        );
        for e in o.endpoints {
            let accepted = match (&e.accepted_by, e.accepted_at) {
                (Some(by), Some(at)) => format!(
                    "{} by {}<br><small>{}</small>",
                    escape(&at.to_string()),
                    escape(by),
                    escape(&e.why)
                ),
                _ => String::new(),
            };
            body.push_str(&format!(
                "<tr id=\"{id}\"><td><code>{id}</code></td><td><code>{svc}</code></td>\
                 <td class=\"region\">{region}</td><td class=\"state\">{state}</td><td>{dns}</td>\
                 <td>{accepted}</td></tr>",
                id = escape(e.endpoint.as_str()),
                svc = escape(e.service.as_str()),
                region = region(e.region.as_ref()),
                state = escape(e.state.as_str()),
                dns = dns_names(&e.dns_entries),
            ));
        }
        body.push_str("</table>");
    }
    if let Some(next) = o.next {
        // A link here would be unsigned; the CLI signs the next page's.
        body.push_str(&format!(
            "<p id=\"more\">More endpoints follow: <code>endpoint-gate open --lookup-url &lt;URL&gt; --after {}</code> opens the next page.</p>",
            escape(&next.to_string())
        ));
    }

    if o.waiting.iter().any(|v| v.request.is_some()) {
        body.push_str("<h2>Your requests</h2>");
    }
    for view in o.waiting {
        if let Some(request) = &view.request {
            let heading = if request.state == "review" {
                format!("Why {} waits for review", view.endpoint)
            } else {
                format!("{} is {}: why", view.endpoint, request.state)
            };
            body.push_str(&format!("<h3>{}</h3>", escape(&heading)));
            body.push_str(&request_story(request));
        }
    }

    body.push_str(&catalogue(offers));
    body.push_str(FOLLOW);
    Page::new("Endpoint Gate: your endpoints", body)
}

/// One endpoint: its state, DNS names, request and the states recorded.
pub fn endpoint_page(caller: &Caller, view: &EndpointView, link: Option<Timestamp>) -> Page {
    let mut body = signed_in(caller, link);
    body.push_str("<dl id=\"endpoint\">");
    let mut row = |term: &str, value: String| body.push_str(&format!("<dt>{term}</dt><dd>{value}</dd>"));
    row("Endpoint", format!("<code>{}</code>", escape(view.endpoint.as_str())));
    if let Some(e) = &view.entry {
        row("Service", format!("<code>{}</code>", escape(e.service.as_str())));
        row("Region", region(e.region.as_ref()));
        row("State", format!("<span class=\"state\">{}</span>", escape(e.state.as_str())));
        row("DNS names", dns_names(&e.dns_entries));
    }
    if let (None, Some(r)) = (&view.entry, &view.request) {
        row("Region", region(r.region.as_ref()));
    }
    body.push_str("</dl>");
    if let Some(request) = &view.request {
        body.push_str(&format!("<h2>Request: {}</h2>", escape(&request.state)));
        body.push_str(&request_story(request));
    }
    if !view.changes.is_empty() {
        body.push_str("<h2>What the registry saw</h2><ul id=\"changes\">");
        for c in &view.changes {
            body.push_str(&format!("<li>{}: {}</li>", escape(&c.observed_at), escape(&c.state)));
        }
        body.push_str("</ul>");
    }
    body.push_str(FOLLOW);
    Page::new(&format!("Endpoint {}", view.endpoint), body)
}

const FOLLOW: &str = "<p><small>From a terminal: <code>endpoint-gate endpoints --lookup-url &lt;URL&gt;</code>; \
    a new link to this page: <code>endpoint-gate open --lookup-url &lt;URL&gt;</code></small></p>";

fn signed_in(caller: &Caller, link: Option<Timestamp>) -> String {
    let mut s = format!(
        "<p>Signed in as <code>{}</code>{}.",
        escape(&caller.arn),
        if caller.operator { " (operator)" } else { "" }
    );
    if let Some(until) = link {
        s.push_str(&format!(
            " <span id=\"link-expires\">This link works until {}.</span>",
            escape(&until.to_string())
        ));
    }
    s.push_str("</p>");
    s
}

/// DNS names, each selected whole by one click (no script needed).
/// Where the consumer's VPC lives; records from before cross-region
/// consumers do not say.
fn region(region: Option<&Region>) -> String {
    region.map_or_else(|| "unknown".to_owned(), |r| escape(r.as_str()))
}

fn dns_names(entries: &[DnsEntry]) -> String {
    let names: Vec<String> = entries
        .iter()
        .map(|d| format!("<code class=\"dns\" style=\"user-select:all\">{}</code>", escape(&d.dns_name)))
        .collect();
    names.join("<br>")
}

/// A request's reasons (in the wording the caller may read), who was
/// asked, and when a waiting review runs out.
fn request_story(r: &RequestView) -> String {
    let mut s = String::from("<ul class=\"reasons\">");
    for reason in &r.reasons {
        s.push_str(&format!("<li>{}</li>", escape(reason)));
    }
    s.push_str("</ul>");
    if !r.notified.is_empty() {
        s.push_str("<p>Asked:</p><ul>");
        for n in &r.notified {
            s.push_str(&format!("<li>{}</li>", escape(n)));
        }
        s.push_str("</ul>");
    }
    if let Some(ends) = &r.review_ends {
        s.push_str(&format!("<p class=\"review-ends\">Review runs until {}.</p>", escape(ends)));
    }
    s
}

/// The services, their names for CreateVpcEndpoint, and what a request
/// from the account would meet.
fn catalogue(offers: &[ServiceOffer]) -> String {
    let mut s = String::from(
        "<h2>Services you can connect to</h2><table id=\"services\"><tr>\
         <th>Service name (for CreateVpcEndpoint)</th><th>Type</th><th>For your account</th><th>Why</th></tr>",
    );
    for o in offers {
        let why: Vec<String> = o.reasons.iter().map(|r| escape(r)).collect();
        s.push_str(&format!(
            "<tr><td><code style=\"user-select:all\">{}</code></td><td>{}</td><td class=\"offer\">{}</td><td>{}</td></tr>",
            escape(&o.service.name),
            escape(&o.service.kind),
            o.verdict(),
            why.join("<br>"),
        ));
    }
    s.push_str("</table>");
    s
}
