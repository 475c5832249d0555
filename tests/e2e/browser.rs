//! The pages in a real browser: Debian's headless Chromium, driven by
//! playwright-core. An approver opens the link from the review email through
//! the Function URL, sees the request's details, types a reason and presses
//! Approve; a consumer opens the lookup page and finds their DNS names and
//! why a request waits. Screenshots are kept in `target/artefacts/browser/`.

use std::path::PathBuf;
use std::process::Command;

use gate_app::ports::{Audit, AuditKind};
use gate_e2e::Result;
use serde_json::Value;

use crate::approvals::setup;

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser")
}

fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/artefacts/browser")
}

/// Runs a browser script; a missing browser or package is a failure that
/// says how to install it, never a skip.
fn chromium(script: &str, args: &[String]) -> Result<Value> {
    let dir = browser_dir();
    if !dir.join("node_modules/playwright-core").exists() {
        return Err("playwright-core is not installed: run `make browser-tools`".into());
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !PathBuf::from(&chromium).exists() {
        return Err(format!("{chromium} not found: run `make browser-tools` (Debian's chromium)").into());
    }
    let out = Command::new("node").arg(dir.join(script)).args(args).output()?;
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
    let shots = shots();

    let url = format!("{}/link?{query}", s.url.url);
    let args = [url, shots.display().to_string(), "checked in Chromium".to_owned()];
    let run = tokio::task::spawn_blocking(move || chromium("approve.mjs", &args).map_err(|e| e.to_string()))
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

// The browser runs while the Function URL serves: two threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_finds_dns_names_and_why_a_request_waits_on_the_lookup_page() -> Result<()> {
    let s = setup().await?;
    s.store
        .put_entry(&gate_core::AllowEntry {
            scope: gate_core::Scope::Any,
            principal: "260000000002".parse()?,
            effect: gate_core::Effect::Allow,
            declared_cidrs: vec![],
            expires_at: None,
            owner: "team-a".into(),
            note: String::new(),
            added_by: "e2e".into(),
            added_at: None,
        })
        .await?;
    let accepted = s.reviewed("260000000002").await?; // allowlisted: accepted at once
    let approved = s.reviewed("260000000003").await?;
    let waiting = s.reviewed("260000000003").await?;
    let now = gate_e2e::now();
    s.local
        .answer(s.store.table())
        .answer(
            &approved.parse()?,
            gate_app::Verdict::Approve,
            &gate_core::Answerer::Email("netops@example.com".into()),
            None,
            now,
        )
        .await?;
    let recorder = s.local.recorder(s.store.table(), &[&s.service]);
    recorder.sweep(&|_, _| {}, gate_e2e::now()).await.map_err(|e| e.chain())?;
    assert_eq!(s.local.state(&accepted).await?, "available");

    // The consumer of `waiting` (account ...03) opens the page, signed in as a developer.
    let wiring = gate_aws::wiring::Wiring::new(&s.local.sdk, s.store.table());
    let lookup = std::sync::Arc::new(gate_lambdas::lookup::LookupFn {
        lookup: wiring.lookup(vec![s.service.id.parse()?]),
        operators: vec![],
    });
    let handler: gate_e2e::function_url::Handler = std::sync::Arc::new(move |event| {
        let lookup = lookup.clone();
        Box::pin(async move { lookup.handle(event).await })
    });
    let signer =
        Some(("260000000003".to_owned(), "arn:aws:sts::260000000003:assumed-role/Developer/dana".to_owned()));
    let url = gate_e2e::function_url::FunctionUrl::serve_signed(handler, signer).await?;
    let args = [format!("{}/", url.url), shots().join("lookup.png").display().to_string()];
    let page =
        tokio::task::spawn_blocking(move || chromium("page.mjs", &args).map_err(|e| e.to_string())).await??;

    assert_eq!(page["status"], 200);
    let text = page["text"].as_str().unwrap_or_default();
    assert!(
        text.contains(&format!("Why {waiting} waits for review")) && text.contains("not on the allowlist"),
        "{text}"
    );
    assert!(text.contains("review requested from netops@example.com"), "who was asked: {text}");
    assert!(!text.contains(&accepted), "another account's endpoint is on the page: {text}");
    let rows = page["tables"]["endpoints"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(rows, 3, "header and the two endpoints of this account: {page}");
    let approved_row = page["tables"]["endpoints"].to_string();
    assert!(
        approved_row.contains(&approved) && approved_row.contains(".vpce.amazonaws.com"),
        "{approved_row}"
    );
    assert!(approved_row.contains("approved by email:netops@example.com after review"), "{approved_row}");
    let services = page["tables"]["services"].to_string();
    assert!(services.contains(&s.service.name), "{services}");
    assert!(std::fs::metadata(shots().join("lookup.png"))?.len() > 1000);
    Ok(())
}
