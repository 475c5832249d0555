//! Writing a command's output. `println!` and `eprintln!` panic when their
//! stream fails, and it fails whenever the reader goes away (`… | head`):
//! here a failed write of the output is a [`Failure`], a reader gone ends
//! the command quietly with [`READER_GONE`], and notes to the person at the
//! terminal are best effort.

use std::io::{ErrorKind, Write};

use crate::failure::Failure;
use crate::terminal;

/// The exit code of a command whose reader went away before it changed
/// anything, the one a shell gives a process that SIGPIPE ended (128 + 13):
/// not 0, since the command stopped short (`apply` writes nothing once its
/// plan cannot be shown). A command that has changed something keeps its
/// own code ([`unread`]).
pub const READER_GONE: u8 = 141;

/// Writes `text` and a newline, shown ([`terminal::shown`]) and flushed.
pub fn line(text: &str) -> Result<(), Failure> {
    let mut shown = terminal::shown(text).into_owned();
    shown.push('\n');
    bytes(shown.as_bytes())
}

/// The result of a command that has already changed something, written or
/// not: with its reader gone, the change is what its exit code must tell.
pub fn unread(written: Result<(), Failure>) -> Result<(), Failure> {
    match written {
        Err(f) if f.code == READER_GONE => Ok(()),
        other => other,
    }
}

/// A note to the person at the terminal (progress, a hint, the error that
/// ended the command), shown; lost, not a panic, when standard error is
/// closed.
pub fn note(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", terminal::shown(text));
}

/// Writes `text` as it is given, flushed: what is already shown, or a shell
/// script.
pub fn bytes(text: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text).and_then(|()| out.flush()).map_err(|e| match e.kind() {
        ErrorKind::BrokenPipe => Failure { code: READER_GONE, message: String::new() },
        _ => Failure { code: 1, message: format!("writing the output failed: {e}") },
    })
}
