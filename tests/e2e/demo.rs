//! `make demo` tells the story the README promises: each of its five
//! outcomes is checked in its output and against the emulator's truth.

use std::process::Command;

use gate_e2e::Result;

#[test]
fn the_demo_tells_all_five_outcomes() -> Result<()> {
    let out = Command::new(env!("CARGO_BIN_EXE_demo")).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let step = |n: u32| -> &str {
        let start = text.find(&format!("[{n}/5]")).unwrap_or(text.len());
        let end = text.find(&format!("[{}/5]", n + 1)).unwrap_or(text.len());
        &text[start..end]
    };
    // 1. Two services, acceptance required, allowlist applied from the example file.
    assert!(step(1).contains("payments  vpce-svc-") && step(1).contains("ledger    vpce-svc-"), "{text}");
    assert!(step(1).contains("endpoint-gate apply examples/demo-policy.yaml: 3 change(s) applied"), "{text}");
    // 2. A: allowlisted with the everywhere-CIDR 10.0.0.0/16 → accepted, with reasons.
    assert!(
        step(2).contains("decide → ACCEPT") && step(2).contains("allowlisted for all services"),
        "{text}"
    );
    assert!(step(2).contains("connection state: available"), "{text}");
    // 3. B: unknown → review, email shown, approved through the real link → accepted.
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
    // 4. C: overlaps a protected range under reject → rejected, with the reason.
    assert!(
        step(4).contains("decide → REJECT") && step(4).contains("overlaps protected 192.168.0.0/16"),
        "{text}"
    );
    // 5. EC2's truth; the registry lookup of A shows its DNS names; B's history names its approver.
    let end = step(5);
    for (who, state) in [("A", "available"), ("B", "available"), ("C", "rejected")] {
        let line = end
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("EC2: consumer {who}")))
            .unwrap_or_default();
        assert!(line.ends_with(state), "consumer {who}: {line}");
    }
    let a = end
        .split("signed in as consumer A")
        .nth(1)
        .and_then(|t| t.split("A asks for").next())
        .unwrap_or_default();
    assert!(
        a.contains("available  accepted by endpoint-gate") && a.contains(".vpce.amazonaws.com"),
        "{text}"
    );
    assert!(end.contains("A asks for B's endpoint: no endpoint"), "{text}");
    assert!(end.contains("request approved by email:netops@example.com"), "{text}");
    assert!(end.contains("Decided by email:netops@example.com"), "{text}");
    Ok(())
}
