//! Writing a command's output. `println!` panics when standard output
//! fails, and it fails whenever the reader goes away (`… | head`): here a
//! write error is a [`Failure`] instead, and a reader gone ends the command
//! quietly with [`READER_GONE`].

use std::io::{ErrorKind, Write};

use crate::failure::Failure;
use crate::terminal;

/// The exit code of a command whose reader went away, the one a shell
/// gives a process that SIGPIPE ended (128 + 13): not 0, since the command
/// stopped short (`apply` writes nothing once its plan cannot be shown).
pub const READER_GONE: u8 = 141;

/// Writes `text` and a newline, shown ([`terminal::shown`]) and flushed.
pub fn line(text: &str) -> Result<(), Failure> {
    let mut shown = terminal::shown(text).into_owned();
    shown.push('\n');
    bytes(shown.as_bytes())
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
