//! The consumer topic's subscriptions follow the contacts: one email
//! subscription per contact address, filtering on the accounts it is the
//! contact of. The filter policy is all that separates tenants on the
//! shared topic, so a contact's subscription that filters on anything else
//! is set right, and one that no contact names is shown (and removed with
//! `--prune`).

use std::collections::BTreeMap;
use std::fmt;

use gate_app::PortError;
use gate_app::consumer_topic::{ConsumerSubscription, ConsumerTopic};
use gate_app::ports::LiveConfig;
use gate_core::AccountId;
use gate_core::policy::same_email;
use serde::{Deserialize, Serialize};

use super::Applied;
use crate::file::Desired;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerSubscriptionPlan {
    pub topic: String,
    /// Contact addresses to subscribe, with the accounts to filter on.
    pub subscribe: Vec<(String, Vec<AccountId>)>,
    /// Confirmed subscriptions whose filter must change: (arn, address, accounts).
    pub refilter: Vec<(String, String, Vec<AccountId>)>,
    /// Contacts whose subscription waits for them to confirm it.
    pub pending: Vec<String>,
    /// Subscriptions no contact names.
    pub unknown: Vec<ConsumerSubscription>,
    /// Of those, the ones `apply` removes (with `--prune`).
    pub unsubscribe: Vec<String>,
}

impl ConsumerSubscriptionPlan {
    pub fn is_empty(&self) -> bool {
        self.subscribe.is_empty() && self.refilter.is_empty() && self.unsubscribe.is_empty()
    }
}

/// The contact addresses after this apply (the file's, and without
/// `--prune` the live contacts it leaves in place), each with its accounts.
fn wanted(desired: &Desired, live: &LiveConfig, prune: bool) -> BTreeMap<String, Vec<AccountId>> {
    let kept = live
        .contacts
        .iter()
        .filter(|l| !prune && !desired.contacts.iter().any(|c| c.account == l.value.account))
        .map(|l| &l.value);
    let mut out: BTreeMap<String, Vec<AccountId>> = BTreeMap::new();
    for c in desired.contacts.iter().chain(kept) {
        if let Some(email) = &c.email {
            let key = out.keys().find(|k| same_email(k, email)).cloned().unwrap_or_else(|| email.clone());
            let accounts = out.entry(key).or_default();
            accounts.push(c.account);
            accounts.sort();
            accounts.dedup();
        }
    }
    out
}

pub fn plan_consumer_subscriptions(
    desired: &Desired,
    live: &LiveConfig,
    topic: &str,
    subscriptions: &[ConsumerSubscription],
    prune: bool,
) -> ConsumerSubscriptionPlan {
    let wanted = wanted(desired, live, prune);
    let mut plan = ConsumerSubscriptionPlan { topic: topic.to_owned(), ..Default::default() };
    let mut found: Vec<&str> = Vec::new();
    for s in subscriptions {
        let email = matches!(s.protocol.as_str(), "email" | "email-json");
        let Some((address, accounts)) = wanted.iter().find(|(a, _)| email && same_email(a, &s.endpoint))
        else {
            if prune && let Some(arn) = &s.arn {
                plan.unsubscribe.push(arn.clone());
            }
            plan.unknown.push(s.clone());
            continue;
        };
        found.push(address);
        let want: Vec<String> = accounts.iter().map(ToString::to_string).collect();
        match &s.arn {
            None => plan.pending.push(address.clone()),
            Some(arn) if s.accounts.as_ref().map(|a| sorted(a)) != Some(want) => {
                plan.refilter.push((arn.clone(), address.clone(), accounts.clone()));
            }
            Some(_) => {}
        }
    }
    for (address, accounts) in &wanted {
        if !found.contains(&address.as_str()) {
            plan.subscribe.push((address.clone(), accounts.clone()));
        }
    }
    plan
}

fn sorted(values: &[String]) -> Vec<String> {
    let mut v = values.to_vec();
    v.sort();
    v.dedup();
    v
}

/// Makes the consumer topic's subscriptions what the plan says, after the
/// contacts are written.
pub async fn apply_consumer_subscriptions(
    plan: &ConsumerSubscriptionPlan,
    topic: &dyn ConsumerTopic,
    done: &mut Applied,
) -> Result<(), PortError> {
    for (email, accounts) in &plan.subscribe {
        topic.subscribe(email, accounts).await?;
        done.subscribed.push(email.clone());
    }
    for (arn, email, accounts) in &plan.refilter {
        topic.set_accounts(arn, accounts).await?;
        done.refiltered.push(email.clone());
    }
    for arn in &plan.unsubscribe {
        topic.unsubscribe(arn).await?;
        done.unsubscribed.push(arn.clone());
    }
    Ok(())
}

fn list(accounts: &[AccountId]) -> String {
    accounts.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for ConsumerSubscriptionPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (email, accounts) in &self.subscribe {
            writeln!(f, "+ consumer subscription {email} for {} (pending confirmation)", list(accounts))?;
        }
        for (arn, email, accounts) in &self.refilter {
            writeln!(f, "~ consumer subscription {email} ({arn}) filters on {}", list(accounts))?;
        }
        for email in &self.pending {
            writeln!(f, "  consumer subscription {email} waits for its owner to confirm it")?;
        }
        for s in &self.unknown {
            let who = format!("{} {}", s.protocol, s.endpoint);
            match &s.arn {
                Some(arn) if self.unsubscribe.contains(arn) => {
                    writeln!(f, "- consumer subscription {arn} ({who}): no contact names it")?
                }
                Some(arn) => writeln!(
                    f,
                    "! consumer subscription {arn} ({who}) is named by no contact and may read other \
                     tenants' notices; --prune removes it"
                )?,
                None => writeln!(f, "! a pending consumer subscription ({who}) is named by no contact")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use gate_app::ports::Versioned;
    use gate_core::Contact;

    use super::*;

    const B: &str = "220000000002";
    const C: &str = "230000000003";

    fn contact(account: &str, email: &str) -> Contact {
        Contact { account: account.parse().expect("account"), email: Some(email.into()), slack_channel: None }
    }

    fn sub(arn: Option<&str>, endpoint: &str, accounts: Option<&[&str]>) -> ConsumerSubscription {
        ConsumerSubscription {
            arn: arn.map(str::to_owned),
            protocol: "email".into(),
            endpoint: endpoint.into(),
            accounts: accounts.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    #[test]
    fn each_contact_address_gets_one_subscription_filtering_on_its_own_accounts() {
        let desired = Desired {
            contacts: vec![contact(B, "team-b@example.com"), contact(C, "team-c@example.com")],
            ..Desired::default()
        };
        let live = LiveConfig::default();
        let subs = [
            // B's, but with no filter: it would read C's notices.
            sub(Some("arn:b"), "team-b@example.com", None),
            sub(None, "team-c@example.com", None),
            sub(Some("arn:x"), "mallory@example.com", None),
        ];
        let plan = plan_consumer_subscriptions(&desired, &live, "arn:topic", &subs, false);
        assert_eq!(
            plan.refilter,
            vec![("arn:b".into(), "team-b@example.com".into(), vec![B.parse().expect("b")])]
        );
        assert_eq!(plan.pending, vec!["team-c@example.com".to_owned()]);
        assert!(plan.subscribe.is_empty());
        assert_eq!(plan.unknown.len(), 1);
        assert!(plan.unsubscribe.is_empty(), "kept without --prune");
        assert!(plan.to_string().contains("may read other tenants' notices"), "{plan}");
        let pruned = plan_consumer_subscriptions(&desired, &live, "arn:topic", &subs, true);
        assert_eq!(pruned.unsubscribe, vec!["arn:x".to_owned()]);
    }

    #[test]
    fn contacts_are_planned_added_changed_and_kept_or_pruned() {
        use crate::plan::{Kind, Target, plan};
        let now = gate_core::Timestamp::from_unix(1_800_000_000);
        let live = LiveConfig {
            contacts: vec![
                Versioned { value: contact(B, "old-b@example.com"), revision: 4 },
                Versioned { value: contact(C, "team-c@example.com"), revision: 1 },
            ],
            ..LiveConfig::default()
        };
        let mut slack_only = contact("240000000004", "x@example.com");
        slack_only.email = None;
        slack_only.slack_channel = Some("#team-d".into());
        let desired =
            Desired { contacts: vec![contact(B, "team-b@example.com"), slack_only], ..Desired::default() };
        let p = plan(&desired, &live, false, "me", now);
        let b = p.changes.iter().find(|c| c.target == Target::Contact { account: B.parse().expect("b") });
        let b = b.expect("B changes");
        assert_eq!((b.kind, b.revision), (Kind::Change, Some(4)));
        assert_eq!(b.fields[0].after.as_deref(), Some("team-b@example.com"));
        assert!(p.to_string().contains("+ contact of 240000000004\n    slack_channel: #team-d"), "{p}");
        assert_eq!(p.unmanaged, vec![Target::Contact { account: C.parse().expect("c") }]);
        let pruned = plan(&desired, &live, true, "me", now);
        assert!(pruned.changes.iter().any(|c| c.kind == Kind::Remove && c.revision == Some(1)), "{pruned}");
    }

    #[test]
    fn a_new_contact_is_subscribed_and_a_right_filter_is_left_alone() {
        let desired = Desired { contacts: vec![contact(B, "team-b@example.com")], ..Desired::default() };
        let live = LiveConfig {
            contacts: vec![Versioned { value: contact(C, "shared@example.com"), revision: 1 }],
            ..LiveConfig::default()
        };
        let plan = plan_consumer_subscriptions(&desired, &live, "arn:topic", &[], false);
        assert_eq!(plan.subscribe.len(), 2, "{plan:?}");
        let ok = [sub(Some("arn:b"), "team-b@example.com", Some(&[B]))];
        let plan = plan_consumer_subscriptions(&desired, &live, "arn:topic", &ok, true);
        assert!(plan.is_empty() && plan.unknown.is_empty(), "{plan:?}");
    }
}
