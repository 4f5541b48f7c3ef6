//! Regression: two processes opening a NEW database at the same moment (the crash soak's store
//! poll racing the binary's first run; `paper-digest report` during a first run) both read schema
//! version 0, and the loser's migration failed with "table papers already exists", so `Store::open`
//! failed (exit 2 for the binary) although the schema was complete.

use std::sync::{Arc, Barrier};

use paper_digest::store::Store;

#[test]
fn concurrent_first_open_does_not_fail_migration() {
    const OPENERS: usize = 4;
    for round in 0..40 {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(dir.path().join("digest.db"));
        let start = Arc::new(Barrier::new(OPENERS));
        let openers: Vec<_> = (0..OPENERS)
            .map(|_| {
                let (db, start) = (Arc::clone(&db), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    Store::open(&db).map(|_| ()).map_err(|e| e.to_string())
                })
            })
            .collect();
        for opener in openers {
            let opened = opener.join().unwrap();
            assert!(opened.is_ok(), "round {round}: {opened:?}");
        }
        assert!(Store::open(&db).unwrap().last_run_id().unwrap().is_none());
    }
}
