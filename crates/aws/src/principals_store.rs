//! What apply set as each service's allowed principals, in the single table.

use async_trait::async_trait;
use gate_app::PortError;
use gate_app::ports::{AppliedPrincipals, PrincipalsRecord};

use crate::dynamo::DynamoStore;
use crate::error::port_error;
use crate::items::principals::{APPLIED_PRINCIPALS, AppliedItem, principals_item_keys};
use crate::items::{decode, encode};
use crate::table::GSI1;

#[async_trait]
impl PrincipalsRecord for DynamoStore {
    async fn applied(&self) -> Result<Vec<AppliedPrincipals>, PortError> {
        let items = self.query(Some(GSI1), APPLIED_PRINCIPALS.to_owned(), None).await?;
        items.into_iter().map(decode::<AppliedItem>).collect()
    }

    /// Unconditional: the last apply's list is the one that counts.
    async fn record_applied(&self, applied: &AppliedPrincipals) -> Result<(), PortError> {
        let item = encode::<AppliedItem>(applied, principals_item_keys(&applied.service))?;
        self.client().put_item().table_name(self.table()).set_item(Some(item)).send().await.map_err(|e| {
            port_error(format!("recording the allowed principals of {} failed", applied.service), e)
        })?;
        Ok(())
    }
}
