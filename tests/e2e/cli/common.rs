//! What the binary's tests share: running `endpoint-gate` on a table.

use std::process::{Command, Stdio};

/// Runs the binary on `table`: (exit code, stdout, stderr).
pub fn cli(table: &str, args: &[&str]) -> (i32, String, String) {
    cli_as(table, args, &[])
}

/// Runs the binary on `table` with these environment variables added.
pub fn cli_as(table: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(gate_e2e::workspace_binary("endpoint-gate"))
        .args(["--table", table])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("endpoint-gate does not run: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A pipe whose reader is gone, as `| head` leaves it once it has its lines.
fn reader_gone() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap_or_else(|e| panic!("no pipe: {e}"));
    drop(reader);
    writer
}

/// Runs the binary on `table` with its standard output going nowhere:
/// (exit code, stderr).
pub fn cli_reader_gone(table: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(gate_e2e::workspace_binary("endpoint-gate"))
        .args(["--table", table])
        .args(args)
        .stdout(reader_gone())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("endpoint-gate does not run: {e}"));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into())
}

/// Runs the binary on `table` with its standard error going nowhere: the
/// exit code.
pub fn cli_stderr_gone(table: &str, args: &[&str]) -> i32 {
    let status = Command::new(gate_e2e::workspace_binary("endpoint-gate"))
        .args(["--table", table])
        .args(args)
        .stdout(Stdio::null())
        .stderr(reader_gone())
        .status()
        .unwrap_or_else(|e| panic!("endpoint-gate does not run: {e}"));
    status.code().unwrap_or(-1)
}
