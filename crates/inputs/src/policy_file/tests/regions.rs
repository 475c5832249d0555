//! `consumer_regions:` in a policy file: a list of region names, inherited
//! from the `*` policy like every other field; anything else is refused.

use super::*;

fn with_regions(value: &str) -> String {
    GOOD.replace("    approval_ttl: 2d\n", &format!("    approval_ttl: 2d\n    consumer_regions: {value}\n"))
}

#[test]
fn consumer_regions_default_to_any_and_are_inherited_from_the_star_policy() {
    let d = parse("policy.yaml", GOOD, now()).expect("valid");
    assert!(d.policies.iter().all(|p| p.consumer_regions.is_empty()), "absent means any region");
    let d = parse("policy.yaml", &with_regions("[us-east-1, eu-west-1]"), now()).expect("valid");
    let names: Vec<&str> = d.policies[0].consumer_regions.iter().map(Region::as_str).collect();
    assert_eq!(names, ["us-east-1", "eu-west-1"]);
    assert_eq!(d.policies[1].consumer_regions, d.policies[0].consumer_regions, "inherited from *");
    let text = with_regions("[us-east-1]")
        .replace("    unlisted: reject\n", "    unlisted: reject\n    consumer_regions: [ap-south-1]\n");
    let d = parse("policy.yaml", &text, now()).expect("valid");
    assert_eq!(d.policies[1].consumer_regions, vec!["ap-south-1".parse::<Region>().expect("region")]);
}

#[test]
fn hostile_consumer_regions_are_refused_naming_the_input() {
    for bad in [
        "[]",
        "eu-west-1",
        "[EU-WEST-1]",
        "[\"eu-west-1 \"]",
        "[eu-west-1a]",
        "[\"127.0.0.1\"]",
        "[\"eu-west-1.evil.example\"]",
        "[\"eu-west-1/../x\"]",
        "[1]",
        "[[eu-west-1]]",
        "{ eu-west-1: true }",
        "[\"\"]",
        "[\"*\"]",
    ] {
        let errors = parse("policy.yaml", &with_regions(bad), now()).expect_err(bad);
        let shown = errors[0].to_string();
        assert!(shown.starts_with("policy.yaml:"), "{bad}: {shown}");
        assert!(shown.contains("region") || shown.contains("sequence"), "{bad}: {shown}");
    }
}
