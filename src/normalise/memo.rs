//! A process-wide memo for the pure, parser-backed normalisations: a large schema repeats the
//! same type names and default expressions tens of thousands of times, and every libpg_query
//! call encodes and decodes a protobuf tree. Entries are never evicted; a schema's distinct
//! spellings number in the hundreds.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

pub struct Memo<T> {
    map: OnceLock<Mutex<HashMap<String, T>>>,
}

impl<T> Memo<T> {
    pub const fn new() -> Self {
        Self {
            map: OnceLock::new(),
        }
    }
}

/// `compute(key)`, computed once per distinct key.
pub fn memoised<T: Clone>(memo: &Memo<T>, key: &str, compute: fn(&str) -> T) -> T {
    let map = memo.map.get_or_init(Default::default);
    if let Some(hit) = map.lock().unwrap_or_else(|e| e.into_inner()).get(key) {
        return hit.clone();
    }
    let value = compute(key);
    map.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key.to_owned(), value.clone());
    value
}

/// `compute()`, computed once per distinct `key` (for results that depend on more than one
/// text: the key joins them).
pub fn memoised_with<T: Clone>(memo: &Memo<T>, key: &str, compute: impl FnOnce() -> T) -> T {
    let map = memo.map.get_or_init(Default::default);
    if let Some(hit) = map.lock().unwrap_or_else(|e| e.into_inner()).get(key) {
        return hit.clone();
    }
    let value = compute();
    map.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key.to_owned(), value.clone());
    value
}
