//! Inserting, reading and updating aggregates, and their history.

use inbound_store::{Kind, RecordChange, StoreError};
use serde_json::json;

use crate::fixture::{change_to, new_record, Fixture};

pub async fn insert_then_get_round_trips_every_field(fixture: &Fixture) {
    let store = fixture.open().await;
    let mut new = new_record(Kind::Lsps2Session, "session-1", 1_000);
    new.scid = Some(0x0001_0203_0004_0005);
    new.deadline_unix_ms = Some(61_000);
    new.body = json!({ "nested": { "list": [1, 2, 3], "text": "é€" }, "big": u64::MAX });
    let inserted = store.insert(new.clone(), json!({ "input": "buy" }), vec![]).await.expect("insert");
    assert_eq!(inserted.version, 1);
    assert_eq!(inserted.updated_at_unix_ms, 1_000);

    let stored = store.get(Kind::Lsps2Session, "session-1").await.expect("get").expect("the session exists");
    assert_eq!(stored, inserted);
    assert_eq!(stored.body, new.body);
    assert_eq!(stored.client_node_id.as_deref(), Some("client-a"));

    // Ids are per kind: the same id in another kind is another aggregate.
    assert_eq!(store.get(Kind::Lsps1Order, "session-1").await.expect("get"), None);
    store.insert(new_record(Kind::Lsps1Order, "session-1", 2_000), json!({}), vec![]).await.expect("insert");
    assert_eq!(store.get(Kind::Lsps2Session, "missing").await.expect("get"), None);
}

pub async fn duplicate_id_and_scid_are_refused_and_write_nothing(fixture: &Fixture) {
    let store = fixture.open().await;
    let mut first = new_record(Kind::Lsps2Session, "a", 1_000);
    first.scid = Some(42);
    store.insert(first.clone(), json!({}), vec![json!("open")]).await.expect("insert");

    let mut same_id = new_record(Kind::Lsps2Session, "a", 2_000);
    same_id.scid = Some(43);
    match store.insert(same_id, json!({}), vec![json!("effect of a failed insert")]).await {
        Err(StoreError::DuplicateId { kind: Kind::Lsps2Session, id }) => assert_eq!(id, "a"),
        other => panic!("expected DuplicateId, got {other:?}"),
    }
    let mut same_scid = new_record(Kind::Lsps2Session, "b", 2_000);
    same_scid.scid = Some(42);
    match store.insert(same_scid, json!({}), vec![json!("effect of a failed insert")]).await {
        Err(StoreError::DuplicateScid { kind: Kind::Lsps2Session, scid: 42 }) => {}
        other => panic!("expected DuplicateScid, got {other:?}"),
    }
    // Nothing of the failed inserts is visible: no row, no history, no effect.
    assert_eq!(store.get(Kind::Lsps2Session, "b").await.expect("get"), None);
    assert_eq!(store.history(Kind::Lsps2Session, "b").await.expect("history"), vec![]);
    assert_eq!(store.history(Kind::Lsps2Session, "a").await.expect("history").len(), 1);
    assert_eq!(store.pending_effects(100).await.expect("effects").strict().expect("no corrupt rows").len(), 1);
    let stored = store.get(Kind::Lsps2Session, "a").await.expect("get").expect("a exists");
    assert_eq!(stored.created_at_unix_ms, 1_000);

    // The same SCID in another kind is allowed; many rows may have no SCID.
    let mut order = new_record(Kind::Lsps1Order, "o", 3_000);
    order.scid = Some(42);
    store.insert(order, json!({}), vec![]).await.expect("scids are unique per kind only");
    store.insert(new_record(Kind::Lsps2Session, "c", 3_000), json!({}), vec![]).await.expect("no scid");
    store.insert(new_record(Kind::Lsps2Session, "d", 3_000), json!({}), vec![]).await.expect("no scid");

    // An update may not steal a SCID either.
    let mut steal = change_to("awaiting_payment", false, 4_000);
    steal.scid = Some(42);
    match store.update(Kind::Lsps2Session, "c", 1, steal, json!({}), vec![]).await {
        Err(StoreError::DuplicateScid { scid: 42, .. }) => {}
        other => panic!("expected DuplicateScid, got {other:?}"),
    }
    assert_eq!(store.get(Kind::Lsps2Session, "c").await.expect("get").map(|record| record.version), Some(1));
}

pub async fn update_bumps_version_and_records_history(fixture: &Fixture) {
    let store = fixture.open().await;
    store
        .insert(new_record(Kind::Lsps1Order, "o1", 1_000), json!({ "input": "create" }), vec![])
        .await
        .expect("insert");
    let mut paid = change_to("opening_channel", false, 2_000);
    paid.deadline_unix_ms = Some(9_000);
    let updated = store
        .update(Kind::Lsps1Order, "o1", 1, paid.clone(), json!({ "input": "paid" }), vec![])
        .await
        .expect("update");
    assert_eq!(updated.version, 2);
    assert_eq!(updated.state, "opening_channel");
    assert_eq!(updated.deadline_unix_ms, Some(9_000));
    assert_eq!(updated.created_at_unix_ms, 1_000);
    assert_eq!(updated.updated_at_unix_ms, 2_000);
    assert_eq!(updated.client_node_id.as_deref(), Some("client-a"), "the client never changes");
    assert_eq!(updated.body, paid.body);
    assert_eq!(store.get(Kind::Lsps1Order, "o1").await.expect("get"), Some(updated.clone()));

    let done = store
        .update(Kind::Lsps1Order, "o1", 2, change_to("completed", true, 3_000), json!({ "input": "opened" }), vec![])
        .await
        .expect("update");
    assert!(done.terminal);

    let history = store.history(Kind::Lsps1Order, "o1").await.expect("history");
    let trail: Vec<_> = history
        .iter()
        .map(|entry| (entry.seq, entry.from_state.as_deref(), entry.to_state.as_str(), entry.at_unix_ms))
        .collect();
    assert_eq!(
        trail,
        vec![
            (1, None, "awaiting_payment", 1_000),
            (2, Some("awaiting_payment"), "opening_channel", 2_000),
            (3, Some("opening_channel"), "completed", 3_000),
        ]
    );
    assert_eq!(history[1].detail, json!({ "input": "paid" }));
    assert!(history.iter().all(|entry| entry.kind == Kind::Lsps1Order && entry.id == "o1"));

    // A stale version or a missing aggregate changes nothing.
    match store.update(Kind::Lsps1Order, "o1", 2, change_to("x", false, 4_000), json!({}), vec![json!(1)]).await {
        Err(StoreError::Conflict { expected_version: 2, current_version: 3, .. }) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
    match store.update(Kind::Lsps1Order, "nope", 1, change_to("x", false, 4_000), json!({}), vec![]).await {
        Err(StoreError::NotFound { kind: Kind::Lsps1Order, id }) => assert_eq!(id, "nope"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(store.history(Kind::Lsps1Order, "o1").await.expect("history").len(), 3);
    assert!(store.pending_effects(10).await.expect("effects").items.is_empty());
}

pub async fn concurrent_updaters_of_one_version_have_exactly_one_winner(fixture: &Fixture) {
    let store = fixture.open().await;
    store.insert(new_record(Kind::Lsps2Session, "race", 1_000), json!({}), vec![]).await.expect("insert");
    let updaters = (0..8u64).map(|writer| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut change = change_to("forwarding", false, 2_000 + writer);
            change.body = json!({ "writer": writer });
            store.update(Kind::Lsps2Session, "race", 1, change, json!({ "writer": writer }), vec![json!(writer)]).await
        })
    });
    let mut winners = Vec::new();
    for (writer, handle) in updaters.enumerate() {
        match handle.await.expect("the task ran") {
            Ok(record) => winners.push((writer, record)),
            Err(StoreError::Conflict { current_version: 2, expected_version: 1, .. }) => {}
            Err(other) => panic!("writer {writer}: expected a win or a Conflict, got {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer wins: {winners:?}");
    let (writer, record) = &winners[0];
    assert_eq!(record.body, json!({ "writer": writer }));
    let stored = store.get(Kind::Lsps2Session, "race").await.expect("get").expect("exists");
    assert_eq!(stored.version, 2);
    assert_eq!(stored.body, json!({ "writer": writer }));
    assert_eq!(store.history(Kind::Lsps2Session, "race").await.expect("history").len(), 2);
    let effects = store.pending_effects(100).await.expect("effects").strict().expect("no corrupt rows");
    assert_eq!(effects.iter().map(|effect| effect.body.clone()).collect::<Vec<_>>(), vec![json!(writer)]);
}

pub async fn u64_extremes_round_trip_or_are_refused(fixture: &Fixture) {
    let store = fixture.open().await;
    let largest_millis = i64::MAX as u64;
    for (id, scid) in [("max", u64::MAX), ("above_i64", i64::MAX as u64 + 1), ("zero", 0)] {
        let mut new = new_record(Kind::Lsps2Session, id, largest_millis);
        new.scid = Some(scid);
        new.deadline_unix_ms = Some(largest_millis);
        let inserted = store.insert(new, json!({}), vec![]).await.expect("insert");
        let by_id = store.get(Kind::Lsps2Session, id).await.expect("get").expect("exists");
        assert_eq!(by_id, inserted);
        assert_eq!(by_id.scid, Some(scid));
        assert_eq!(by_id.deadline_unix_ms, Some(largest_millis));
        assert_eq!(by_id.created_at_unix_ms, largest_millis);
        let by_scid = store.get_by_scid(Kind::Lsps2Session, scid).await.expect("get by scid").expect("found");
        assert_eq!(by_scid.id, id);
    }
    let mut clash = new_record(Kind::Lsps2Session, "clash", 1);
    clash.scid = Some(u64::MAX);
    assert!(matches!(
        store.insert(clash, json!({}), vec![]).await,
        Err(StoreError::DuplicateScid { scid: u64::MAX, .. })
    ));
    assert_eq!(store.get_by_scid(Kind::Lsps2Session, u64::MAX - 1).await.expect("get by scid"), None);

    // Every deadline is due at the end of time.
    assert_eq!(store.list_due(Kind::Lsps2Session, u64::MAX).await.expect("due").items.len(), 3);
    assert_eq!(store.list_due(Kind::Lsps2Session, largest_millis - 1).await.expect("due").items.len(), 0);

    // Millisecond times the columns cannot hold are refused before anything is written.
    let mut too_late = new_record(Kind::Lsps2Session, "too_late", 1);
    too_late.deadline_unix_ms = Some(u64::MAX);
    assert!(matches!(
        store.insert(too_late, json!({}), vec![]).await,
        Err(StoreError::OutOfRange { field: "deadline_unix_ms", value: u64::MAX })
    ));
    assert_eq!(store.get(Kind::Lsps2Session, "too_late").await.expect("get"), None);
    let refused = RecordChange { at_unix_ms: u64::MAX, ..change_to("x", false, 0) };
    assert!(matches!(
        store.update(Kind::Lsps2Session, "zero", 1, refused, json!({}), vec![]).await,
        Err(StoreError::OutOfRange { field: "at_unix_ms", .. })
    ));
    assert!(matches!(store.complete_effect(1, u64::MAX).await, Err(StoreError::OutOfRange { .. })));
}
