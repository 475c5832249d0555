//! `explain`: the facts it decides on, and how its answer reads.

use gate_app::explain::Explained;
use gate_core::{AccountId, Cidr, Discovery, Mode, Region};

/// The consumer's region and CIDRs as explain takes them. Without
/// `--consumer-region` the consumer is in the provider's region (`home`),
/// as decide takes a connection EC2 names no region for.
pub fn facts(
    consumer_region: Option<Region>,
    home: Option<&aws_config::Region>,
    cidrs: Vec<Cidr>,
) -> (Option<Region>, Discovery) {
    let region = consumer_region.or_else(|| home.and_then(|r| r.as_ref().parse().ok()));
    let discovery = if cidrs.is_empty() {
        Discovery::Unavailable("no --cidr given".into())
    } else {
        Discovery::Read(cidrs)
    };
    (region, discovery)
}

/// `222233334444 (eu-west-1) → REVIEW`, whether shadow mode only records
/// it, and one reason a line.
pub fn render(account: AccountId, region: Option<&Region>, e: &Explained) -> String {
    let at = region.map(|r| format!(" ({r})")).unwrap_or_default();
    let mut s = format!("{account}{at} → {}", e.decision.outcome.as_str().to_uppercase());
    if e.mode == Mode::Shadow {
        s.push_str(" (shadow mode: only recorded; nothing is done, the connection is left to people)");
    }
    for r in &e.decision.reasons {
        s.push_str(&format!("\n  - {r}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consumer_region_defaults_to_the_providers() {
        let home = aws_config::Region::new("us-east-1");
        let eu: Region = "eu-west-1".parse().expect("region");
        assert_eq!(facts(Some(eu.clone()), Some(&home), vec![]).0, Some(eu));
        assert_eq!(facts(None, Some(&home), vec![]).0.map(|r| r.to_string()), Some("us-east-1".into()));
        let odd = aws_config::Region::new("not a region");
        assert_eq!(facts(None, Some(&odd), vec![]).0, None, "an unusable home region is no region");
    }

    #[test]
    fn the_answer_names_the_region_and_shadow_mode() {
        let decision = gate_core::Decision { outcome: gate_core::Outcome::Review, reasons: vec![] };
        let d = Explained { decision, mode: Mode::Enforce };
        let eu: Region = "eu-west-1".parse().expect("region");
        let account: AccountId = "222233334444".parse().expect("account");
        assert_eq!(render(account, Some(&eu), &d), "222233334444 (eu-west-1) → REVIEW");
        assert_eq!(render(account, None, &d), "222233334444 → REVIEW");
        let shadow = Explained { mode: Mode::Shadow, ..d };
        assert!(
            render(account, None, &shadow)
                .ends_with("(shadow mode: only recorded; nothing is done, the connection is left to people)")
        );
    }
}
