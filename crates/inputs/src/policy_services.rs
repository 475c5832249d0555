//! `services:` at the top of the policy file: the endpoint services
//! Endpoint Gate manages without a stack update. `apply` gives each one its
//! connection notification and the tag that scopes the functions'
//! Accept/Reject permission, and writes the list where the functions read it.

use gate_core::ServiceId;

/// More services than this is refused: an account has far fewer.
const MAX_SERVICES: usize = 1000;

/// The listed services, each an id (`vpce-svc-…`, never a name) listed
/// once; problems go to `error` with the item's line.
pub(crate) fn services(
    listed: Vec<String>,
    lines: &[usize],
    error: &mut dyn FnMut(Option<usize>, String),
) -> Vec<ServiceId> {
    if listed.len() > MAX_SERVICES {
        error(None, format!("services: {} listed, at most {MAX_SERVICES}", listed.len()));
        return Vec::new();
    }
    let mut out: Vec<ServiceId> = Vec::new();
    for (i, text) in listed.into_iter().enumerate() {
        let line = lines.get(i).copied();
        let shown: String = text.chars().take(60).collect();
        match text.parse::<ServiceId>() {
            Ok(id) => match out.iter().position(|s| *s == id) {
                Some(first) => error(
                    line,
                    format!("services[{i}] {id} is listed twice (the first is services[{first}])"),
                ),
                None => out.push(id),
            },
            Err(_) if text.starts_with("com.amazonaws.") => error(
                line,
                format!("services[{i}] {shown:?} is a service name; name the service by its id (vpce-svc-…)"),
            ),
            Err(_) => {
                error(line, format!("services[{i}] {shown:?} is not an endpoint service id (vpce-svc-…)"))
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::policy_file::parse;

    fn now() -> gate_core::Timestamp {
        "2026-11-22T12:00:00Z".parse().expect("time")
    }

    fn errors(file: &str) -> Vec<String> {
        parse("p.yaml", file, now()).expect_err("refused").iter().map(ToString::to_string).collect()
    }

    #[test]
    fn listed_services_are_managed_and_an_absent_list_manages_nothing() {
        let d = parse("p.yaml", "services:\n  - vpce-svc-0abc1234def567890\n  - vpce-svc-0fff1234\n", now())
            .expect("valid");
        let ids: Vec<String> = d.services.expect("managed").iter().map(ToString::to_string).collect();
        assert_eq!(ids, ["vpce-svc-0abc1234def567890", "vpce-svc-0fff1234"]);
        assert_eq!(parse("p.yaml", "services: []\n", now()).expect("valid").services, Some(vec![]));
        assert_eq!(parse("p.yaml", "policies: []\n", now()).expect("valid").services, None);
    }

    #[test]
    fn hostile_service_lists_are_refused_naming_the_value_and_line() {
        assert_eq!(
            errors("services:\n  - vpce-svc-0abc1234\n  - vpce-svc-0ABC1234\n  - \"*\"\n"),
            [
                "p.yaml:3: services[1] \"vpce-svc-0ABC1234\" is not an endpoint service id (vpce-svc-…)",
                "p.yaml:4: services[2] \"*\" is not an endpoint service id (vpce-svc-…)",
            ]
        );
        assert_eq!(
            errors("services:\n  - vpce-svc-0abc1234\n  - vpce-svc-0abc1234\n"),
            ["p.yaml:3: services[1] vpce-svc-0abc1234 is listed twice (the first is services[0])"]
        );
        assert_eq!(
            errors("services:\n  - com.amazonaws.vpce.us-east-1.vpce-svc-0abc1234\n"),
            ["p.yaml:2: services[0] \"com.amazonaws.vpce.us-east-1.vpce-svc-0abc1234\" is a service name; \
                 name the service by its id (vpce-svc-…)"]
        );
        for hostile in [
            "services: vpce-svc-0abc1234\n",
            "services:\n  - {id: vpce-svc-0abc1234}\n",
            "services:\n  - vpce-svc-0abc1234 ; rm -rf /\n",
            "services:\n  - \"vpce-svc-0abc1234\\u0000\"\n",
            "services:\n  - vpce-svc-\n",
        ] {
            assert!(parse("p.yaml", hostile, now()).is_err(), "{hostile:?} parsed");
        }
        let many: String = (0..1001).map(|i| format!("  - vpce-svc-{i:08x}\n")).collect();
        assert_eq!(errors(&format!("services:\n{many}")), ["p.yaml: services: 1001 listed, at most 1000"]);
    }
}
