//! Group commit, the redb backend's own detail: one thread runs the write closures of
//! many concurrent requests in ONE redb write transaction and commits once (one fsync for
//! the batch), then answers each request, only after its writes are durable.
//!
//! - A refusal is a closure's *value*, not an error: it commits with its batch (a
//!   closure refuses before it writes, or writes what its refusal must record). So no
//!   request can throw its batch-mates' work away at will.
//! - Only a store error or an internal error ([`Abort`]) aborts the batch: redb has no
//!   savepoint inside a dirty transaction, so each closure then runs again in a
//!   transaction of its own (the closures are re-runnable) and only the failing one fails.
//! - A panic in a closure is contained: the batch is aborted, the others re-run, the
//!   panicking one fails alone, and the thread lives on.
//! - The queue is bounded ([`MAX_QUEUE`]; beyond it a request is shed with a 503), and a
//!   job whose request has gone away (timed out, client gone) is skipped unrun.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use tokio::sync::oneshot;

use crate::store::RedbStore;
use crate::tx::Write;
use crate::StoreError;

/// Why a job gave up its writes.
#[derive(Debug)]
pub enum Abort {
    /// The store failed.
    Store(StoreError),
    /// Something else failed (randomness, signing, sealing); already logged.
    Internal,
    /// The job panicked (contained).
    Panicked,
}

impl From<StoreError> for Abort {
    fn from(e: StoreError) -> Self {
        Abort::Store(e)
    }
}

/// Most closures in one transaction.
pub const MAX_BATCH: usize = 512;
/// Most closures waiting for the committer; beyond: shed.
pub const MAX_QUEUE: usize = 4 * MAX_BATCH;

/// A write closure; it keeps its own result where its caller will read it.
pub type Job = Box<dyn FnMut(&mut dyn Write) -> Result<(), Abort> + Send>;

struct Pending {
    job: Job,
    done: oneshot::Sender<Result<(), Abort>>,
}

/// Why a job was not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The queue is full: shed the request.
    Full,
    /// The committer thread is gone.
    Stopped,
}

/// The sending side; the committer thread ends when every sender is gone.
#[derive(Debug, Clone)]
pub struct Committer {
    tx: mpsc::SyncSender<Pending>,
    alive: Arc<AtomicBool>,
    store_ok: Arc<AtomicBool>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending")
    }
}

/// Clears `alive` when the committer thread ends, however it ends.
struct Alive(Arc<AtomicBool>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Committer {
    /// Starts the committer thread over `store`.
    pub fn start(store: RedbStore) -> Result<Committer, std::io::Error> {
        let (tx, rx) = mpsc::sync_channel::<Pending>(MAX_QUEUE);
        let alive = Arc::new(AtomicBool::new(true));
        let store_ok = Arc::new(AtomicBool::new(true));
        let guard = Alive(alive.clone());
        let ok = store_ok.clone();
        std::thread::Builder::new()
            .name("latchkey-commit".into())
            .spawn(move || {
                let _guard = guard;
                run(&store, &rx, &ok);
            })?;
        Ok(Committer {
            tx,
            alive,
            store_ok,
        })
    }

    /// Whether the committer thread runs and its last transaction reached the store (a
    /// store that fails its writes is not healthy).
    pub fn healthy(&self) -> bool {
        self.alive.load(Ordering::Acquire) && self.store_ok.load(Ordering::Acquire)
    }

    /// Runs `job` in the next batch; resolves once its writes are committed (or it
    /// failed). Dropping the future before then lets the committer skip the job.
    pub async fn submit(&self, job: Job) -> Result<Result<(), Abort>, Refused> {
        let (done, wait) = oneshot::channel();
        self.tx
            .try_send(Pending { job, done })
            .map_err(|e| match e {
                mpsc::TrySendError::Full(_) => Refused::Full,
                mpsc::TrySendError::Disconnected(_) => Refused::Stopped,
            })?;
        wait.await.map_err(|_| Refused::Stopped)
    }
}

/// Runs one job, a panic in it becoming [`Abort::Panicked`].
fn run_job(p: &mut Pending, w: &mut dyn Write) -> Result<(), Abort> {
    catch_unwind(AssertUnwindSafe(|| (p.job)(w))).unwrap_or(Err(Abort::Panicked))
}

fn run(store: &RedbStore, rx: &mpsc::Receiver<Pending>, store_ok: &AtomicBool) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        // Nobody waits for these any more: their requests timed out or went away.
        batch.retain(|p| !p.done.is_closed());
        if batch.is_empty() {
            continue;
        }
        let together = catch_unwind(AssertUnwindSafe(|| {
            store.write(|w| {
                for p in batch.iter_mut() {
                    run_job(p, w)?;
                }
                Ok::<(), Abort>(())
            })
        }))
        .unwrap_or(Err(Abort::Panicked));
        store_ok.store(!matches!(together, Err(Abort::Store(_))), Ordering::Release);
        match together {
            Ok(()) => {
                for p in batch {
                    let _ = p.done.send(Ok(()));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some(p) = batch.pop() {
                    let _ = p.done.send(Err(e));
                }
            }
            Err(_) => {
                // One of them failed: each on its own, so only the failing one fails.
                for mut p in batch {
                    let r = catch_unwind(AssertUnwindSafe(|| store.write(|w| run_job(&mut p, w))))
                        .unwrap_or(Err(Abort::Panicked));
                    let _ = p.done.send(r);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::Read;
    use crate::UnixMillis;
    use crate::UserRecord;

    fn user(id: &str) -> UserRecord {
        UserRecord {
            email: Some(format!("{id}@example.com")),
            username: Some(id.into()),
            ..UserRecord::new(id.into(), UnixMillis::from_millis(0))
        }
    }

    enum Then {
        Commit,
        Fail,
        Panic,
    }

    /// Queues jobs before the committer starts (so they form one batch), runs it, and
    /// says which committed.
    fn one_batch(store: &RedbStore, jobs: Vec<(&'static str, Then)>) -> Vec<bool> {
        let (tx, rx) = mpsc::sync_channel::<Pending>(16);
        let mut waits = Vec::new();
        for (id, then) in jobs {
            let (done, wait) = oneshot::channel();
            let job: Job = Box::new(move |w| {
                let mut u = user(id);
                u.num = w.allocate_user_num()?;
                w.insert_user(&u)?;
                match then {
                    Then::Commit => Ok(()),
                    // Written, then failed: none of it may survive.
                    Then::Fail => Err(Abort::Internal),
                    Then::Panic => panic!("a bug in one request"),
                }
            });
            tx.send(Pending { job, done }).unwrap();
            waits.push(wait);
        }
        drop(tx);
        let s2 = store.clone();
        std::thread::spawn(move || run(&s2, &rx, &AtomicBool::new(true)))
            .join()
            .unwrap();
        waits
            .into_iter()
            .map(|mut w| matches!(w.try_recv(), Ok(Ok(()))))
            .collect()
    }

    fn exists(store: &RedbStore, id: &str) -> bool {
        store
            .read(|r| Ok::<_, StoreError>(r.user(id)?.is_some()))
            .unwrap()
    }

    #[test]
    fn a_failing_job_commits_nothing_and_its_batch_mates_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let r = one_batch(
            &store,
            vec![("a", Then::Commit), ("b", Then::Fail), ("c", Then::Commit)],
        );
        assert_eq!(r, vec![true, false, true]);
        assert!(exists(&store, "a") && exists(&store, "c"));
        assert!(!exists(&store, "b"));
        store
            .read(|r| {
                assert!(r.user_id_by_email("b@example.com")?.is_none());
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }

    #[test]
    fn a_panicking_job_fails_alone_and_the_committer_lives_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let r = one_batch(
            &store,
            vec![("a", Then::Commit), ("b", Then::Panic), ("c", Then::Commit)],
        );
        assert_eq!(r, vec![true, false, true]);
        assert!(!exists(&store, "b"));
        // The store still takes writes.
        assert_eq!(one_batch(&store, vec![("d", Then::Commit)]), vec![true]);
    }

    #[tokio::test]
    async fn abandoned_jobs_are_skipped_and_the_queue_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let (tx, rx) = mpsc::sync_channel::<Pending>(1);
        let (done, wait) = oneshot::channel();
        tx.send(Pending {
            job: Box::new(|w| {
                w.insert_user(&user("gone"))?;
                Ok(())
            }),
            done,
        })
        .unwrap();
        drop(wait); // the request went away
        let c = Committer {
            tx: tx.clone(),
            alive: Arc::new(AtomicBool::new(true)),
            store_ok: Arc::new(AtomicBool::new(true)),
        };
        // The queue (of one) is full: the next job is shed, not queued.
        assert_eq!(
            c.submit(Box::new(|_| Ok(()))).await.err(),
            Some(Refused::Full)
        );
        drop((tx, c));
        let s2 = store.clone();
        std::thread::spawn(move || run(&s2, &rx, &AtomicBool::new(true)))
            .join()
            .unwrap();
        assert!(!exists(&store, "gone"));
    }
}
