//! Whom the functions' SDK clients trust: the five roots of Amazon Trust
//! Services, the CA of AWS's service endpoints.
//!
//! The OS's store is the SDK's default, and building it costs a cold start
//! about 5 ms of CPU here (README, "Where the CPU goes"): every certificate
//! of the bundle, and of each certificate directory, is read and parsed,
//! three times over on a layout like provided.al2023's (the bundle, then
//! `/etc/ssl/certs` and `/etc/pki/tls/certs`, which hold the bundle again).
//! Five roots cost nothing, and no other CA can vouch for an AWS endpoint.
//!
//! - Roots: "Amazon Root CA 1" to "4" and "Starfield Services Root
//!   Certificate Authority - G2", the five that Amazon Trust Services asks a
//!   custom trust store to hold (<https://www.amazontrust.com/repository/>,
//!   "Trust store and pinning recommendations"; their SHA-256 subject key
//!   hashes there match these certificates'). The sovereign cloud's "EU"
//!   roots are cross-signed by roots 1, 3 and 4.
//! - AWS moved its service endpoints to these roots; EC2 and DynamoDB
//!   first, S3 last, in June 2022 (AWS Storage Blog, "Amazon S3 and Amazon
//!   CloudFront service certificates migrating to Amazon Trust Services").
//! - The China regions are a separate partition, run by local operators;
//!   their endpoints keep the OS's store, as do isolated partitions.
//! - `SSL_CERT_FILE` or `SSL_CERT_DIR` on a function (a proxy that
//!   re-signs TLS, a private CA) means the OS's store, read from there.

use aws_smithy_http_client::tls::{TlsContext, TrustStore};

/// The roots, PEM, as Amazon Trust Services publishes them.
const AMAZON_TRUST_SERVICES: &str = include_str!("amazon-trust-services.pem");

/// Where a function's trusted roots come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roots {
    AmazonTrustServices,
    /// The OS's store, or the one `SSL_CERT_FILE`/`SSL_CERT_DIR` name.
    System,
}

impl Roots {
    /// The roots for a function with this environment.
    pub fn for_env(var: impl Fn(&str) -> Option<String>) -> Self {
        let named = |name| var(name).is_some_and(|v| !v.is_empty());
        if named("SSL_CERT_FILE") || named("SSL_CERT_DIR") {
            return Self::System;
        }
        match var("AWS_REGION") {
            Some(region) if region.starts_with("cn-") || region.contains("-iso") => Self::System,
            _ => Self::AmazonTrustServices,
        }
    }

    pub fn tls_context(self) -> TlsContext {
        let store = match self {
            Self::AmazonTrustServices => {
                TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_TRUST_SERVICES)
            }
            Self::System => TrustStore::default(),
        };
        // `build` only moves its fields; were it ever to fail, the SDK's
        // default (the OS's store) would still verify every endpoint.
        TlsContext::builder().with_trust_store(store).build().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use base64::Engine;
    use sha2::{Digest, Sha256};

    use super::*;

    fn roots(vars: &[(&str, &str)]) -> Roots {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Roots::for_env(|name| vars.get(name).cloned())
    }

    /// SHA-256 of each certificate (DER), in file order.
    fn fingerprints(pem: &str) -> Vec<String> {
        pem.split("-----BEGIN CERTIFICATE-----")
            .skip(1)
            .map(|block| {
                let body = block.split("-----END CERTIFICATE-----").next().unwrap_or_default();
                let b64: String = body.split_whitespace().collect();
                let der = base64::engine::general_purpose::STANDARD.decode(b64).expect("base64");
                Sha256::digest(der).iter().map(|b| format!("{b:02x}")).collect()
            })
            .collect()
    }

    #[test]
    fn the_trusted_roots_are_the_five_of_amazon_trust_services() {
        assert_eq!(
            fingerprints(AMAZON_TRUST_SERVICES),
            [
                "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e", // Amazon Root CA 1
                "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4", // Amazon Root CA 2
                "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4", // Amazon Root CA 3
                "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092", // Amazon Root CA 4
                "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5", // Starfield Services G2
            ]
        );
    }

    #[test]
    fn aws_regions_trust_amazon_alone_and_an_operator_can_name_a_store() {
        assert_eq!(roots(&[("AWS_REGION", "us-east-1")]), Roots::AmazonTrustServices);
        assert_eq!(roots(&[("AWS_REGION", "us-gov-west-1")]), Roots::AmazonTrustServices);
        assert_eq!(roots(&[]), Roots::AmazonTrustServices);
        // Another partition's endpoints: the OS's store.
        assert_eq!(roots(&[("AWS_REGION", "cn-north-1")]), Roots::System);
        assert_eq!(roots(&[("AWS_REGION", "us-iso-east-1")]), Roots::System);
        // An operator's bundle (a re-signing proxy) wins everywhere.
        let bundle = ("SSL_CERT_FILE", "/opt/proxy-ca.pem");
        assert_eq!(roots(&[("AWS_REGION", "us-east-1"), bundle]), Roots::System);
        assert_eq!(roots(&[("SSL_CERT_DIR", "/opt/certs")]), Roots::System);
        // Set but empty names nothing.
        assert_eq!(roots(&[("SSL_CERT_FILE", "")]), Roots::AmazonTrustServices);
    }
}
