//! Who is asking the lookup API. The account comes from the request's IAM
//! signature (the Function URL's authorizer context), never from a
//! parameter; operators are configured principals who may see everything.

use crate::id::AccountId;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: AccountId,
    pub arn: String,
    /// Sees every account's endpoints and requests.
    pub operator: bool,
}

impl Caller {
    /// Builds the caller from the signed context. `operators` are IAM role
    /// or user ARNs (`arn:aws:iam::<acct>:role/<name>`); a session of such a
    /// role (`arn:aws:sts::<acct>:assumed-role/<name>/<session>`) matches it.
    pub fn from_signed(account: &str, arn: &str, operators: &[String]) -> Result<Self, String> {
        let account: AccountId =
            account.parse().map_err(|_| "the request is not signed by an AWS account".to_owned())?;
        if arn.len() > 2048 || arn.chars().any(char::is_control) {
            return Err("the caller's ARN is malformed".into());
        }
        let operator = operators.iter().any(|op| same_principal(op, arn));
        Ok(Self { account, arn: arn.to_owned(), operator })
    }
}

/// Whether `arn` is the principal `configured`, directly or as a role session.
fn same_principal(configured: &str, arn: &str) -> bool {
    if configured == arn {
        return true;
    }
    // arn:aws:iam::123456789012:role/path/Name ↔ arn:aws:sts::123456789012:assumed-role/Name/session
    let Some((prefix, role)) = configured.split_once(":role/") else { return false };
    let Some(partition) = prefix.strip_prefix("arn:").and_then(|p| p.split(':').next()) else {
        return false;
    };
    let Some(account) = prefix.rsplit(':').next() else { return false };
    let name = role.rsplit('/').next().unwrap_or(role);
    let session_prefix = format!("arn:{partition}:sts::{account}:assumed-role/{name}/");
    arn.strip_prefix(&session_prefix).is_some_and(|session| !session.is_empty() && !session.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPS: &str = "arn:aws:iam::123456789012:role/NetOps";

    #[test]
    fn role_sessions_of_an_operator_role_are_operators() {
        let ops = vec![OPS.to_owned()];
        let c =
            Caller::from_signed("123456789012", "arn:aws:sts::123456789012:assumed-role/NetOps/alice", &ops)
                .expect("valid");
        assert!(c.operator);
        let path = vec!["arn:aws:iam::123456789012:role/teams/NetOps".to_owned()];
        assert!(
            Caller::from_signed("123456789012", "arn:aws:sts::123456789012:assumed-role/NetOps/bob", &path)
                .expect("valid")
                .operator
        );
    }

    #[test]
    fn look_alikes_are_not_operators() {
        let ops = vec![OPS.to_owned()];
        for arn in [
            "arn:aws:sts::123456789012:assumed-role/NetOpsX/alice",
            "arn:aws:sts::210000000001:assumed-role/NetOps/alice",
            "arn:aws:sts::123456789012:assumed-role/NetOps/",
            "arn:aws:sts::123456789012:assumed-role/NetOps/a/b",
            "arn:aws:iam::123456789012:role/NetOpsX",
            "arn:aws:iam::123456789012:user/NetOps",
            "",
        ] {
            let c = Caller::from_signed("210000000001", arn, &ops).expect("valid");
            assert!(!c.operator, "{arn}");
        }
    }

    #[test]
    fn unsigned_or_malformed_contexts_are_refused() {
        for (account, arn) in [("", "x"), ("12345", "x"), ("anonymous", "x"), ("210000000001", "a\nb")] {
            assert!(Caller::from_signed(account, arn, &[]).is_err(), "{account:?} {arn:?}");
        }
    }
}
