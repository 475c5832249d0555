//! The managed services' list in the single table: one consistent read
//! per invocation, one unconditional write per `apply`.

use async_trait::async_trait;
use gate_app::PortError;
use gate_app::services::ManagedServices;
use gate_core::ServiceId;

use crate::dynamo::DynamoStore;
use crate::error::port_error;
use crate::items::services::{ManagedServicesItem, managed_services_key};
use crate::items::{decode, encode};

#[async_trait]
impl ManagedServices for DynamoStore {
    async fn managed(&self) -> Result<Vec<ServiceId>, PortError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(managed_services_key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error("reading the managed services failed", e))?;
        Ok(out.item.map(decode::<ManagedServicesItem>).transpose()?.unwrap_or_default())
    }

    /// Unconditional: the list is the file's, and the last apply wins.
    async fn set_managed(&self, services: &[ServiceId]) -> Result<(), PortError> {
        let item = encode::<ManagedServicesItem>(&services.to_vec(), managed_services_key())?;
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| port_error("writing the managed services failed", e))?;
        Ok(())
    }
}
