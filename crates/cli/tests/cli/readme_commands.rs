//! The README's commands are ones the tools accept: every `endpoint-gate`
//! line in its code blocks parses with the binary's own grammar, and every
//! `make` target it names exists. A renamed flag or target fails here
//! instead of in a newcomer's terminal.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use clap::Parser;
use gate_cli::args::Cli;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).expect("README.md")
}

/// Commands in the code blocks: every line of a ```sh block, and the
/// `$ `-prompted lines of terminal transcripts (not their output).
fn code_lines(text: &str) -> Vec<String> {
    let mut block: Option<bool> = None; // Some(is_sh) inside a block
    let mut out = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(lang) = trimmed.strip_prefix("```") {
            block = if block.is_some() { None } else { Some(lang == "sh") };
        } else if block == Some(true) || (block.is_some() && trimmed.starts_with("$ ")) {
            out.push(trimmed.to_owned());
        }
    }
    out
}

/// A documented command line as words: prompt, comments, optional-brackets,
/// ellipses and redirections removed, placeholders filled with valid ids.
fn words(line: &str) -> Vec<String> {
    let line = line.strip_prefix("$ ").unwrap_or(line);
    let line = line.split("  #").next().unwrap_or(line);
    let line = line.split(" > ").next().unwrap_or(line);
    let line = line
        .replace(['[', ']'], "")
        .replace("vpce-svc-…", "vpce-svc-0a1b2c3d4e5f60718")
        .replace("vpce-…", "vpce-0f1e2d3c4b5a69788")
        .replace(" …", "");
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

#[test]
fn every_cli_command_in_the_readme_parses() {
    let lines: Vec<String> = code_lines(&readme())
        .into_iter()
        .filter(|l| l.starts_with("endpoint-gate ") || l.starts_with("$ endpoint-gate "))
        .collect();
    assert!(lines.len() >= 15, "only {} endpoint-gate lines found", lines.len());
    let mut failures = Vec::new();
    for line in &lines {
        if let Err(e) = Cli::try_parse_from(words(line)) {
            failures.push(format!("{line}\n  {}", e.to_string().lines().next().unwrap_or_default()));
        }
    }
    assert!(failures.is_empty(), "README commands the CLI refuses:\n{}", failures.join("\n"));
}

#[test]
fn every_make_target_in_the_readme_exists() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let makefiles: String = ["Makefile", "tools.mk", "infra.mk"]
        .iter()
        .map(|f| std::fs::read_to_string(format!("{root}/{f}")).expect("makefile"))
        .collect();
    let targets: Vec<String> = code_lines(&readme())
        .iter()
        .filter_map(|l| l.strip_prefix("make "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(targets.len() >= 4, "{targets:?}");
    for target in targets {
        let defined = makefiles.lines().any(|l| l.starts_with(&format!("{target}:")));
        assert!(defined, "the README runs `make {target}`, which no makefile defines");
    }
}

#[test]
fn a_wrong_command_is_caught() {
    // The check itself can fail: a flag that does not exist is refused.
    assert!(Cli::try_parse_from(words("endpoint-gate endpoints --acount 210000000001")).is_err());
    assert!(Cli::try_parse_from(words("endpoint-gate plan examples/policy.yaml [--prune]")).is_ok());
}
