//! The registry as an operator reads it in a terminal: endpoints of an
//! account or a service with their DNS names, one endpoint's story, the
//! service catalogue. Rendering only; the reads go through the lookup use
//! case with the operator as caller.

use gate_app::lookup::{EndpointView, ServiceOffer};
use gate_core::{Region, RegistryEntry};

use crate::terminal::field;

/// A list of endpoints printed a page at a time as the pages are read, so
/// listing a service with 100,000 consumers holds one page, not all of
/// them: the table's header once, or a JSON array whose elements come as
/// they are read. What the pages print, with [`Listing::end`], is the
/// table or the pretty JSON array of all of them at once.
#[derive(Debug)]
pub struct Listing {
    json: bool,
    printed: usize,
}

impl Listing {
    pub fn new(json: bool) -> Self {
        Self { json, printed: 0 }
    }

    /// How many endpoints were printed.
    pub fn printed(&self) -> usize {
        self.printed
    }

    /// The text of the next page's endpoints: a table with one line each,
    /// DNS names indented below, or the array's next elements.
    pub fn page(&mut self, entries: &[RegistryEntry]) -> Result<String, serde_json::Error> {
        let mut s = String::new();
        for e in entries {
            if self.json {
                s.push_str(if self.printed == 0 { "[\n" } else { ",\n" });
                // serde_json's own pretty array: two spaces deeper.
                let element = serde_json::to_string_pretty(e)?;
                let lines: Vec<String> = element.lines().map(|l| format!("  {l}")).collect();
                s.push_str(&lines.join("\n"));
            } else {
                if self.printed == 0 {
                    s.push_str(&format!(
                        "{:<24} {:<26} {:<13} {:<14} {:<18} accepted by\n",
                        "endpoint", "service", "owner", "region", "state"
                    ));
                }
                s.push_str(&format!(
                    "{:<24} {:<26} {:<13} {:<14} {:<18} {}\n",
                    e.endpoint.as_str(),
                    e.service.as_str(),
                    e.owner.as_str(),
                    region(e.region.as_ref()),
                    e.state.as_str(),
                    field(e.accepted_by.as_deref().unwrap_or("-"))
                ));
                for d in &e.dns_entries {
                    s.push_str(&format!("    {}\n", field(&d.dns_name)));
                }
            }
            self.printed += 1;
        }
        Ok(s)
    }

    /// What closes the list once the last page is printed.
    pub fn end(&self) -> String {
        match (self.json, self.printed) {
            (true, 0) => "[]\n".into(),
            (true, _) => "\n]\n".into(),
            (false, 0) => "No endpoints.\n".into(),
            (false, _) => String::new(),
        }
    }
}

/// One endpoint: what the registry holds, where its request stands, and
/// the states it went through.
pub fn endpoint_story(view: &EndpointView) -> String {
    let mut s = format!("{}", view.endpoint);
    match &view.entry {
        Some(e) => {
            s.push_str(&format!(
                "\n  service {}  owner {}  region {}  state {}",
                e.service.as_str(),
                e.owner.as_str(),
                region(e.region.as_ref()),
                e.state.as_str()
            ));
            if let (Some(by), Some(at)) = (&e.accepted_by, e.accepted_at) {
                s.push_str(&format!("\n  accepted {at} by {}", field(by)));
                if !e.why.is_empty() {
                    s.push_str(&format!("\n    {}", field(&e.why)));
                }
            }
            for d in &e.dns_entries {
                s.push_str(&format!("\n  dns {}", field(&d.dns_name)));
            }
        }
        None => s.push_str("\n  not in the registry yet"),
    }
    if let Some(r) = &view.request {
        s.push_str(&format!("\n  request {} by {} at {}", r.state, field(&r.decided_by), r.decided_at));
        if view.entry.is_none() {
            s.push_str(&format!("\n  region {}", region(r.region.as_ref())));
        }
        for reason in &r.reasons {
            s.push_str(&format!("\n    - {}", field(reason)));
        }
        for n in &r.notified {
            s.push_str(&format!("\n  notified: {}", field(n)));
        }
        if let Some(ends) = &r.review_ends {
            s.push_str(&format!("\n  review runs until {ends}"));
        }
    }
    if !view.changes.is_empty() {
        let states: Vec<String> =
            view.changes.iter().map(|c| format!("{} ({})", c.state, c.observed_at)).collect();
        s.push_str(&format!("\n  history: {}", states.join(" → ")));
    }
    s
}

/// Where the consumer's VPC lives; records from before cross-region
/// consumers do not say.
fn region(region: Option<&Region>) -> String {
    region.map_or("unknown", Region::as_str).to_owned()
}

/// The services, the name to connect to, and what a request from the
/// account would meet, with why.
pub fn services_table(offers: &[ServiceOffer]) -> String {
    if offers.is_empty() {
        return "No endpoint services.".into();
    }
    let mut s = format!("{:<26} {:<20} service name (for CreateVpcEndpoint)", "service", "type");
    for o in offers {
        s.push_str(&format!(
            "\n{:<26} {:<20} {}",
            o.service.id.as_str(),
            field(&o.service.kind),
            field(&o.service.name)
        ));
        s.push_str(&format!("\n    for your account: {}", o.verdict()));
        for reason in &o.reasons {
            s.push_str(&format!("\n      - {}", field(reason)));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use gate_app::lookup::RequestView;
    use gate_core::ConnectionState;

    use super::*;

    fn entry(region: Option<&str>) -> RegistryEntry {
        let at = "2026-11-22T12:00:00Z".parse().expect("time");
        RegistryEntry {
            endpoint: "vpce-0123456789abcdef0".parse().expect("endpoint"),
            service: "vpce-svc-0123456789abcdef0".parse().expect("service"),
            owner: "210000000001".parse().expect("account"),
            state: ConnectionState::Available,
            dns_entries: vec![],
            accepted_at: Some(at),
            accepted_by: Some("endpoint-gate".into()),
            why: String::new(),
            first_seen: at,
            observed_at: at,
            version: 1,
            region: region.map(|r| r.parse().expect("region")),
        }
    }

    /// Printed a page at a time, a list reads as it would all at once:
    /// the same table, the same pretty JSON array, empty or not.
    #[test]
    fn a_list_printed_page_by_page_is_the_list_printed_at_once() {
        let mut all: Vec<RegistryEntry> = Vec::new();
        for n in 0..7u64 {
            let mut e = entry(if n % 2 == 0 { Some("eu-west-1") } else { None });
            e.version = n + 1;
            e.dns_entries = (0..n % 3)
                .map(|i| gate_core::DnsEntry {
                    dns_name: format!("n{i}.example"),
                    hosted_zone_id: "Z1".into(),
                })
                .collect();
            e.why = "a \"quoted\"\nreason".into();
            all.push(e);
        }
        for pages in [vec![], vec![0], vec![7], vec![3, 7], vec![1, 1, 4, 7], vec![0, 0, 7, 7]] {
            for json in [true, false] {
                let mut listing = Listing::new(json);
                let mut from = 0;
                let mut printed = String::new();
                for to in pages.iter().copied() {
                    printed.push_str(&listing.page(&all[from..to]).expect("renders"));
                    from = to;
                }
                printed.push_str(&listing.end());
                let shown = &all[..from];
                assert_eq!(listing.printed(), shown.len());
                if json {
                    let at_once = serde_json::to_string_pretty(shown).expect("json");
                    assert_eq!(printed, format!("{at_once}\n"), "pages {pages:?}");
                    let back: Vec<RegistryEntry> = serde_json::from_str(&printed).expect("one JSON array");
                    assert_eq!(back, shown);
                } else {
                    assert_eq!(printed, table(shown), "pages {pages:?}");
                    let headers = printed.lines().filter(|l| l.starts_with("endpoint ")).count();
                    let rows = printed.lines().filter(|l| l.starts_with("vpce-")).count();
                    let dns = printed.lines().filter(|l| l.starts_with("    n")).count();
                    let expected_dns: usize = shown.iter().map(|e| e.dns_entries.len()).sum();
                    assert_eq!(
                        (headers, rows, dns),
                        (usize::from(!shown.is_empty()), shown.len(), expected_dns)
                    );
                }
            }
        }
        assert_eq!(table(&[]), "No endpoints.\n");
    }

    /// The table of `entries` printed as one page.
    fn table(entries: &[RegistryEntry]) -> String {
        let mut listing = Listing::new(false);
        let mut s = listing.page(entries).expect("a table always renders");
        s.push_str(&listing.end());
        s
    }

    #[test]
    fn the_table_has_a_region_column_and_says_when_it_is_unknown() {
        let table = table(&[entry(Some("ap-south-1")), entry(None)]);
        let lines: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(lines[0][3], "region", "{table}");
        assert_eq!(lines[1][3], "ap-south-1", "{table}");
        assert_eq!(lines[2][3], "unknown", "{table}");
    }

    #[test]
    fn an_endpoints_story_names_its_region_from_the_registry_or_else_its_request() {
        let request = RequestView {
            state: "review".into(),
            reasons: vec![],
            decided_by: "endpoint-gate".into(),
            decided_at: "2026-11-22T12:00:00Z".into(),
            region: Some("eu-west-1".parse().expect("region")),
            notified: vec![],
            review_ends: None,
        };
        let view = |entry| EndpointView {
            endpoint: "vpce-0123456789abcdef0".parse().expect("endpoint"),
            entry,
            request: Some(request.clone()),
            changes: vec![],
        };
        let story = endpoint_story(&view(Some(entry(Some("ap-south-1")))));
        assert!(story.contains("region ap-south-1  state available"), "{story}");
        let story = endpoint_story(&view(None));
        assert!(story.contains("\n  region eu-west-1"), "not in the registry yet: {story}");
    }
}
