//! Sweep cursors in the single table, one item per sweep.

use async_trait::async_trait;
use gate_app::PortError;
use gate_app::ports::Checkpoints;
use gate_core::Timestamp;

use crate::dynamo::DynamoStore;
use crate::error::port_error;
use crate::items::checkpoint::{Checkpoint, CheckpointItem, checkpoint_key};
use crate::items::{decode, encode};

#[async_trait]
impl Checkpoints for DynamoStore {
    async fn load(&self, sweep: &str) -> Result<Option<String>, PortError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(checkpoint_key(sweep)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(format!("reading the {sweep} sweep's cursor failed"), e))?;
        Ok(out.item.map(decode::<CheckpointItem>).transpose()?.map(|c| c.cursor))
    }

    /// Unconditional: sweeps of one function follow one another (one
    /// schedule), and if two ever overlap, the later cursor is as good as
    /// the earlier one, since decisions are claimed.
    async fn save(&self, sweep: &str, cursor: Option<&str>, at: Timestamp) -> Result<(), PortError> {
        let what = format!("saving the {sweep} sweep's cursor failed");
        match cursor {
            Some(cursor) => {
                let item = encode::<CheckpointItem>(
                    &Checkpoint { cursor: cursor.to_owned(), saved_at: at },
                    checkpoint_key(sweep),
                )?;
                self.client()
                    .put_item()
                    .table_name(self.table())
                    .set_item(Some(item))
                    .send()
                    .await
                    .map_err(|e| port_error(what, e))?;
            }
            None => {
                self.client()
                    .delete_item()
                    .table_name(self.table())
                    .set_key(Some(checkpoint_key(sweep)))
                    .send()
                    .await
                    .map_err(|e| port_error(what, e))?;
            }
        }
        Ok(())
    }
}
