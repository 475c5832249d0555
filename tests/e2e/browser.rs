//! The pages in a real browser: Debian's headless Chromium, driven by
//! playwright-core. An approver opens the link from the review email through
//! the Function URL, sees the request's details, types a reason and presses
//! Approve; a consumer opens the lookup page through a link signed with its
//! own credentials and finds their DNS names, why a request waits and what
//! it may connect to, while expired and tampered links are refused.
//! Screenshots are kept in `target/artefacts/browser/`.

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

    // The consumer of `waiting` (account ...03) mints a link with its own
    // credentials, as `endpoint-gate open` does, and opens it.
    let wiring = gate_aws::wiring::Wiring::new(&s.local.sdk, s.store.table());
    let lookup = std::sync::Arc::new(gate_lambdas::lookup::LookupFn {
        lookup: wiring.lookup(vec![s.service.id.parse()?], None),
        operators: vec![],
    });
    let handler: gate_e2e::function_url::Handler = std::sync::Arc::new(move |event| {
        let lookup = lookup.clone();
        Box::pin(async move { lookup.handle(event).await })
    });
    let dana = "arn:aws:sts::260000000003:assumed-role/Developer/dana".to_owned();
    let keys = std::collections::HashMap::from([(
        "AKIA260000000003".to_owned(),
        ("dana-secret".to_owned(), "260000000003".to_owned(), dana),
    )]);
    let url = gate_e2e::function_url::FunctionUrl::serve_iam(handler, "us-east-1", keys).await?;
    let as_dana = s
        .local
        .sdk
        .to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new("AKIA260000000003", "dana-secret", None, None, "test"),
        ))
        .build();
    let api = gate_cli::remote::LookupApi::new(&as_dana, &url.url).map_err(|e| e.message)?;
    let minutes = std::time::Duration::from_secs(900);
    let open = |url: String, shot: &str| {
        let args = [url, shots().join(shot).display().to_string()];
        tokio::task::spawn_blocking(move || chromium("page.mjs", &args).map_err(|e| e.to_string()))
    };

    let link = api.presign("/", &[], minutes).await.map_err(|e| e.message)?;
    let page = open(link.url.clone(), "lookup.png").await??;
    assert_eq!(page["status"], 200);
    let text = page["text"].as_str().unwrap_or_default();
    assert!(
        text.contains(&format!("Why {waiting} waits for review")) && text.contains("not on the allowlist"),
        "{text}"
    );
    assert!(text.contains("review requested from netops@example.com"), "who was asked: {text}");
    assert!(text.contains("Review runs until"), "until when: {text}");
    assert!(text.contains("This link works until"), "{text}");
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
    assert!(
        services.contains(&s.service.name) && services.contains("reviewed by the provider's approvers"),
        "the catalogue says what this account meets: {services}"
    );
    assert!(std::fs::metadata(shots().join("lookup.png"))?.len() > 1000);

    // Another account's endpoint, through a link signed for it: nothing of it.
    let theirs = api.presign(&format!("/endpoints/{accepted}"), &[], minutes).await.map_err(|e| e.message)?;
    let page = open(theirs.url, "lookup-other.png").await??;
    assert_eq!(page["status"], 404, "{page}");
    let text = page["text"].as_str().unwrap_or_default();
    assert!(!text.contains("260000000002") && !text.contains(".vpce.amazonaws.com"), "{text}");

    // An expired link and a tampered one are refused before lookup runs.
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let old = api.presign_at("/", &[], minutes, an_hour_ago).await.map_err(|e| e.message)?;
    let tampered = link.url.replace("/?", &format!("/endpoints/{accepted}?"));
    for (url, shot) in [(old.url, "lookup-expired.png"), (tampered, "lookup-tampered.png")] {
        let page = open(url, shot).await??;
        assert_eq!(page["status"], 403, "{shot}: {page}");
        let text = page["text"].as_str().unwrap_or_default();
        assert!(!text.contains(&waiting) && !text.contains("260000000002"), "{text}");
    }
    Ok(())
}
