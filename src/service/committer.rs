//! Group commit: one thread runs the write closures of many concurrent requests in ONE
//! redb write transaction and commits once (one fsync for the batch), then answers each
//! request, only after its writes are durable.
//!
//! A closure that fails (`Err`) may have written part of its changes; redb has no
//! savepoint inside a dirty transaction, so the whole batch is thrown away and every one
//! of its closures is run again in a transaction of its own (the closures are re-runnable):
//! nothing of a failed request is ever committed, and the others still commit.

use std::sync::mpsc;

use storage::{Store, Writer};
use tokio::sync::oneshot;

use super::Abort;

/// Most closures in one transaction.
pub const MAX_BATCH: usize = 512;

/// A write closure; it keeps its own result where its caller will read it.
pub type Job = Box<dyn FnMut(&mut Writer) -> Result<(), Abort> + Send>;

struct Pending {
    job: Job,
    done: oneshot::Sender<Result<(), Abort>>,
}

/// The sending side; the committer thread ends when every sender is gone.
#[derive(Debug, Clone)]
pub struct Committer {
    tx: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending")
    }
}

impl Committer {
    /// Starts the committer thread over `store`.
    pub fn start(store: Store) -> Result<Committer, std::io::Error> {
        let (tx, rx) = mpsc::channel::<Pending>();
        std::thread::Builder::new()
            .name("latchkey-commit".into())
            .spawn(move || run(&store, &rx))?;
        Ok(Committer { tx })
    }

    /// Runs `job` in the next batch; resolves once its writes are committed (or refused).
    pub async fn submit(&self, job: Job) -> Result<(), Abort> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Pending { job, done })
            .map_err(|_| Abort::Stopped)?;
        wait.await.unwrap_or(Err(Abort::Stopped))
    }
}

fn run(store: &Store, rx: &mpsc::Receiver<Pending>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let together = store.write(|w| {
            for p in batch.iter_mut() {
                (p.job)(w)?;
            }
            Ok::<(), Abort>(())
        });
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
                    let r = store.write(|w| (p.job)(w));
                    let _ = p.done.send(r);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Failure;
    use storage::{AccountState, UserRecord};

    fn user(id: &str) -> UserRecord {
        UserRecord {
            id: id.into(),
            num: 0,
            email: Some(format!("{id}@example.com")),
            username: Some(id.into()),
            display_name: None,
            first_name: None,
            last_name: None,
            role: "user".into(),
            password_hash: None,
            state: AccountState::Active,
            created_at: 0,
            updated_at: 0,
            last_login_at: None,
            mfa: None,
        }
    }

    #[tokio::test]
    async fn a_failing_job_commits_nothing_and_its_batch_mates_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let (tx, rx) = mpsc::channel::<Pending>();
        let mut waits = Vec::new();
        for (id, fail) in [("a", false), ("b", true), ("c", false)] {
            let (done, wait) = oneshot::channel();
            let job: Job = Box::new(move |w| {
                let mut u = user(id);
                u.num = w.allocate_user_num()?;
                w.insert_user(&u)?;
                if fail {
                    // Written, then refused: none of it may survive.
                    return Err(Abort::Refuse(Failure::Internal));
                }
                Ok(())
            });
            tx.send(Pending { job, done }).unwrap();
            waits.push(wait);
        }
        drop(tx);
        // All three are queued before the committer starts: one batch.
        let s2 = store.clone();
        std::thread::spawn(move || run(&s2, &rx)).join().unwrap();
        let results: Vec<bool> = futures_results(waits).await;
        assert_eq!(results, vec![true, false, true]);
        store
            .read(|r| {
                assert!(r.user("a")?.is_some() && r.user("c")?.is_some());
                assert!(r.user("b")?.is_none());
                assert!(r.user_id_by_email("b@example.com")?.is_none());
                Ok::<_, storage::StoreError>(())
            })
            .unwrap();
    }

    async fn futures_results(waits: Vec<oneshot::Receiver<Result<(), Abort>>>) -> Vec<bool> {
        let mut out = Vec::new();
        for w in waits {
            out.push(matches!(w.await, Ok(Ok(()))));
        }
        out
    }
}
