//! Policy books kept across the warm invocations of one execution
//! environment, so that an event's decision can skip the read of its
//! policies and entries. Keeping one never makes a decision staler: its
//! claim checks every item the book was built from (`DynamoStore::create_on`).
//! The age limit bounds only what that check cannot see, a hand edit of an
//! item that leaves its stamp as it was.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use gate_app::ports::{BookItem, KeptBook};

/// How long a kept book is used without reading it again.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(60);

/// Books kept at most; a sweep reads many pairs at once and keeps none,
/// so this bounds only a stream of events from many accounts.
const MAX_BOOKS: usize = 64;

/// Each kept book by the items it was built from, with when it was read.
type Books = HashMap<Vec<BookItem>, (Instant, KeptBook)>;

/// The books kept. Clones share them.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeptBooks {
    books: Arc<Mutex<Books>>,
}

impl KeptBooks {
    /// The book built from exactly these items, when kept within `MAX_AGE` of `now`.
    pub(crate) fn get(&self, items: &[BookItem], now: Instant) -> Option<KeptBook> {
        let books = self.books.lock().unwrap_or_else(PoisonError::into_inner);
        let (read_at, kept) = books.get(items)?;
        (now.saturating_duration_since(*read_at) < MAX_AGE).then(|| kept.clone())
    }

    /// Keeps a book read at `read_at`; when full, every book kept before
    /// is dropped (they are one read each to get back).
    pub(crate) fn keep(&self, items: Vec<BookItem>, book: KeptBook, read_at: Instant) {
        let mut books = self.books.lock().unwrap_or_else(PoisonError::into_inner);
        if books.len() >= MAX_BOOKS && !books.contains_key(&items) {
            books.clear();
        }
        books.insert(items, (read_at, book));
    }

    /// Drops every kept book: one of their items was written.
    pub(crate) fn forget_all(&self) {
        self.books.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

#[cfg(test)]
mod tests {
    use gate_app::ports::BookStamps;
    use gate_core::{AccountId, PolicyBook, Principal, Scope};

    use super::*;

    fn items(account: u64) -> Vec<BookItem> {
        let principal = Principal::Account(account.to_string().parse::<AccountId>().expect("an account id"));
        vec![BookItem::Policy(Scope::Any), BookItem::Entry(Scope::Any, principal)]
    }

    fn book(stamp: &str) -> KeptBook {
        let stamps = BookStamps(vec![(BookItem::Policy(Scope::Any), Some(stamp.to_owned()))]);
        KeptBook { book: PolicyBook::default(), stamps }
    }

    fn stamp_of(kept: Option<KeptBook>) -> Option<String> {
        kept.and_then(|k| k.stamps.0.first().and_then(|(_, s)| s.clone()))
    }

    #[test]
    fn a_book_is_used_for_the_same_items_until_it_is_too_old() {
        let (kept, t0) = (KeptBooks::default(), Instant::now());
        kept.keep(items(210000000001), book("a"), t0);
        assert_eq!(stamp_of(kept.get(&items(210000000001), t0 + MAX_AGE / 2)).as_deref(), Some("a"));
        assert!(kept.get(&items(210000000002), t0).is_none(), "another account's items");
        assert!(kept.get(&items(210000000001), t0 + MAX_AGE).is_none(), "too old");
    }

    #[test]
    fn a_newer_read_replaces_the_book_and_a_write_forgets_them_all() {
        let (kept, t0) = (KeptBooks::default(), Instant::now());
        kept.keep(items(210000000001), book("a"), t0);
        kept.keep(items(210000000001), book("b"), t0);
        assert_eq!(stamp_of(kept.get(&items(210000000001), t0)).as_deref(), Some("b"));
        let shared = kept.clone();
        shared.forget_all();
        assert!(kept.get(&items(210000000001), t0).is_none(), "clones share the books");
    }

    #[test]
    fn the_books_kept_stay_bounded() {
        let (kept, t0) = (KeptBooks::default(), Instant::now());
        for n in 0..(MAX_BOOKS as u64 * 3) {
            kept.keep(items(210000000000 + n), book("a"), t0);
        }
        let held = kept.books.lock().unwrap_or_else(PoisonError::into_inner).len();
        assert!((1..=MAX_BOOKS).contains(&held), "{held} books kept");
        let last = items(210000000000 + MAX_BOOKS as u64 * 3 - 1);
        assert!(kept.get(&last, t0).is_some(), "the newest is kept");
    }
}
