//! The email approval page in a real browser: Debian's headless Chromium,
//! driven by playwright-core, opens the link from the review email through
//! the Function URL, sees the request's details, types a reason and presses
//! Approve. Screenshots of both pages are kept in
//! `target/artefacts/browser/`.

use std::path::PathBuf;
use std::process::Command;

use gate_app::ports::{Audit, AuditKind};
use gate_e2e::Result;
use serde_json::Value;

use crate::approvals::setup;

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Runs the browser script; a missing browser or package is a failure that
/// says how to install it, never a skip.
fn approve_in_chromium(url: &str, shots: &PathBuf, reason: &str) -> Result<Value> {
    let dir = browser_dir();
    if !dir.join("node_modules/playwright-core").exists() {
        return Err("playwright-core is not installed: run `make browser-tools`".into());
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !PathBuf::from(&chromium).exists() {
        return Err(format!("{chromium} not found: run `make browser-tools` (Debian's chromium)").into());
    }
    let out = Command::new("node").arg(dir.join("approve.mjs")).arg(url).arg(shots).arg(reason).output()?;
    if !out.status.success() {
        return Err(format!("the browser run failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

// The browser runs while the Function URL serves: two threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_approves_in_a_real_browser() -> Result<()> {
    let s = setup().await?;
    let endpoint = s.reviewed("260000000001").await?;
    let query = s.email_link(&endpoint, "netops@example.com", "Approve:").await?;
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/artefacts/browser");
    let _ = std::fs::remove_dir_all(&shots);

    let url = format!("{}/link?{query}", s.url.url);
    let dir = shots.clone();
    let run = tokio::task::spawn_blocking(move || {
        approve_in_chromium(&url, &dir, "checked in Chromium").map_err(|e| e.to_string())
    })
    .await??;

    let confirm = &run["confirm"];
    assert_eq!(confirm["status"], 200);
    assert_eq!(confirm["endpoint"], endpoint.as_str());
    let text = confirm["text"].as_str().unwrap_or_default();
    for needle in ["260000000001", s.service.id.as_str(), "not on the allowlist", "netops@example.com"] {
        assert!(text.contains(needle), "the confirmation page lacks {needle}: {text}");
    }
    let result = &run["result"];
    assert_eq!(result["status"], 200, "{result}");
    let text = result["text"].as_str().unwrap_or_default();
    assert!(text.contains("approved by netops@example.com") && text.contains("accepted"), "{text}");

    assert_eq!(s.local.state(&endpoint).await?, "available");
    let history = s.store.history(&endpoint.parse()?).await?;
    let answer = history.iter().rfind(|e| e.kind == AuditKind::Decided).ok_or("no decision")?;
    assert_eq!(answer.actor, "email:netops@example.com");
    assert!(answer.detail.contains("checked in Chromium"), "{}", answer.detail);
    for shot in ["confirm.png", "result.png"] {
        let size = std::fs::metadata(shots.join(shot))?.len();
        assert!(size > 1000, "{shot} is {size} bytes");
    }
    Ok(())
}
