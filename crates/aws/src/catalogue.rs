//! The provider's endpoint services as consumers see them: the catalogue
//! lookup shows, read from EC2.

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use gate_app::PortError;
use gate_app::ports::{Catalogue, ServiceInfo};
use gate_core::ServiceId;

use crate::OnFirstUse;
use crate::error::port_error;

#[derive(Debug, Clone)]
pub struct Ec2Catalogue {
    client: OnFirstUse<Client>,
}

impl Ec2Catalogue {
    pub fn new(client: impl Into<OnFirstUse<Client>>) -> Self {
        Self { client: client.into() }
    }
}

#[async_trait]
impl Catalogue for Ec2Catalogue {
    async fn services(&self, ids: &[ServiceId]) -> Result<Vec<ServiceInfo>, PortError> {
        let mut pages = self
            .client
            .get()
            .describe_vpc_endpoint_service_configurations()
            .set_service_ids((!ids.is_empty()).then(|| ids.iter().map(ToString::to_string).collect()))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("DescribeVpcEndpointServiceConfigurations failed", e))?;
            for c in page.service_configurations() {
                let Ok(id) = c.service_id().unwrap_or_default().parse() else { continue };
                out.push(ServiceInfo {
                    id,
                    name: c.service_name().unwrap_or_default().to_owned(),
                    kind: c
                        .service_type()
                        .first()
                        .and_then(|t| t.service_type())
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_default(),
                    acceptance_required: c.acceptance_required().unwrap_or(true),
                    state: c.service_state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                });
            }
        }
        Ok(out)
    }
}
