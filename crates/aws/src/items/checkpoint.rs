//! A sweep's cursor: where a sweep that ran out of time got to.

use gate_core::Timestamp;
use serde::{Deserialize, Serialize};

use super::{BadAttribute, Item, Stored, key, parse};

pub(crate) fn checkpoint_key(sweep: &str) -> Item {
    key(format!("SWEEP#{sweep}"), "CURSOR")
}

/// What a cursor item holds; the domain value is the cursor itself.
pub(crate) struct Checkpoint {
    pub cursor: String,
    pub saved_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct CheckpointItem {
    cursor: String,
    saved_at: String,
}

impl Stored for CheckpointItem {
    type Domain = Checkpoint;

    fn from_domain(c: &Checkpoint) -> Self {
        Self { cursor: c.cursor.clone(), saved_at: c.saved_at.to_string() }
    }

    fn into_domain(self) -> Result<Checkpoint, BadAttribute> {
        Ok(Checkpoint { cursor: self.cursor, saved_at: parse("saved_at", &self.saved_at)? })
    }
}
