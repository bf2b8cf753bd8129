//! The kernel on its own, with a two-effect flow: what happens to an effect that keeps failing
//! under each give-up rule, and to inputs that do not apply.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use inbound_store::{Kind, Store};
use lsps::schema::{DateTime, NodeId};
use serde::{Deserialize, Serialize};

use super::{Flow, FlowDriver, FlowRunner, GiveUp, Indexed, Outcome, RetryPolicy, TransitionError};
use crate::clock::{Clock, ManualClock};
use crate::server::BoxFuture;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Job {
    id: String,
    created_at: DateTime,
    /// `None` while working; the give-up input sets it.
    outcome: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum JobInput {
    Start,
    SendGaveUp,
    Finish,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum JobEffect {
    /// Given up into `SendGaveUp`.
    Send,
    /// Given up with a history note only.
    Log,
}

impl Flow for Job {
    const KIND: Kind = Kind::Lsps5Webhook;
    const NOUN: &'static str = "test job";
    type Input = JobInput;
    type Effect = JobEffect;
    type Context<'a> = DateTime;

    fn id(&self) -> String {
        self.id.clone()
    }

    fn client(&self) -> Option<NodeId> {
        None
    }

    fn created_at(&self) -> DateTime {
        self.created_at
    }

    fn indexed(&self, _now: DateTime) -> Indexed {
        let state = if self.outcome.is_some() { "done" } else { "working" };
        Indexed { state, terminal: self.outcome.is_some(), scid: None, deadline: None }
    }

    fn input_name(input: &JobInput) -> &'static str {
        match input {
            JobInput::Start => "start",
            JobInput::SendGaveUp => "send_gave_up",
            JobInput::Finish => "finish",
        }
    }

    fn effect_name(effect: &JobEffect) -> &'static str {
        match effect {
            JobEffect::Send => "send",
            JobEffect::Log => "log",
        }
    }

    fn step(&self, input: &JobInput, _now: DateTime) -> Result<(Job, Vec<JobEffect>), TransitionError> {
        let mut next = self.clone();
        match (input, &self.outcome) {
            (JobInput::Start, None) => Ok((next, vec![JobEffect::Send, JobEffect::Log])),
            (JobInput::SendGaveUp, None) => {
                next.outcome = Some("send given up".into());
                Ok((next, Vec::new()))
            }
            _ => Err(TransitionError { state: self.indexed(self.created_at).state, input: Self::input_name(input) }),
        }
    }

    fn give_up(effect: &JobEffect) -> GiveUp<JobInput> {
        match effect {
            JobEffect::Send => GiveUp::Feed(JobInput::SendGaveUp),
            JobEffect::Log => GiveUp::Record,
        }
    }
}

/// Fails every effect, counting the attempts.
#[derive(Default)]
struct Failing {
    attempts: AtomicU32,
}

impl FlowDriver<Job> for Failing {
    fn context(&self, _job: &Job, now: DateTime) -> DateTime {
        now
    }

    fn execute<'a>(&'a self, _job: &'a Job, _effect: &'a JobEffect) -> BoxFuture<'a, Outcome<JobInput>> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        Box::pin(std::future::ready(Outcome::Retry("endpoint down".into())))
    }
}

fn policy() -> RetryPolicy {
    RetryPolicy { base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(4), max_attempts: 3 }
}

#[tokio::test]
async fn effects_that_keep_failing_are_given_up_by_their_rule_and_the_flow_hears_of_it() {
    let store: Arc<dyn Store> = inbound_store::open("sqlite::memory:").await.expect("store");
    let clock = Arc::new(ManualClock::starting_now());
    let runner: FlowRunner<Job> = FlowRunner::new(Arc::clone(&store), Arc::clone(&clock) as Arc<dyn Clock>, policy());
    let driver = Failing::default();
    let job = Job { id: "j1".into(), created_at: clock.now(), outcome: None };
    runner.insert(&driver, &job, "create", None, Vec::new()).await.expect("insert");
    runner.run(&driver, [("j1".to_owned(), JobInput::Start)], false).await.expect("run");
    assert_eq!(driver.attempts.load(Ordering::SeqCst), 2, "both effects tried once");

    // Backoff 1 s, then 2 s; the third failure exhausts the policy.
    for wait in [1, 2] {
        clock.advance(wait);
        runner.run(&driver, [], true).await.expect("run");
    }
    assert_eq!(driver.attempts.load(Ordering::SeqCst), 6);
    assert!(store.pending_effects(10).await.expect("pending").items.is_empty(), "both given up");
    let job = runner.get("j1").await.expect("get").expect("job");
    assert_eq!(job.outcome.as_deref(), Some("send given up"), "the Feed rule stepped the flow");

    let history = store.history(Kind::Lsps5Webhook, "j1").await.expect("history");
    let notes: Vec<(&str, &str)> = history
        .iter()
        .filter_map(|entry| {
            let note = entry.detail.get("note")?;
            Some((entry.detail["input"].as_str()?, note["effect_given_up"].as_str()?))
        })
        .collect();
    assert_eq!(notes, [("send_gave_up", "send"), ("effect_given_up", "log")]);
    assert!(history.iter().all(|entry| entry.detail.get("note").is_none_or(|note| note["attempts"] == 3)));

    // Nothing runs again, and an input that does not apply writes nothing.
    clock.advance(3_600);
    runner.run(&driver, [("j1".to_owned(), JobInput::Finish)], true).await.expect("run");
    assert_eq!(driver.attempts.load(Ordering::SeqCst), 6);
    assert_eq!(store.history(Kind::Lsps5Webhook, "j1").await.expect("history").len(), history.len());
}

/// Completes every effect after a delay, recording the most effects in flight at once.
#[derive(Default)]
struct Slow {
    in_flight: AtomicU32,
    peak: AtomicU32,
    order: std::sync::Mutex<Vec<&'static str>>,
}

impl FlowDriver<Job> for Slow {
    fn context(&self, _job: &Job, now: DateTime) -> DateTime {
        now
    }

    fn execute<'a>(&'a self, _job: &'a Job, effect: &'a JobEffect) -> BoxFuture<'a, Outcome<JobInput>> {
        Box::pin(async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.order.lock().unwrap().push(Job::effect_name(effect));
            Outcome::Done
        })
    }
}

async fn run_two_jobs(concurrency: Option<usize>) -> Slow {
    let store: Arc<dyn Store> = inbound_store::open("sqlite::memory:").await.expect("store");
    let clock = Arc::new(ManualClock::starting_now());
    let mut runner: FlowRunner<Job> =
        FlowRunner::new(Arc::clone(&store), Arc::clone(&clock) as Arc<dyn Clock>, policy());
    if let Some(concurrency) = concurrency {
        runner = runner.with_concurrency(concurrency);
    }
    let driver = Slow::default();
    for id in ["j1", "j2"] {
        let job = Job { id: id.into(), created_at: clock.now(), outcome: None };
        runner.insert(&driver, &job, "create", None, vec![JobEffect::Send, JobEffect::Log]).await.expect("insert");
    }
    runner.run(&driver, [], true).await.expect("run");
    assert!(store.pending_effects(10).await.expect("pending").items.is_empty(), "every effect completed");
    driver
}

#[tokio::test]
async fn effects_run_one_at_a_time_in_outbox_order_unless_concurrency_is_allowed() {
    let sequential = run_two_jobs(None).await;
    assert_eq!(sequential.peak.load(Ordering::SeqCst), 1);
    assert_eq!(*sequential.order.lock().unwrap(), ["send", "log", "send", "log"]);
    let bounded = run_two_jobs(Some(3)).await;
    assert_eq!(bounded.peak.load(Ordering::SeqCst), 3, "at most three of the four at once");
    assert_eq!(bounded.order.lock().unwrap().len(), 4);
}
