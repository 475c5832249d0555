//! `pending`: the connections awaiting acceptance, with what the table says
//! of each. Rendering only. A reason's text can hold an allowlist note,
//! which whoever can write the table wrote: in the text table each value is
//! one [`field`], so a note cannot end its line and print a forged one below.

use std::collections::HashMap;

use gate_core::{Connection, EndpointId, RequestRecord};
use serde::Serialize;

use crate::terminal::field;

/// One awaiting connection; `state` is "undecided" where the table has no
/// request for it yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub endpoint: String,
    pub service: String,
    pub owner: String,
    pub state: String,
    pub since: Option<String>,
    pub reasons: Option<String>,
}

/// The rows of `connections`, each with its request where `requests` has one.
pub fn rows(connections: &[Connection], requests: &HashMap<EndpointId, RequestRecord>) -> Vec<Row> {
    connections
        .iter()
        .map(|c| {
            let request = requests.get(&c.endpoint);
            Row {
                endpoint: c.endpoint.to_string(),
                service: c.service.to_string(),
                owner: c.owner.to_string(),
                state: request.map_or_else(|| "undecided".to_owned(), |r| r.state.to_string()),
                since: request.map(|r| r.decided_at.to_string()),
                reasons: request
                    .map(|r| r.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
            }
        })
        .collect()
}

/// The text table: a header, then a line per row.
pub fn text(rows: &[Row]) -> String {
    if rows.is_empty() {
        return "No connection awaits acceptance.".into();
    }
    let mut s = format!("{:<24} {:<26} {:<13} {:<10} reasons", "endpoint", "service", "owner", "state");
    for r in rows {
        s.push_str(&format!(
            "\n{:<24} {:<26} {:<13} {:<10} {}",
            field(&r.endpoint),
            field(&r.service),
            field(&r.owner),
            field(&r.state),
            field(r.reasons.as_deref().unwrap_or(""))
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use gate_core::{ConnectionState, Outcome, Reason, RequestState, Rule, Timestamp};

    use super::*;

    fn connection(endpoint: &str) -> Connection {
        Connection {
            service: "vpce-svc-0123456789abcdef0".parse().unwrap(),
            endpoint: endpoint.parse().unwrap(),
            owner: "111122223333".parse().unwrap(),
            state: ConnectionState::PendingAcceptance,
            dns_entries: vec![],
            created_at: None,
            region: None,
        }
    }

    fn in_review(c: &Connection, reason: &str) -> RequestRecord {
        RequestRecord {
            reasons: vec![Reason {
                rule: Rule::Allowlisted,
                pushes: Some(Outcome::Review),
                text: reason.into(),
                consumer: None,
            }],
            ..RequestRecord::new(
                c.service.clone(),
                c.endpoint.clone(),
                c.owner,
                RequestState::Review,
                "endpoint-gate",
                Timestamp::from_unix(1_700_000_000),
            )
        }
    }

    #[test]
    fn each_awaiting_connection_is_a_line_with_its_state_and_reasons() {
        let (seen, unseen) = (connection("vpce-0aaaaaaaaaaaaaaaa"), connection("vpce-0bbbbbbbbbbbbbbbb"));
        let requests = HashMap::from([(seen.endpoint.clone(), in_review(&seen, "note: ask the data team"))]);
        let shown = text(&rows(&[seen, unseen], &requests));
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), 3, "{shown}");
        assert!(lines[1].starts_with("vpce-0aaaaaaaaaaaaaaaa") && lines[1].contains("review"), "{shown}");
        assert!(lines[1].ends_with("note: ask the data team → review"), "{shown}");
        assert!(lines[2].starts_with("vpce-0bbbbbbbbbbbbbbbb") && lines[2].contains("undecided"), "{shown}");
        assert_eq!(text(&[]), "No connection awaits acceptance.");
    }

    #[test]
    fn a_reason_cannot_print_a_line_of_its_own() {
        let c = connection("vpce-0aaaaaaaaaaaaaaaa");
        let forged = "ok\nvpce-0ffffffffffffffff vpce-svc-0123456789abcdef0 999999999999 accepted\tfine";
        let requests = HashMap::from([(c.endpoint.clone(), in_review(&c, forged))]);
        let shown = text(&rows(&[c], &requests));
        assert_eq!(shown.lines().count(), 2, "{shown}");
        assert!(
            shown.contains(r"ok\u000avpce-0ffffffffffffffff") && shown.contains(r"accepted\u0009fine"),
            "{shown}"
        );
    }
}
