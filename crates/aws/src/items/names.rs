//! The stored names of core's enums, written out so that renaming a
//! variant in core does not rename what is in the table, and a new variant
//! does not compile until it has a stored name.

use gate_app::ports::AuditKind;
use gate_core::{
    DeclaredCidrs, Effect, Mode, OnExpiry, Outcome, OverlapMode, RequestState, Revoke, Rule, UnknownCidr,
    Unlisted, Would,
};

use super::BadAttribute;

pub(crate) trait Named: Sized + Copy {
    fn name(self) -> &'static str;
    fn from_name(name: &str) -> Option<Self>;
}

/// The value of an enum attribute, or an error naming the attribute and
/// what it held.
pub(crate) fn named<T: Named>(attribute: &'static str, name: &str) -> Result<T, BadAttribute> {
    T::from_name(name).ok_or_else(|| BadAttribute {
        attribute: attribute.to_owned(),
        why: format!("{:?} is not one of its stored names", name.chars().take(80).collect::<String>()),
    })
}

pub(crate) fn named_opt<T: Named>(
    attribute: &'static str,
    name: Option<&str>,
) -> Result<Option<T>, BadAttribute> {
    name.map(|n| named(attribute, n)).transpose()
}

macro_rules! names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl Named for $ty {
            fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                }
            }
            fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

names!(Unlisted { Review => "review", Reject => "reject" });
names!(OverlapMode { Ignore => "ignore", Review => "review", Reject => "reject" });
names!(UnknownCidr { Allow => "allow", Review => "review", Reject => "reject" });
names!(DeclaredCidrs { Verify => "verify", Trust => "trust" });
names!(OnExpiry { Reject => "reject", KeepPending => "keep_pending" });
names!(Revoke { Keep => "keep", Reject => "reject" });
names!(Mode { Enforce => "enforce", Shadow => "shadow" });
names!(Would { Accept => "accept", Reject => "reject", Review => "review", Revoke => "revoke" });
names!(Effect { Allow => "allow", Deny => "deny" });
names!(Outcome { Accept => "accept", Review => "review", Reject => "reject" });
names!(RequestState {
    Accepted => "accepted",
    Rejected => "rejected",
    Review => "review",
    Approved => "approved",
    Denied => "denied",
    Expired => "expired",
    Revoked => "revoked",
});
names!(Rule {
    Denied => "denied",
    Allowlisted => "allowlisted",
    Unlisted => "unlisted",
    EntryExpired => "entry_expired",
    NoPolicy => "no_policy",
    CidrsDiscovered => "cidrs_discovered",
    CidrsDeclared => "cidrs_declared",
    CidrsUndeclared => "cidrs_undeclared",
    CidrsUnknown => "cidrs_unknown",
    ProtectedOverlap => "protected_overlap",
    ConsumerOverlap => "consumer_overlap",
    OrgUnreadable => "org_unreadable",
    RegionUnlisted => "region_unlisted",
    Revoked => "revoked",
});
names!(AuditKind {
    Decided => "decided",
    Accepted => "accepted",
    Rejected => "rejected",
    ActionRefused => "action_refused",
    Notified => "notified",
    BadInput => "bad_input",
    ConsumerNotified => "consumer_notified",
    NoticeFailed => "notice_failed",
    Revoked => "revoked",
    ShadowDecided => "shadow_decided",
});

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant has its own stored name and reads back from it. (The
    /// names were checked against what core's serde derives wrote when the
    /// adapter took them over; the golden items hold that format.)
    #[test]
    fn every_variant_reads_back_from_its_stored_name() {
        fn check<T: Named + PartialEq + std::fmt::Debug>(all: &[T]) {
            for v in all {
                assert_eq!(T::from_name(v.name()), Some(*v), "{v:?}");
            }
        }
        check(&[Unlisted::Review, Unlisted::Reject]);
        check(&[OverlapMode::Ignore, OverlapMode::Review, OverlapMode::Reject]);
        check(&[UnknownCidr::Allow, UnknownCidr::Review, UnknownCidr::Reject]);
        check(&[DeclaredCidrs::Verify, DeclaredCidrs::Trust]);
        check(&[OnExpiry::Reject, OnExpiry::KeepPending]);
        check(&[Revoke::Keep, Revoke::Reject]);
        check(&[Mode::Enforce, Mode::Shadow]);
        check(&[Would::Accept, Would::Reject, Would::Review, Would::Revoke]);
        check(&[Effect::Allow, Effect::Deny]);
        check(&[Outcome::Accept, Outcome::Review, Outcome::Reject]);
        use RequestState as S;
        check(&[S::Accepted, S::Rejected, S::Review, S::Approved, S::Denied, S::Expired, S::Revoked]);
        use Rule as R;
        check(&[
            R::Denied,
            R::Allowlisted,
            R::Unlisted,
            R::EntryExpired,
            R::NoPolicy,
            R::CidrsDiscovered,
            R::CidrsDeclared,
            R::CidrsUndeclared,
            R::CidrsUnknown,
            R::ProtectedOverlap,
            R::ConsumerOverlap,
            R::OrgUnreadable,
            R::RegionUnlisted,
            R::Revoked,
        ]);
        use AuditKind as K;
        check(&[
            K::Decided,
            K::Accepted,
            K::Rejected,
            K::ActionRefused,
            K::Notified,
            K::BadInput,
            K::ConsumerNotified,
            K::NoticeFailed,
            K::Revoked,
            K::ShadowDecided,
        ]);
    }

    #[test]
    fn an_unknown_name_is_an_error_naming_attribute_and_value() {
        let err = named::<RequestState>("state", "Accepted").expect_err("case matters");
        assert_eq!(err.to_string(), "attribute state: \"Accepted\" is not one of its stored names");
    }
}
