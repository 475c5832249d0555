//! What a consumer asks from a terminal: its endpoints with their DNS
//! names, one endpoint's story, the services and what its account meets;
//! and `open`, the same answers as a page in a browser. With
//! `--lookup-url` the lookup function answers, signed as the caller;
//! without it the table is read directly, as an operator.

use std::time::Duration;

use gate_app::lookup::{EndpointView, Filter, Lookup, ServiceOffer};
use gate_app::ports::PageAsk;
use gate_core::{AccountId, EndpointId, RegistryEntry, Timestamp, ViewPosition};

use crate::answer::operator;
use crate::failure::{Failure, api_failure, lookup_failure};
use crate::remote::LookupApi;
use crate::{print, registry};

/// Prints a page now, not when the buffer fills or the command ends; a
/// reader that went away (`| head`) stops the listing.
fn show(text: &str) -> Result<(), Failure> {
    crate::output::bytes(crate::terminal::shown(text).as_bytes())
}

/// Where the answers come from: the lookup URL, or the table.
#[derive(Debug)]
pub enum Source {
    Url(String),
    Table(Lookup),
}

/// Asks and shows the answer, as a table or JSON.
#[derive(Debug)]
pub struct Asker<'a> {
    pub sdk: &'a aws_config::SdkConfig,
    pub source: Source,
    pub json: bool,
    pub now: Timestamp,
}

impl Asker<'_> {
    /// Every page of the endpoints, each printed as it comes: listing a
    /// service with 100,000 consumers holds one page in memory. An error
    /// on a later page leaves what was printed (a JSON array then stays
    /// open) and fails with the error.
    pub async fn endpoints(&self, filter: &Filter) -> Result<u8, Failure> {
        let mut listing = registry::Listing::new(self.json);
        let mut filter = filter.clone();
        loop {
            let (page, next): (Vec<RegistryEntry>, _) = match &self.source {
                Source::Url(url) => api(self.sdk, url)?
                    .get_page("/api/endpoints", &filter_query(&filter))
                    .await
                    .map_err(api_failure)?,
                Source::Table(lookup) => {
                    let page = lookup
                        .endpoints(&operator(self.sdk).await?, &filter)
                        .await
                        .map_err(lookup_failure)?;
                    (page.entries, page.next)
                }
            };
            let text = listing
                .page(&page)
                .map_err(|e| Failure { code: 1, message: format!("encoding the list failed: {e}") })?;
            show(&text)?;
            let Some(next) = next else { break };
            if !moves_on(filter.page.after.as_ref(), &next) {
                return Err(Failure {
                    code: 2,
                    message: format!(
                        "the next page would start at {next}, which is not past this one: stopped"
                    ),
                });
            }
            if !self.json {
                crate::output::note(&format!(
                    "endpoints: {} so far, reading the next page",
                    listing.printed()
                ));
            }
            filter.page.after = Some(next);
        }
        show(&listing.end())?;
        Ok(0)
    }

    pub async fn endpoint(&self, endpoint: &EndpointId) -> Result<u8, Failure> {
        let view: EndpointView = match &self.source {
            Source::Url(url) => api(self.sdk, url)?
                .get(&format!("/api/endpoints/{endpoint}"), &[])
                .await
                .map_err(api_failure)?,
            Source::Table(lookup) => lookup
                .endpoint(&operator(self.sdk).await?, endpoint, self.now)
                .await
                .map_err(lookup_failure)?,
        };
        print(self.json, &view, || registry::endpoint_story(&view))?;
        Ok(0)
    }

    /// The services, and what a request from `account` (the caller's own
    /// by default) would meet.
    pub async fn services(
        &self,
        only: &[gate_core::ServiceId],
        account: Option<AccountId>,
    ) -> Result<u8, Failure> {
        let offers: Vec<ServiceOffer> = match &self.source {
            Source::Url(url) => {
                let query: Vec<(&str, String)> = account.iter().map(|a| ("account", a.to_string())).collect();
                let all: Vec<ServiceOffer> =
                    api(self.sdk, url)?.get("/api/services", &query).await.map_err(api_failure)?;
                all.into_iter().filter(|o| only.is_empty() || only.contains(&o.service.id)).collect()
            }
            Source::Table(lookup) => lookup
                .services(&operator(self.sdk).await?, account, self.now)
                .await
                .map_err(lookup_failure)?,
        };
        print(self.json, &offers, || registry::services_table(&offers))?;
        Ok(0)
    }

    /// Mints a link to the page (or one endpoint's page) signed with the
    /// caller's credentials, and opens it in a browser unless `print_only`.
    pub async fn open(
        &self,
        endpoint: Option<&EndpointId>,
        after: Option<&ViewPosition>,
        lifetime: Duration,
        print_only: bool,
    ) -> Result<u8, Failure> {
        let Source::Url(url) = &self.source else {
            return Err(Failure {
                code: 2,
                message: "open needs --lookup-url (the stack's LookupUrl): the page is the lookup function's"
                    .into(),
            });
        };
        let path = endpoint.map_or_else(|| "/".to_owned(), |e| format!("/endpoints/{e}"));
        let query: Vec<(&str, String)> = after.iter().map(|a| ("after", a.to_string())).collect();
        let link = api(self.sdk, url)?.presign(&path, &query, lifetime).await.map_err(api_failure)?;
        let until = Timestamp::from(link.until);
        if self.json {
            print(true, &serde_json::json!({ "url": link.url, "expires_at": until }), String::new)?;
            return Ok(0);
        }
        crate::output::note(&format!(
            "The link works until {until}; anyone holding it sees what you see until then."
        ));
        if !print_only && launch(&link.url) {
            crate::output::note("Opened in your browser.");
        } else {
            crate::output::line(&link.url)?;
        }
        Ok(0)
    }
}

/// How long a link may work: long enough to read a page, short enough
/// that a copied link is soon worth nothing.
pub const MAX_LINK_LIFETIME: Duration = Duration::from_secs(3600);

/// `90s`, `15m` or `1h`, from a minute up to an hour.
pub fn parse_lifetime(text: &str) -> Result<Duration, String> {
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = digits.parse().map_err(|_| format!("{text:?}: give a number and a unit, like 15m"))?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("{text:?}: the unit is s, m or h")),
    };
    let lifetime = Duration::from_secs(secs);
    if lifetime < Duration::from_secs(60) || lifetime > MAX_LINK_LIFETIME {
        return Err(format!("{text:?}: a link works from 1m to 1h"));
    }
    Ok(lifetime)
}

/// Starts the user's browser: `$BROWSER`, else the desktop's opener. The
/// link is one argument, never passed through a shell.
fn launch(url: &str) -> bool {
    let opener = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| if cfg!(target_os = "macos") { "open".into() } else { "xdg-open".into() });
    std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The lookup function's URL, signed as the caller.
fn api(sdk: &aws_config::SdkConfig, url: &str) -> Result<LookupApi, Failure> {
    LookupApi::new(sdk, url).map_err(|e| Failure { code: 2, message: e.message })
}

/// Whether a page that ended at `next` moved past the one before it: a
/// lookup URL that answers the same position again would never end.
fn moves_on(previous: Option<&ViewPosition>, next: &ViewPosition) -> bool {
    previous.is_none_or(|previous| next > previous)
}

fn filter_query(filter: &Filter) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if let Some(account) = filter.account {
        query.push(("account", account.to_string()));
    }
    if let Some(service) = &filter.service {
        query.push(("service", service.to_string()));
    }
    if filter.history {
        query.push(("history", "true".to_owned()));
    }
    if filter.page.limit != PageAsk::MAX {
        query.push(("limit", filter.page.limit.to_string()));
    }
    if let Some(after) = &filter.page.after {
        query.push(("after", after.to_string()));
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_stops_when_a_next_page_does_not_move_on() {
        let at = |text: &str| text.parse::<ViewPosition>().expect("position");
        let (first, second) = (at("active:vpce-00000000000000001"), at("active:vpce-00000000000000002"));
        assert!(moves_on(None, &first));
        assert!(moves_on(Some(&first), &second));
        assert!(moves_on(Some(&second), &at("history:vpce-00000000000000001")), "history follows active");
        assert!(!moves_on(Some(&second), &second), "the same page again would loop");
        assert!(!moves_on(Some(&second), &first), "and so would going back");
    }

    #[test]
    fn a_link_lives_a_minute_to_an_hour() {
        assert_eq!(parse_lifetime("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_lifetime("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_lifetime("90s"), Ok(Duration::from_secs(90)));
        for bad in ["", "m", "15", "59s", "2h", "15min", "-5m", "1.5h", "99999999999999999999h"] {
            let e = parse_lifetime(bad).expect_err(bad);
            assert!(e.contains(&format!("{bad:?}")), "the error names the input: {e}");
        }
    }
}
