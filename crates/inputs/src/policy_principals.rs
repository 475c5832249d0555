//! `principals:` in a service's policy: who may create an endpoint to the
//! service at all. `allowlist`, `"*"`, or a list of IAM principal ARNs, as
//! `ModifyVpcEndpointServicePermissions` takes them.

use gate_core::principals::PrincipalsSpec;
use serde::Deserialize;

/// The value as written.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum PrincipalsDoc {
    Word(String),
    List(Vec<String>),
}

/// More principals than this in one list is refused: a list that long is
/// what `allowlist` is for.
const MAX_LISTED: usize = 1000;

/// The policy's allowed principals, or why they are refused (naming the value).
pub(crate) fn principals(doc: PrincipalsDoc) -> Result<PrincipalsSpec, String> {
    match doc {
        PrincipalsDoc::Word(w) if w == "allowlist" => Ok(PrincipalsSpec::Allowlist),
        PrincipalsDoc::Word(w) if w == "*" => Ok(PrincipalsSpec::Everyone),
        PrincipalsDoc::Word(w) => Err(format!(
            "principals {:?}: use allowlist, \"*\" or a list of principal ARNs",
            w.chars().take(60).collect::<String>()
        )),
        PrincipalsDoc::List(list) => {
            if list.len() > MAX_LISTED {
                return Err(format!(
                    "principals: {} listed, at most {MAX_LISTED}; use allowlist",
                    list.len()
                ));
            }
            for (i, arn) in list.iter().enumerate() {
                if !is_principal_arn(arn) {
                    return Err(format!(
                        "principals[{i}] {:?} is not an IAM principal ARN \
                         (arn:aws:iam::<account>:root, :role/… or :user/…)",
                        arn.chars().take(80).collect::<String>()
                    ));
                }
                if list[..i].contains(arn) {
                    return Err(format!("principals[{i}] {arn:?} is listed twice"));
                }
            }
            Ok(PrincipalsSpec::Listed(list))
        }
    }
}

/// `arn:<partition>:iam::<12 digits>:root`, `:role/<path/name>` or `:user/<path/name>`.
fn is_principal_arn(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let name_ok = |name: &str| {
        !name.is_empty()
            && name.len() <= 512
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
    };
    partition.starts_with("aws")
        && partition.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (resource == "root"
            || resource.strip_prefix("role/").is_some_and(name_ok)
            || resource.strip_prefix("user/").is_some_and(name_ok))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(items: &[&str]) -> PrincipalsDoc {
        PrincipalsDoc::List(items.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn words_and_lists_are_read_and_anything_else_is_refused_by_name() {
        assert_eq!(principals(PrincipalsDoc::Word("allowlist".into())), Ok(PrincipalsSpec::Allowlist));
        assert_eq!(principals(PrincipalsDoc::Word("*".into())), Ok(PrincipalsSpec::Everyone));
        let arns = ["arn:aws:iam::111122223333:root", "arn:aws-us-gov:iam::111122223333:role/team/app"];
        assert!(matches!(principals(list(&arns)), Ok(PrincipalsSpec::Listed(l)) if l.len() == 2));
        assert_eq!(principals(list(&[])), Ok(PrincipalsSpec::Listed(vec![])), "nobody: a locked service");
        let refused = [
            (PrincipalsDoc::Word("everyone".into()), "\"everyone\""),
            (list(&["*"]), "principals[0] \"*\""),
            (list(&["111122223333"]), "principals[0] \"111122223333\""),
            (list(&["arn:aws:iam::1111:root"]), "1111"),
            (list(&["arn:aws:iam::111122223333:group/admins"]), "group/admins"),
            (list(&["arn:aws:iam::111122223333:role/"]), "role/"),
            (list(&["arn:aws:sts::111122223333:assumed-role/R/s"]), "assumed-role"),
            (list(&["arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:root"]), "listed twice"),
            (list(&["arn:aws:iam::111122223333:role/a b"]), "role/a b"),
        ];
        for (doc, named) in refused {
            let e = principals(doc).expect_err(named);
            assert!(e.contains(named), "{e}");
        }
        let many: Vec<String> = (0..1001).map(|i| format!("arn:aws:iam::{i:012}:root")).collect();
        assert!(principals(PrincipalsDoc::List(many)).expect_err("too many").contains("at most 1000"));
    }

    proptest! {
        #[test]
        fn never_panics(items in prop::collection::vec("\\PC{0,80}", 0..5), word in "\\PC{0,40}") {
            let _ = principals(PrincipalsDoc::List(items));
            let _ = principals(PrincipalsDoc::Word(word));
        }
    }
}
