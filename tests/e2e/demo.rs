//! `make demo` tells the story the README promises: each of its five
//! outcomes is checked in its output and against the emulator's truth.

use std::process::Command;
use std::sync::OnceLock;

use gate_e2e::Result;

/// The demo's output, run once for the tests of this file.
fn demo() -> &'static str {
    static OUTPUT: OnceLock<String> = OnceLock::new();
    OUTPUT.get_or_init(|| {
        let out = Command::new(env!("CARGO_BIN_EXE_demo")).output().expect("the demo runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "demo failed:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
        text
    })
}

/// What differs between runs (ids, times, signatures) replaced by placeholders.
fn normalised(text: &str) -> Vec<String> {
    let rules = [
        (r"vpce-svc-[0-9a-f]+", "vpce-svc-ID"),
        (r"vpce-[0-9a-f]{17}(-[a-z0-9]{8})?", "vpce-ID"),
        (r"us-east-1[a-f]\b", "us-east-1x"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "TIME"),
        (r"sig=[0-9a-f]{64}", "sig=SIG"),
        (r"exp=\d+", "exp=EXP"),
        (r"connections-[0-9-]+", "connections-N"),
        (r"Done in [0-9.]+s", "Done in Ns"),
    ];
    let rules: Vec<(regex::Regex, &str)> =
        rules.iter().map(|(re, to)| (regex::Regex::new(re).expect("pattern"), *to)).collect();
    text.lines()
        .map(|line| {
            rules.iter().fold(line.trim_end().to_owned(), |l, (re, to)| re.replace_all(&l, *to).into_owned())
        })
        .collect()
}

#[test]
fn the_readme_transcript_is_what_the_demo_prints_today() -> Result<()> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))?;
    let section = readme.split("## What `make demo` shows").nth(1).ok_or("no demo section in the README")?;
    let block = section.split("```\n").nth(1).ok_or("no transcript block")?;
    let want = normalised(block);
    let got = normalised(demo());
    let got: Vec<String> = got.into_iter().skip_while(|l| !l.starts_with("Endpoint Gate demo")).collect();
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(w, g, "README transcript line {} differs from `make demo` (regenerate it)", i + 1);
    }
    assert_eq!(want.len(), got.len(), "the README transcript and `make demo` differ in length");
    Ok(())
}

#[test]
fn the_demo_tells_all_five_outcomes() -> Result<()> {
    let text = demo();
    let step = |n: u32| -> &str {
        let start = text.find(&format!("[{n}/5]")).unwrap_or(text.len());
        let end = text.find(&format!("[{}/5]", n + 1)).unwrap_or(text.len());
        &text[start..end]
    };
    // 1. Two services, acceptance required, allowlist applied from the example file.
    assert!(step(1).contains("payments  vpce-svc-") && step(1).contains("ledger    vpce-svc-"), "{text}");
    assert!(step(1).contains("endpoint-gate apply examples/demo-policy.yaml: 6 change(s) applied"), "{text}");
    // 2. A: allowlisted with the everywhere-CIDR 10.0.0.0/16 → accepted, with reasons.
    assert!(
        step(2).contains("decide → ACCEPT") && step(2).contains("allowlisted for all services"),
        "{text}"
    );
    assert!(step(2).contains("connection state: available"), "{text}");
    // 3. B: from an undeclared VPC → review, email shown, approved through
    // the real link → accepted; B's team is told why, then who approved.
    let told = step(3).split("B's team receives this notice").collect::<Vec<_>>();
    assert_eq!(told.len(), 3, "two notices to B: {text}");
    assert!(told[1].contains("waits for review") && told[1].contains("outside the declared"), "{text}");
    assert!(told[1].contains("Asked to review: netops@example.com, Slack user U0NETOPS"), "{text}");
    assert!(told[2].contains("Approved by netops@example.com: known team, ticket NET-42"), "{text}");
    assert!(told[2].contains(".vpce.amazonaws.com"), "the approval names the DNS names: {text}");
    assert!(
        step(3).contains("decide → REVIEW") && step(3).contains("Subject: Endpoint Gate: review"),
        "{text}"
    );
    assert!(
        step(3).contains("and this message in Slack #netops-approvals:")
            && step(3).contains("[ Approve ] [ Reject ]"),
        "{text}"
    );
    assert!(step(3).contains("HTTP 200 confirmation page; connection still pendingAcceptance"), "{text}");
    assert!(step(3).contains("approved by netops@example.com. The connection is accepted."), "{text}");
    let slack_after = step(3).split("the Slack message now reads").nth(1).unwrap_or_default();
    assert!(
        slack_after.contains("Approved by netops@example.com at") && !slack_after.contains("[ Approve ]"),
        "the Slack message shows the email answer: {text}"
    );
    // 4. C: overlaps a protected range under reject → rejected, with the reason.
    assert!(
        step(4).contains("decide → REJECT") && step(4).contains("overlaps protected 192.168.0.0/16"),
        "{text}"
    );
    // C's team is told in its own words: no other account, no operator's note.
    let to_c = step(4).split("C's team receives this notice").nth(1).unwrap_or_default();
    assert!(to_c.contains("overlaps protected 192.168.0.0/16"), "{text}");
    for other in ["210000000001", "210000000002", "partner C", "partners"] {
        assert!(!to_c.contains(other), "{other} in C's notice: {text}");
    }
    // 5. EC2's truth; A's page shows its DNS names and what it may connect to; B's history names its approver.
    let end = step(5);
    for (who, state) in [("A", "available"), ("B", "available"), ("C", "rejected")] {
        let line = end
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("EC2: consumer {who}")))
            .unwrap_or_default();
        assert!(line.ends_with(state), "consumer {who}: {line}");
    }
    // A opens its page through a link signed with its own credentials.
    let page = end
        .split("runs `endpoint-gate open`")
        .nth(1)
        .and_then(|t| t.split("A opens a link to B's endpoint").next())
        .unwrap_or_default();
    assert!(page.contains("the browser gets HTTP 200"), "{text}");
    assert!(
        page.contains("available")
            && page.contains("by endpoint-gate")
            && page.contains(".vpce.amazonaws.com"),
        "A's endpoint and its DNS names: {text}"
    );
    assert!(page.contains("For your account") && page.contains("accepted automatically"), "{text}");
    assert!(!page.contains("210000000002") && !page.contains("210000000003"), "{text}");
    assert!(end.contains("A opens a link to B's endpoint: HTTP 404: Endpoint Gate no endpoint"), "{text}");
    assert!(end.contains("A edits its link to ask for B's account: HTTP 403"), "{text}");
    assert!(end.contains("request approved by email:netops@example.com"), "{text}");
    assert!(end.contains("Decided by email:netops@example.com"), "{text}");
    Ok(())
}
