//! Vouchers on the LSPS1 service's fake node and an in-memory SQLite store: issue, claim
//! (once, by one node), delivery through a prepaid order, a failed order's voucher claimed
//! again, revocation, expiry and a restart.

use std::sync::Arc;
use std::time::Duration;

use lsps::lnurl::K1;
use lsps::schema::NodeId;
use serde_json::json;

use super::*;
use crate::lsps1::fake::{key, Call};
use crate::lsps1::order::Payment;
use crate::lsps1::service_tests::{setup, Setup};
use crate::lsps1::OrderEvent;

fn vouchers(s: &Setup) -> Arc<Vouchers> {
    Vouchers::new(Arc::clone(&s.store), Arc::clone(&s.clock) as Arc<dyn Clock>, Arc::clone(&s.service))
}

fn batch(count: u32) -> IssueRequest {
    IssueRequest {
        count,
        terms: VoucherTerms { lsp_balance_sat: 200_000, channel_expiry_blocks: 144 },
        valid_for: Duration::from_secs(3600),
        batch: "conference".into(),
    }
}

fn opens(s: &Setup) -> Vec<crate::lsps1::OrderOpen> {
    s.fake.calls().into_iter().filter_map(|call| if let Call::Open(open) = call { Some(open) } else { None }).collect()
}

fn order_of(voucher: &Voucher) -> String {
    match &voucher.status {
        VoucherStatus::Claimed { order_id, .. } => order_id.clone(),
        other => panic!("not claimed: {other:?}"),
    }
}

#[tokio::test]
async fn issued_vouchers_have_distinct_secrets_stored_only_as_hashes() {
    let s = setup().await;
    let v = vouchers(&s);
    let issued = v.issue(batch(3)).await.expect("issue");
    assert_eq!(issued.len(), 3);
    let mut secrets: Vec<K1> = issued.iter().map(|i| i.k1).collect();
    secrets.dedup();
    assert_eq!(secrets.len(), 3);
    for item in &issued {
        assert_eq!(item.voucher.id, voucher_id(&item.k1));
        let record = s.store.get(Kind::Voucher, &item.voucher.id).await.expect("store").expect("row");
        assert!(!record.body.to_string().contains(&item.k1.to_string()), "the k1 itself is never stored");
        assert_eq!(record.state, "issued");
    }
    assert_eq!(v.list(Some("issued".into()), 10, 0).await.expect("list").len(), 3);
}

#[tokio::test]
async fn bad_batches_are_refused_and_nothing_is_stored() {
    let s = setup().await;
    let v = vouchers(&s);
    assert!(matches!(v.issue(batch(0)).await, Err(VoucherError::Invalid(_))));
    assert!(matches!(v.issue(batch(MAX_VOUCHERS_PER_BATCH + 1)).await, Err(VoucherError::Invalid(_))));
    let label = IssueRequest { batch: "x".repeat(MAX_BATCH_LABEL_BYTES + 1), ..batch(1) };
    assert!(matches!(v.issue(label).await, Err(VoucherError::Invalid(_))));
    let forever = IssueRequest { valid_for: MAX_VOUCHER_VALIDITY + Duration::from_secs(1), ..batch(1) };
    assert!(matches!(v.issue(forever).await, Err(VoucherError::Invalid(_))));
    let huge =
        IssueRequest { terms: VoucherTerms { lsp_balance_sat: u64::MAX / 2, channel_expiry_blocks: 144 }, ..batch(1) };
    match v.issue(huge).await {
        Err(VoucherError::Terms(why)) => assert!(why.contains("lsp_balance_sat"), "{why}"),
        other => panic!("{other:?}"),
    }
    let long =
        IssueRequest { terms: VoucherTerms { lsp_balance_sat: 200_000, channel_expiry_blocks: u32::MAX }, ..batch(1) };
    assert!(matches!(v.issue(long).await, Err(VoucherError::Terms(_))));
    assert!(v.list(None, 10, 0).await.expect("list").is_empty());
}

#[tokio::test]
async fn a_claim_opens_one_prepaid_channel_for_the_claimer_only() {
    let s = setup().await;
    let v = vouchers(&s);
    let k1 = v.issue(batch(1)).await.expect("issue")[0].k1;
    let wallet = key(9);
    assert!(v.claimable(&k1).await.is_ok());
    let claimed = v.claim(&k1, NodeId(wallet), true).await.expect("claim");
    let order_id = order_of(&claimed);
    let order = s.service.order(&order_id).await.expect("store").expect("order");
    assert!(
        matches!(&order.status, OrderStatus::Opening { payment: Payment::Voucher { voucher }, .. } if *voucher == claimed.id)
    );
    assert_eq!((order.bolt11.is_none(), order.onchain.is_none(), order.fee_sat()), (true, true, None));
    let open = opens(&s);
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].client, open[0].capacity_sat, open[0].push_sat, open[0].announce), (wallet, 200_000, 0, false));

    // The wallet calling back again (its answer was lost): OK, the same order, no second open.
    let again = v.claim(&k1, NodeId(wallet), true).await.expect("repeat");
    assert_eq!(order_of(&again), order_id);
    assert_eq!(opens(&s).len(), 1);
    // Someone else with the same k1: refused.
    assert!(matches!(
        v.claim(&k1, NodeId(key(8)), true).await,
        Err(VoucherError::Refused(ClaimRefusal::AlreadyClaimed))
    ));
    // A guessed k1: unknown.
    assert!(matches!(v.claim(&K1([1; 32]), NodeId(wallet), true).await, Err(VoucherError::Unknown)));
    assert!(matches!(v.claimable(&K1([1; 32])).await, Err(VoucherError::Unknown)));

    let user_channel_id = open[0].user_channel_id;
    let event = OrderEvent::ChannelPending { user_channel_id, funding_outpoint: format!("{}:0", "ab".repeat(32)) };
    s.service.on_event(event).await.expect("event");
    let order = s.service.order(&order_id).await.expect("store").expect("order");
    assert_eq!(order.state_name(), "completed");
    let history = s.store.history(Kind::Voucher, &claimed.id).await.expect("history");
    let inputs: Vec<&str> = history.iter().filter_map(|entry| entry.detail["input"].as_str()).collect();
    assert_eq!(inputs, ["operator_issue", "claim"]);
}

#[tokio::test]
async fn a_voucher_whose_order_failed_is_claimable_again() {
    let s = setup().await;
    let v = vouchers(&s);
    let k1 = v.issue(batch(1)).await.expect("issue")[0].k1;
    *s.fake.refuse_opens.lock().expect("lock") = true;
    let first = order_of(&v.claim(&k1, NodeId(key(9)), false).await.expect("claim"));
    // The open keeps failing until the order's deadline: FAILED, nothing to refund.
    for _ in 0..40 {
        s.clock.advance(60);
        s.service.tick().await.expect("tick");
    }
    let failed = s.service.order(&first).await.expect("store").expect("order");
    assert_eq!(failed.state_name(), "failed");
    assert!(!s.fake.calls().iter().any(|call| matches!(call, Call::BuildRefund(..) | Call::Fail(_))));

    *s.fake.refuse_opens.lock().expect("lock") = false;
    s.fake.connect(key(8));
    assert!(v.claimable(&k1).await.is_ok());
    let second = v.claim(&k1, NodeId(key(8)), false).await.expect("claim again");
    assert_ne!(order_of(&second), first);
    assert_eq!(second.claims, 2);
    assert_eq!(opens(&s).last().map(|open| (open.client, open.announce)), Some((key(8), true)));
}

#[tokio::test]
async fn revoked_and_expired_vouchers_are_refused_with_their_reason() {
    let s = setup().await;
    let v = vouchers(&s);
    let issued = v.issue(batch(2)).await.expect("issue");
    let note = json!({ "actor": "operator" });
    assert_eq!(v.revoke(&issued[0].voucher.id, note.clone()).await.expect("revoke"), Applied::Done);
    assert!(matches!(
        v.claim(&issued[0].k1, NodeId(key(9)), true).await,
        Err(VoucherError::Refused(ClaimRefusal::Revoked))
    ));
    assert!(matches!(v.revoke(&issued[0].voucher.id, note.clone()).await.expect("again"), Applied::Refused(_)));
    assert_eq!(v.revoke("00", note).await.expect("unknown"), Applied::NotFound);

    s.clock.advance(3600);
    assert!(matches!(v.claimable(&issued[1].k1).await, Err(VoucherError::Refused(ClaimRefusal::Expired))));
    v.tick().await.expect("tick");
    let expired = v.get(&issued[1].voucher.id).await.expect("store").expect("voucher");
    assert_eq!(expired.state_name(), "expired");
    assert!(matches!(
        v.claim(&issued[1].k1, NodeId(key(9)), true).await,
        Err(VoucherError::Refused(ClaimRefusal::Expired))
    ));
    assert!(opens(&s).is_empty());
}

#[tokio::test]
async fn a_restart_keeps_claims_and_does_not_open_twice() {
    let s = setup().await;
    let v = vouchers(&s);
    let k1 = v.issue(batch(1)).await.expect("issue")[0].k1;
    let order_id = order_of(&v.claim(&k1, NodeId(key(9)), true).await.expect("claim"));
    let restarted = vouchers(&s);
    assert_eq!(restarted.resume().await.expect("resume"), 0, "a claimed voucher is not claimable by others");
    assert_eq!(order_of(&restarted.claim(&k1, NodeId(key(9)), true).await.expect("repeat")), order_id);
    assert_eq!(opens(&s).len(), 1);
}
