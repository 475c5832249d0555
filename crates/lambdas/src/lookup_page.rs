//! The page a consumer opens: their endpoints with DNS names, why pending
//! ones wait and who was asked, and the services they can connect to.
//! Plain HTML, no scripts; every value escaped.

use gate_app::lookup::EndpointView;
use gate_app::ports::ServiceInfo;
use gate_core::caller::Caller;
use gate_core::{AccountId, RegistryEntry};

use crate::pages::{Page, escape};

pub fn page(
    caller: &Caller,
    account: Option<AccountId>,
    endpoints: &[RegistryEntry],
    waiting: &[EndpointView],
    services: &[ServiceInfo],
) -> Page {
    let shown = account.unwrap_or(caller.account);
    let mut body = format!(
        "<p>Signed in as <code>{}</code>{}.</p>",
        escape(&caller.arn),
        if caller.operator { " (operator)" } else { "" }
    );
    body.push_str(&format!("<h2>Endpoints of account {}</h2>", escape(shown.as_str())));
    if endpoints.is_empty() {
        body.push_str("<p id=\"no-endpoints\">No endpoints yet.</p>");
    } else {
        body.push_str("<table id=\"endpoints\"><tr><th>Endpoint</th><th>Service</th><th>State</th><th>DNS names</th><th>Accepted</th></tr>");
        for e in endpoints {
            let dns: Vec<String> =
                e.dns_entries.iter().map(|d| format!("<code>{}</code>", escape(&d.dns_name))).collect();
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
                "<tr id=\"{id}\"><td><code>{id}</code></td><td><code>{svc}</code></td><td class=\"state\">{state}</td><td>{dns}</td><td>{accepted}</td></tr>",
                id = escape(e.endpoint.as_str()),
                svc = escape(e.service.as_str()),
                state = escape(e.state.as_str()),
                dns = dns.join("<br>"),
            ));
        }
        body.push_str("</table>");
    }
    for view in waiting {
        let Some(request) = &view.request else { continue };
        let heading = if request.state == "review" {
            format!("Why {} waits for review", view.endpoint)
        } else {
            format!("{} is {}: why", view.endpoint, request.state)
        };
        body.push_str(&format!("<h3>{}</h3><ul>", escape(&heading)));
        for reason in &request.reasons {
            body.push_str(&format!("<li>{}</li>", escape(reason)));
        }
        body.push_str("</ul>");
        if !request.notified.is_empty() {
            body.push_str("<p>Asked:</p><ul>");
            for n in &request.notified {
                body.push_str(&format!("<li>{}</li>", escape(n)));
            }
            body.push_str("</ul>");
        }
    }
    body.push_str("<h2>Services you can connect to</h2><table id=\"services\"><tr><th>Service name (for CreateVpcEndpoint)</th><th>Type</th><th>Acceptance</th></tr>");
    for s in services {
        body.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            escape(&s.name),
            escape(&s.kind),
            if s.acceptance_required { "by policy (Endpoint Gate)" } else { "automatic" }
        ));
    }
    body.push_str("</table>");
    Page::new("Endpoint Gate: your endpoints", body)
}
