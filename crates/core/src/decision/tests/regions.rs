//! `consumer_regions`: a consumer from a region the policy does not list is
//! judged as the policy's `unlisted` rule says, allow entry or not.

use super::*;
use crate::id::Region;

fn region(name: &str) -> Region {
    name.parse().expect(name)
}

fn decide_in(policy: ServicePolicy, entries: Vec<AllowEntry>, at: Option<&str>, cidrs: &[&str]) -> Decision {
    let book = PolicyBook::new([policy], entries);
    let service = svc();
    let discovery = read(cidrs);
    let others = CidrSet::default();
    let at = at.map(region);
    let req = Request {
        service: &service,
        account: ACCT.parse().expect("valid"),
        discovery: &discovery,
        other_consumers: &others,
        membership: &Membership::NotConfigured,
        region: at.as_ref(),
    };
    decide(&book, &req, t(NOW))
}

fn listing(regions: &[&str], unlisted: Unlisted) -> ServicePolicy {
    with(policy("*"), |p| {
        p.consumer_regions = regions.iter().map(|r| region(r)).collect();
        p.unlisted = unlisted;
    })
}

/// (name, policy, entries, region, cidrs, outcome, whether the region rule fired)
type Row<'a> = (&'a str, ServicePolicy, Vec<AllowEntry>, Option<&'a str>, &'a [&'a str], Outcome, bool);

#[test]
fn consumer_regions_table() {
    let allow = || vec![entry(SVC, Effect::Allow)];
    let clean = &["172.31.0.0/16"][..];
    let rows: Vec<Row<'_>> = vec![
        (
            "no list admits any region",
            policy("*"),
            allow(),
            Some("ap-south-1"),
            clean,
            Outcome::Accept,
            false,
        ),
        ("no list admits an unknown region", policy("*"), allow(), None, clean, Outcome::Accept, false),
        (
            "a listed region is accepted",
            listing(&["us-east-1", "eu-west-1"], Unlisted::Review),
            allow(),
            Some("eu-west-1"),
            clean,
            Outcome::Accept,
            false,
        ),
        (
            "an allowlisted account from another region goes to review",
            listing(&["us-east-1"], Unlisted::Review),
            allow(),
            Some("eu-west-1"),
            clean,
            Outcome::Review,
            true,
        ),
        (
            "an allowlisted account from another region is rejected when unlisted says reject",
            listing(&["us-east-1"], Unlisted::Reject),
            allow(),
            Some("eu-west-1"),
            clean,
            Outcome::Reject,
            true,
        ),
        (
            "an unknown region fails closed",
            listing(&["us-east-1"], Unlisted::Review),
            allow(),
            None,
            clean,
            Outcome::Review,
            true,
        ),
        (
            "a listed region does not lift the overlap rule",
            with(listing(&["eu-west-1"], Unlisted::Review), |p| p.overlap = OverlapMode::Reject),
            allow(),
            Some("eu-west-1"),
            &["10.1.0.0/16"],
            Outcome::Reject,
            false,
        ),
        (
            "the worse of region and overlap wins",
            with(listing(&["us-east-1"], Unlisted::Review), |p| p.overlap = OverlapMode::Reject),
            allow(),
            Some("eu-west-1"),
            &["10.1.0.0/16"],
            Outcome::Reject,
            true,
        ),
        (
            "a deny settles it before the region is looked at",
            listing(&["us-east-1"], Unlisted::Review),
            vec![entry(SVC, Effect::Deny)],
            Some("eu-west-1"),
            clean,
            Outcome::Reject,
            false,
        ),
    ];
    for (name, policy, entries, at, cidrs, outcome, fired) in rows {
        let d = decide_in(policy, entries, at, cidrs);
        assert_eq!(d.outcome, outcome, "{name}: {}", d.summary());
        assert_eq!(d.fired(Rule::RegionUnlisted), fired, "{name}: {}", d.summary());
    }
}

#[test]
fn the_reason_names_the_region_and_the_list() {
    let d = decide_in(
        listing(&["us-east-1", "eu-central-1"], Unlisted::Review),
        vec![entry(SVC, Effect::Allow)],
        Some("eu-west-1"),
        &["172.31.0.0/16"],
    );
    let reason = d.reasons.iter().find(|r| r.rule == Rule::RegionUnlisted).expect("fired");
    assert_eq!(
        reason.to_string(),
        "consumer region eu-west-1 is not in the policy's consumer_regions (us-east-1, eu-central-1) → review"
    );
    assert_eq!(reason.for_consumer(), reason.to_string(), "nothing in it belongs to another tenant");
}
