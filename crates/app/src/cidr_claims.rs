//! The claim guard of a service whose consumer CIDRs must be unique.
//!
//! decide judges a connection against the CIDRs of the service's accepted
//! consumers, which it reads from an index. Two runs at once would each
//! judge against what was there before either claimed, and an index is
//! read eventually consistently: "All reads from GSIs and streams are
//! eventually consistent" (Amazon DynamoDB Developer Guide, "DynamoDB read
//! consistency"); AWS's knowledge center puts the usual lag under a second.
//! So each accept of such a service also moves the service's guard, in the
//! transaction that claims the decision: of two runs that judged against
//! one version, one claims and the other learns it came second. The guard
//! also keeps the CIDRs of its latest accepts, read consistently, for the
//! time the index may not show them yet.

use gate_core::{AccountId, Cidr, EndpointId, Timestamp};

/// One service's guard: the version each accept moves on, and the accepts
/// recent enough that the index may not show them yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrClaims {
    pub version: u64,
    pub recent: Vec<ClaimedCidrs>,
}

/// The CIDRs one accept claimed, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedCidrs {
    pub endpoint: EndpointId,
    pub owner: AccountId,
    pub cidrs: Vec<Cidr>,
    pub at: Timestamp,
}

impl ClaimedCidrs {
    /// Whether the guard still holds this claim at `now`: within
    /// [`CidrClaims::KEPT_SECS`] of it.
    fn kept_at(&self, now: Timestamp) -> bool {
        self.at.unix() >= now.unix() - CidrClaims::KEPT_SECS
    }
}

/// How a guarded claim went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardedClaim {
    /// The decision and the guard's next version are stored.
    Claimed,
    /// Another run decided this connection first.
    AlreadyDecided,
    /// Another accept of the service moved the guard since it was read:
    /// the judgment may have missed its CIDRs. Nothing was stored.
    GuardMoved,
}

impl CidrClaims {
    /// How long an accept is kept beside the index: far beyond its usual
    /// lag.
    pub const KEPT_SECS: i64 = 600;
    /// The most accepts kept, however busy the service: a DynamoDB item
    /// holds at most 400 KB, and a guard too large to write would stop
    /// every accept of its service.
    pub const KEPT_MOST: usize = 1000;

    /// The guard after `claim`: one version on, the claim added, and
    /// claims older than [`Self::KEPT_SECS`] before it, or beyond the
    /// newest [`Self::KEPT_MOST`], dropped.
    pub fn after(&self, claim: ClaimedCidrs) -> CidrClaims {
        let mut recent: Vec<ClaimedCidrs> =
            self.recent.iter().filter(|c| c.kept_at(claim.at)).cloned().collect();
        recent.push(claim);
        let over = recent.len().saturating_sub(Self::KEPT_MOST);
        recent.drain(..over);
        CidrClaims { version: self.version + 1, recent }
    }

    /// The claims of accounts other than `account` still within
    /// [`Self::KEPT_SECS`] of `now`, as the index lists accepted CIDRs. An
    /// older claim is the index's to show: a consumer revoked since must
    /// not block another for ever because no accept came after.
    pub fn others(
        &self,
        account: AccountId,
        now: Timestamp,
    ) -> impl Iterator<Item = (Cidr, AccountId, EndpointId)> + '_ {
        self.recent
            .iter()
            .filter(move |c| c.owner != account && c.kept_at(now))
            .flat_map(|c| c.cidrs.iter().map(move |cidr| (*cidr, c.owner, c.endpoint.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(n: u8, owner: &str, cidr: &str, at: i64) -> ClaimedCidrs {
        ClaimedCidrs {
            endpoint: format!("vpce-{n:017x}").parse().expect("endpoint"),
            owner: owner.parse().expect("account"),
            cidrs: vec![cidr.parse().expect("cidr")],
            at: Timestamp::from_unix(at),
        }
    }

    #[test]
    fn each_claim_moves_the_version_and_old_claims_fall_away() {
        let start = 1_800_000_000;
        let one = CidrClaims::default().after(claim(1, "111122223333", "10.0.0.0/16", start));
        assert_eq!(one.version, 1);
        let two = one.after(claim(2, "444455556666", "10.1.0.0/16", start + CidrClaims::KEPT_SECS));
        assert_eq!((two.version, two.recent.len()), (2, 2), "kept for exactly KEPT_SECS");
        let three = two.after(claim(3, "777788889999", "10.2.0.0/16", start + CidrClaims::KEPT_SECS + 1));
        assert_eq!(three.version, 3);
        let kept: Vec<&EndpointId> = three.recent.iter().map(|c| &c.endpoint).collect();
        assert_eq!(
            kept,
            [&two.recent[1].endpoint, &three.recent[1].endpoint],
            "the first is past the index's lag"
        );
    }

    #[test]
    fn a_claim_past_the_indexs_lag_counts_no_more_even_without_a_newer_claim() {
        let at = 1_800_000_000;
        let claims = CidrClaims::default().after(claim(1, "111122223333", "10.0.0.0/16", at));
        let other: AccountId = "444455556666".parse().expect("account");
        let later = |secs| claims.others(other, Timestamp::from_unix(at + secs)).count();
        assert_eq!((later(CidrClaims::KEPT_SECS), later(CidrClaims::KEPT_SECS + 1)), (1, 0));
    }

    #[test]
    fn a_busy_service_keeps_its_newest_claims_only() {
        let at = 1_800_000_000;
        let mut claims = CidrClaims::default();
        for n in 0..CidrClaims::KEPT_MOST + 5 {
            claims = claims.after(ClaimedCidrs {
                at: Timestamp::from_unix(at + n as i64 / 100),
                ..claim(1, "111122223333", "10.0.0.0/16", at)
            });
        }
        assert_eq!(claims.version, CidrClaims::KEPT_MOST as u64 + 5);
        assert_eq!(claims.recent.len(), CidrClaims::KEPT_MOST);
        assert_eq!(
            claims.recent.last().map(|c| c.at),
            Some(Timestamp::from_unix(at + 10)),
            "the newest stays"
        );
    }

    #[test]
    fn an_account_is_not_judged_against_its_own_claims() {
        let at = 1_800_000_000;
        let claims = CidrClaims::default().after(claim(1, "111122223333", "10.0.0.0/16", at)).after(claim(
            2,
            "444455556666",
            "10.1.0.0/16",
            at,
        ));
        let others: Vec<_> =
            claims.others("111122223333".parse().expect("account"), Timestamp::from_unix(at)).collect();
        assert_eq!(others.len(), 1);
        assert_eq!(others[0].0, "10.1.0.0/16".parse::<Cidr>().expect("cidr"));
        assert_eq!(others[0].1, "444455556666".parse::<AccountId>().expect("account"));
    }
}
