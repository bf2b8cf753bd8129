//! Listings, counts, the outbox and retention.

use inbound_store::{Kind, StoreError};
use serde_json::json;

use crate::fixture::{change_to, new_record, Fixture};

fn ids(records: &[inbound_store::Record]) -> Vec<&str> {
    records.iter().map(|record| record.id.as_str()).collect()
}

pub async fn listings_select_by_state_deadline_and_client(fixture: &Fixture) {
    let store = fixture.open().await;
    let kind = Kind::Lsps2Session;
    // (id, client, created, deadline, finished)
    let rows = [
        ("s1", "alice", 1_000, Some(5_000), false),
        ("s2", "alice", 2_000, Some(3_000), false),
        ("s3", "alice", 3_000, None, true),
        ("s4", "bob", 4_000, Some(4_000), false),
        ("s5", "bob", 5_000, Some(9_000), false),
    ];
    for (id, client, created, deadline, finished) in rows {
        let mut new = new_record(kind, id, created);
        new.client_node_id = Some(client.to_owned());
        new.deadline_unix_ms = deadline;
        store.insert(new, json!({}), vec![]).await.expect("insert");
        if finished {
            store.update(kind, id, 1, change_to("failed", true, created + 1), json!({}), vec![]).await.expect("finish");
        }
    }
    // Another kind with the same client never shows up.
    let mut order = new_record(Kind::Lsps1Order, "o1", 500);
    order.client_node_id = Some("alice".to_owned());
    order.deadline_unix_ms = Some(1);
    store.insert(order, json!({}), vec![]).await.expect("insert");

    let active = store.list_active(kind).await.expect("active").strict().expect("no corrupt rows");
    assert_eq!(ids(&active), ["s1", "s2", "s4", "s5"], "active, oldest first");

    let due = store.list_due(kind, 4_000).await.expect("due").strict().expect("no corrupt rows");
    assert_eq!(ids(&due), ["s2", "s4"], "deadline <= now, earliest first");
    assert_eq!(ids(&store.list_due(kind, 2_999).await.expect("due").items), Vec::<&str>::new());
    assert_eq!(ids(&store.list_due(kind, 10_000).await.expect("due").items), ["s2", "s4", "s1", "s5"]);

    assert_eq!(store.count_active_by_client(kind, "alice").await.expect("count"), 2);
    assert_eq!(store.count_active_by_client(kind, "bob").await.expect("count"), 2);
    assert_eq!(store.count_active_by_client(kind, "carol").await.expect("count"), 0);
    assert_eq!(store.count_active_by_client(Kind::Lsps1Order, "alice").await.expect("count"), 1);

    let alice = store.list_by_client(kind, "alice", 10).await.expect("by client").strict().expect("no corrupt");
    assert_eq!(ids(&alice), ["s3", "s2", "s1"], "terminal included, newest first");
    let latest = store.list_by_client(kind, "alice", 2).await.expect("by client").items;
    assert_eq!(ids(&latest), ["s3", "s2"]);
    assert!(store.list_by_client(kind, "alice", 0).await.expect("by client").items.is_empty());

    // Finishing a session takes it out of every active view.
    store.update(kind, "s2", 1, change_to("settled", true, 6_000), json!({}), vec![]).await.expect("finish");
    assert_eq!(ids(&store.list_due(kind, 4_000).await.expect("due").items), ["s4"]);
    assert_eq!(store.count_active_by_client(kind, "alice").await.expect("count"), 1);
}

pub async fn outbox_replays_until_completed_and_completion_is_idempotent(fixture: &Fixture) {
    let store = fixture.open().await;
    let kind = Kind::Lsps1Order;
    store
        .insert(new_record(kind, "o1", 1_000), json!({}), vec![json!("notify"), json!("reserve")])
        .await
        .expect("insert");
    store.update(kind, "o1", 1, change_to("paid", false, 2_000), json!({}), vec![json!("open")]).await.expect("update");
    store
        .insert(new_record(Kind::Lsps5Webhook, "w1", 3_000), json!({}), vec![json!({ "post": "x" })])
        .await
        .expect("w");

    let pending = store.pending_effects(100).await.expect("pending").strict().expect("no corrupt rows");
    let summary: Vec<_> = pending
        .iter()
        .map(|effect| (effect.kind, effect.aggregate_id.as_str(), effect.aggregate_version, effect.body.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (kind, "o1", 1, json!("notify")),
            (kind, "o1", 1, json!("reserve")),
            (kind, "o1", 2, json!("open")),
            (Kind::Lsps5Webhook, "w1", 1, json!({ "post": "x" })),
        ]
    );
    assert!(pending.windows(2).all(|pair| pair[0].effect_id < pair[1].effect_id), "oldest first");
    assert_eq!(pending[2].created_at_unix_ms, 2_000);
    assert_eq!(store.pending_effects(1).await.expect("pending").items, pending[..1].to_vec());

    store.complete_effect(pending[0].effect_id, 4_000).await.expect("complete");
    store.complete_effect(pending[0].effect_id, 5_000).await.expect("completing twice is fine");
    match store.complete_effect(i64::MAX, 5_000).await {
        Err(StoreError::EffectNotFound { effect_id: i64::MAX }) => {}
        other => panic!("expected EffectNotFound, got {other:?}"),
    }
    let completed_at = fixture
        .query_i64(&format!("SELECT completed_at_unix_ms FROM effects WHERE effect_id = {}", pending[0].effect_id))
        .await;
    assert_eq!(completed_at, 4_000, "the first completion time is kept");

    // The outbox survives a restart.
    drop(store);
    let store = fixture.open().await;
    let after_restart = store.pending_effects(100).await.expect("pending").strict().expect("no corrupt rows");
    assert_eq!(after_restart, pending[1..].to_vec());
    for effect in &after_restart {
        store.complete_effect(effect.effect_id, 6_000).await.expect("complete");
    }
    assert!(store.pending_effects(100).await.expect("pending").items.is_empty());

    // Ids are never reused, even after every effect completed.
    store.update(kind, "o1", 2, change_to("open", false, 7_000), json!({}), vec![json!("next")]).await.expect("update");
    let next = store.pending_effects(100).await.expect("pending").items;
    assert!(next[0].effect_id > pending[3].effect_id);
}

pub async fn retention_deletes_old_terminal_aggregates_without_pending_effects(fixture: &Fixture) {
    let store = fixture.open().await;
    let kind = Kind::Lsps2Session;
    for id in ["old_done", "old_done_effect_pending", "new_done", "old_active"] {
        store.insert(new_record(kind, id, 1_000), json!({}), vec![]).await.expect("insert");
    }
    store.update(kind, "old_done", 1, change_to("settled", true, 1_500), json!({}), vec![]).await.expect("finish");
    store
        .update(kind, "old_done_effect_pending", 1, change_to("failed", true, 1_500), json!({}), vec![json!("fail")])
        .await
        .expect("finish");
    store.update(kind, "new_done", 1, change_to("settled", true, 5_000), json!({}), vec![]).await.expect("finish");
    let mut other_kind = new_record(Kind::Lsps1Order, "old_done", 1_000);
    other_kind.terminal = true;
    store.insert(other_kind, json!({}), vec![]).await.expect("insert");

    assert_eq!(store.delete_terminal_before(kind, 2_000).await.expect("retention"), 1);
    assert_eq!(store.get(kind, "old_done").await.expect("get"), None);
    assert_eq!(store.history(kind, "old_done").await.expect("history"), vec![], "history goes with it");
    for kept in ["old_done_effect_pending", "new_done", "old_active"] {
        assert!(store.get(kind, kept).await.expect("get").is_some(), "{kept} is kept");
    }
    assert!(store.get(Kind::Lsps1Order, "old_done").await.expect("get").is_some(), "other kinds are untouched");

    // Once its effect is done, the aggregate and its effects can go.
    let effect = store.pending_effects(10).await.expect("pending").strict().expect("no corrupt")[0].clone();
    store.complete_effect(effect.effect_id, 2_500).await.expect("complete");
    assert_eq!(store.delete_terminal_before(kind, 2_000).await.expect("retention"), 1);
    assert_eq!(store.get(kind, "old_done_effect_pending").await.expect("get"), None);
    assert_eq!(fixture.query_i64("SELECT COUNT(*) FROM effects").await, 0);
    assert_eq!(store.delete_terminal_before(kind, 2_000).await.expect("retention"), 0);
}

pub async fn failed_effects_wait_for_their_retry_time_and_given_up_ones_never_return(fixture: &Fixture) {
    let store = fixture.open().await;
    let kind = Kind::Lsps2Session;
    store.insert(new_record(kind, "s1", 1_000), json!({}), vec![json!("open"), json!("notify")]).await.expect("insert");
    store.insert(new_record(Kind::Lsps1Order, "o1", 1_000), json!({}), vec![json!("refund")]).await.expect("insert");

    let due = store.due_effects(kind, 1_000, 10).await.expect("due").strict().expect("no corrupt rows");
    assert_eq!(due.iter().map(|e| e.body.clone()).collect::<Vec<_>>(), [json!("open"), json!("notify")], "one kind");
    assert_eq!((due[0].attempts, due[0].next_attempt_unix_ms, due[0].last_error.as_deref()), (0, None, None));
    let (open, notify) = (due[0].effect_id, due[1].effect_id);

    assert_eq!(store.retry_effect(open, 5_000, "peer offline").await.expect("retry"), 1);
    let due = store.due_effects(kind, 4_999, 10).await.expect("due").items;
    assert_eq!(due.iter().map(|e| e.effect_id).collect::<Vec<_>>(), [notify], "not before its retry time");
    let due = store.due_effects(kind, 5_000, 10).await.expect("due").items;
    assert_eq!(due[0].effect_id, open);
    assert_eq!((due[0].attempts, due[0].next_attempt_unix_ms), (1, Some(5_000)));
    assert_eq!(due[0].last_error.as_deref(), Some("peer offline"));
    assert_eq!(store.retry_effect(open, 9_000, "still offline").await.expect("retry"), 2);

    // The attempts survive a restart.
    drop(store);
    let store = fixture.open().await;
    let pending = store.pending_effects(10).await.expect("pending").items;
    let stored = pending.iter().find(|e| e.effect_id == open).expect("still pending");
    assert_eq!((stored.attempts, stored.next_attempt_unix_ms), (2, Some(9_000)));

    store.give_up_effect(open, 10_000, "gave up").await.expect("give up");
    store.give_up_effect(open, 11_000, "again").await.expect("giving up twice is fine");
    assert!(store.due_effects(kind, u64::MAX, 10).await.expect("due").items.iter().all(|e| e.effect_id != open));
    let given_up = fixture.query_i64(&format!("SELECT given_up FROM effects WHERE effect_id = {open}")).await;
    assert_eq!(given_up, 1);
    match store.retry_effect(open, 12_000, "late").await {
        Err(StoreError::EffectNotFound { .. }) => {}
        other => panic!("a given-up effect is not pending: {other:?}"),
    }
    match store.give_up_effect(i64::MAX, 1, "x").await {
        Err(StoreError::EffectNotFound { effect_id: i64::MAX }) => {}
        other => panic!("expected EffectNotFound, got {other:?}"),
    }
}

pub async fn concurrent_capped_inserts_of_one_client_stop_exactly_at_the_cap(fixture: &Fixture) {
    let store = fixture.open().await;
    let kind = Kind::Lsps1Order;
    const CAP: u64 = 5;
    // A finished aggregate of the client does not count; another client's do not either.
    let mut old = new_record(kind, "old", 1);
    old.client_node_id = Some("alice".into());
    store.insert(old, json!({}), vec![]).await.expect("insert");
    store.update(kind, "old", 1, change_to("failed", true, 2), json!({}), vec![]).await.expect("finish");
    let mut other = new_record(kind, "bob-1", 1);
    other.client_node_id = Some("bob".into());
    store.insert(other, json!({}), vec![]).await.expect("insert");

    let mut tasks = Vec::new();
    for n in 0..50 {
        let store = std::sync::Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut new = new_record(kind, &format!("a{n}"), 10 + n);
            new.client_node_id = Some("alice".into());
            store.insert_capped(new, CAP, json!({}), vec![json!("open")]).await
        }));
    }
    let (mut won, mut capped) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => won += 1,
            Err(StoreError::CapReached { cap: CAP, client_node_id, .. }) if client_node_id == "alice" => capped += 1,
            Err(error) => panic!("unexpected error: {error}"),
        }
    }
    assert_eq!((won, capped), (CAP, 50 - CAP));
    assert_eq!(store.count_active_by_client(kind, "alice").await.expect("count"), CAP);
    let effects = store.pending_effects(1_000).await.expect("pending").items;
    assert_eq!(effects.len() as u64, CAP, "a refused insert writes no effect");
    let history = fixture.query_i64("SELECT COUNT(*) FROM history WHERE id LIKE 'a%'").await;
    assert_eq!(history as u64, CAP, "nor history");

    // Bob is not affected, and a finished one frees a place.
    let mut bob = new_record(kind, "bob-2", 100);
    bob.client_node_id = Some("bob".into());
    store.insert_capped(bob, CAP, json!({}), vec![]).await.expect("another client");
    let first = store.list_by_client(kind, "alice", 100).await.expect("list").items;
    let done = first.iter().find(|r| !r.terminal).expect("an active one");
    store.update(kind, &done.id, 1, change_to("completed", true, 200), json!({}), vec![]).await.expect("finish");
    let mut again = new_record(kind, "a-again", 300);
    again.client_node_id = Some("alice".into());
    store.insert_capped(again, CAP, json!({}), vec![]).await.expect("room again");
}

pub async fn operator_search_filters_pages_and_counts_by_state(fixture: &Fixture) {
    use inbound_store::{Search, StateCount};
    let store = fixture.open().await;
    let kind = Kind::Lsps1Order;
    // (id, client, created, final state)
    let rows = [
        ("order-aa11", "alice", 1_000, None),
        ("order-bb22", "alice", 2_000, Some("completed")),
        ("order-cc33", "bob", 3_000, Some("completed")),
        ("ORDER-dd%4", "bob", 4_000, Some("failed")),
        ("order-ee55", "carol", 5_000, None),
    ];
    for (id, client, created, finished) in rows {
        let mut new = new_record(kind, id, created);
        new.client_node_id = Some(client.to_owned());
        store.insert(new, json!({}), vec![]).await.expect("insert");
        if let Some(state) = finished {
            store.update(kind, id, 1, change_to(state, true, created + 1), json!({}), vec![]).await.expect("finish");
        }
    }
    let mut other = new_record(Kind::Lsps2Session, "order-ff66", 6_000);
    other.client_node_id = Some("alice".to_owned());
    store.insert(other, json!({}), vec![]).await.expect("another kind");

    let found = |search: Search| {
        let store = &store;
        async move { store.search(&search).await.expect("search").strict().expect("no corrupt rows") }
    };
    let all = found(Search::new(kind, 100)).await;
    assert_eq!(
        ids(&all),
        ["order-ee55", "ORDER-dd%4", "order-cc33", "order-bb22", "order-aa11"],
        "newest first, one kind"
    );
    let completed = found(Search { state: Some("completed".into()), ..Search::new(kind, 100) }).await;
    assert_eq!(ids(&completed), ["order-cc33", "order-bb22"]);
    let unfinished = found(Search { terminal: Some(false), ..Search::new(kind, 100) }).await;
    assert_eq!(ids(&unfinished), ["order-ee55", "order-aa11"]);
    let bobs = found(Search { client_node_id: Some("bob".into()), ..Search::new(kind, 100) }).await;
    assert_eq!(ids(&bobs), ["ORDER-dd%4", "order-cc33"]);
    let window = found(Search {
        created_from_unix_ms: Some(2_000),
        created_before_unix_ms: Some(4_000),
        ..Search::new(kind, 100)
    })
    .await;
    assert_eq!(ids(&window), ["order-cc33", "order-bb22"], "from is inclusive, before exclusive");
    let text = found(Search { id_contains: Some("DD%".into()), ..Search::new(kind, 100) }).await;
    assert_eq!(ids(&text), ["ORDER-dd%4"], "case-insensitive, % literal");
    let wildcard = found(Search { id_contains: Some("_".into()), ..Search::new(kind, 100) }).await;
    assert!(wildcard.is_empty(), "_ is literal: {:?}", ids(&wildcard));
    let page = found(Search { limit: 2, offset: 1, ..Search::new(kind, 100) }).await;
    assert_eq!(ids(&page), ["ORDER-dd%4", "order-cc33"]);
    let combined = found(Search {
        state: Some("completed".into()),
        client_node_id: Some("alice".into()),
        ..Search::new(kind, 100)
    })
    .await;
    assert_eq!(ids(&combined), ["order-bb22"]);

    let counts = store.count_by_state(kind).await.expect("counts");
    let expected = [("awaiting_payment", false, 2), ("completed", true, 2), ("failed", true, 1)]
        .map(|(state, terminal, count)| StateCount { state: state.into(), terminal, count });
    assert_eq!(counts, expected);
    assert!(store.count_by_state(Kind::HeldHtlc).await.expect("counts").is_empty());
}

pub async fn clients_are_listed_by_last_activity_with_counts_per_kind(fixture: &Fixture) {
    use inbound_store::KindCount;
    let store = fixture.open().await;
    // (kind, id, client, created, finished at)
    let rows = [
        (Kind::Lsps1Order, "o1", "alice", 1_000, Some(1_500)),
        (Kind::Lsps1Order, "o2", "alice", 2_000, None),
        (Kind::Lsps2Session, "s1", "alice", 3_000, None),
        (Kind::Lsps1Order, "o3", "bob", 4_000, Some(9_000)),
    ];
    for (kind, id, client, created, finished) in rows {
        let mut new = new_record(kind, id, created);
        new.client_node_id = Some(client.to_owned());
        store.insert(new, json!({}), vec![]).await.expect("insert");
        if let Some(at) = finished {
            store.update(kind, id, 1, change_to("completed", true, at), json!({}), vec![]).await.expect("finish");
        }
    }
    let mut anonymous = new_record(Kind::Lsps1Order, "o4", 5_000);
    anonymous.client_node_id = None;
    store.insert(anonymous, json!({}), vec![]).await.expect("insert");

    let clients = store.clients(10, 0).await.expect("clients");
    let names: Vec<&str> = clients.iter().map(|client| client.client_node_id.as_str()).collect();
    assert_eq!(names, ["bob", "alice"], "most recently active first; flows without a client are not listed");
    assert_eq!(clients[0].last_activity_unix_ms, 9_000);
    assert_eq!(clients[0].counts, [KindCount { kind: Kind::Lsps1Order, total: 1, active: 0 }]);
    assert_eq!(
        clients[1].counts,
        [
            KindCount { kind: Kind::Lsps2Session, total: 1, active: 1 },
            KindCount { kind: Kind::Lsps1Order, total: 2, active: 1 },
        ]
    );
    let page = store.clients(1, 1).await.expect("page");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].client_node_id, "alice");
}
