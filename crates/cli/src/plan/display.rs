//! A plan as people read it: one line per change, Terraform style.

use std::fmt;

use super::*;

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            writeln!(f, "No changes: the live tables match the file.")?;
        }
        for c in &self.changes {
            let sign = match c.kind {
                Kind::Add => "+",
                Kind::Change => "~",
                Kind::Remove => "-",
            };
            writeln!(f, "{sign} {}", c.target)?;
            for fc in &c.fields {
                match (&fc.before, &fc.after) {
                    (Some(b), Some(a)) => writeln!(f, "    {}: {b} → {a}", fc.field)?,
                    (None, Some(a)) => writeln!(f, "    {}: {a}", fc.field)?,
                    (Some(b), None) => writeln!(f, "    {}: {b} → (none)", fc.field)?,
                    (None, None) => {}
                }
            }
        }
        if !self.unmanaged.is_empty() {
            writeln!(f, "Live but not in the file (kept; --prune removes them):")?;
            for t in &self.unmanaged {
                writeln!(f, "  {t}")?;
            }
        }
        if let Some(subs) = &self.subscriptions {
            write!(f, "{subs}")?;
        }
        if let Some(subs) = &self.consumer_subscriptions {
            write!(f, "{subs}")?;
        }
        for p in &self.principals {
            principals(p, f)?;
        }
        if let Some(s) = &self.services {
            services(s, f)?;
        }
        for c in &self.coverage {
            match (c.accounts, &c.error) {
                (Some(1), _) => writeln!(f, "  OU {} covers 1 account now", c.ou)?,
                (Some(n), _) => writeln!(f, "  OU {} covers {n} accounts now", c.ou)?,
                (None, why) => writeln!(
                    f,
                    "! OU {}: its accounts could not be counted ({})",
                    c.ou,
                    why.as_deref().unwrap_or("no reason given")
                )?,
            }
        }
        if !self.revocations.is_empty() {
            writeln!(f, "Available connections the next sweep revokes after this apply (revoke: reject):")?;
            for r in &self.revocations {
                writeln!(f, "{r}")?;
            }
        }
        let count = |k: Kind| self.changes.iter().filter(|c| c.kind == k).count();
        write!(
            f,
            "Plan: {} to add, {} to change, {} to remove",
            count(Kind::Add),
            count(Kind::Change),
            count(Kind::Remove)
        )?;
        let review = self.subscriptions.as_ref().map(|s| (s.subscribe.len(), 0, s.unsubscribe.len()));
        let consumers = self
            .consumer_subscriptions
            .as_ref()
            .map(|s| (s.subscribe.len(), s.refilter.len(), s.unsubscribe.len()));
        if !self.principals.is_empty() {
            let add: usize = self.principals.iter().map(|p| p.add.len()).sum();
            let remove: usize = self.principals.iter().map(|p| p.remove.len()).sum();
            write!(f, "; {add} principal(s) to allow, {remove} to remove")?;
        }
        match (review, consumers) {
            (None, None) => write!(f, "."),
            (Some((add, _, remove)), None) => {
                write!(f, "; {add} subscription(s) to add, {remove} to remove.")
            }
            (r, c) => {
                let (a1, _, r1) = r.unwrap_or_default();
                let (a2, change, r2) = c.unwrap_or_default();
                write!(f, "; {} subscription(s) to add, {change} to change, {} to remove.", a1 + a2, r1 + r2)
            }
        }
    }
}

/// The managed services, and what EC2 keeps for each.
fn services(s: &ServicesPlan, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use gate_app::services::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE};
    for id in &s.add {
        writeln!(f, "+ service {id} (managed: decided without a stack update)")?;
    }
    for id in &s.tag {
        writeln!(f, "+ tag {MANAGED_TAG_KEY}={MANAGED_TAG_VALUE} on {id}")?;
    }
    if let Some(topic) = &s.topic {
        for id in &s.notify {
            writeln!(f, "+ notification of {id} to {topic}")?;
        }
    }
    for (id, notification) in &s.unnotify {
        writeln!(f, "- notification {notification} of {id}")?;
    }
    for id in &s.untag {
        writeln!(f, "- tag {MANAGED_TAG_KEY} on {id}")?;
    }
    for id in &s.remove {
        writeln!(f, "- service {id} (no longer decided unless the stack names it)")?;
    }
    for id in &s.unmanaged {
        writeln!(f, "! service {id} is managed but not in the file (kept; --prune removes it)")?;
    }
    if s.topic.is_none() {
        writeln!(f, "! connection notifications not planned: give --connection-topic-arn")?;
    }
    for (id, why) in &s.errors {
        writeln!(f, "! service {id}: not planned, nothing changes ({why})")?;
    }
    Ok(())
}

/// A service's allowed principals: who EC2 lets create an endpoint at all.
fn principals(p: &PrincipalsPlan, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if let Some(why) = &p.error {
        return writeln!(f, "! principals of {}: not planned, nothing changes ({why})", p.service);
    }
    for arn in &p.add {
        writeln!(f, "+ principal {arn} of {}", p.service)?;
    }
    for arn in &p.remove {
        writeln!(f, "- principal {arn} of {}", p.service)?;
    }
    Ok(())
}

impl fmt::Display for SubscriptionPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for email in &self.subscribe {
            writeln!(f, "+ subscription {email} (pending confirmation)")?;
        }
        for email in &self.pending {
            writeln!(f, "  subscription {email} waits for its owner to confirm it")?;
        }
        for s in &self.unknown {
            let who = format!("{} {}", s.protocol, s.endpoint);
            match &s.arn {
                Some(arn) if self.unsubscribe.contains(arn) => {
                    writeln!(f, "- subscription {arn} ({who}): no policy names it")?
                }
                Some(arn) => writeln!(
                    f,
                    "! subscription {arn} ({who}) is named by no policy and may read approvers' links; \
                     --prune removes it"
                )?,
                None => writeln!(
                    f,
                    "! a pending subscription ({who}) is named by no policy; remove it in SNS once it \
                     is confirmed"
                )?,
            }
        }
        Ok(())
    }
}
